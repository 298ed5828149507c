// Drives reloads while readers run: publishes revisions 2..N (and a bad
// candidate between each: torn, failing tests, syntax error, older),
// reloading after
// each, and records which revisions were really activated. Shared by the
// engine-level concurrency test (run under ThreadSanitizer) and the
// gRPC-level load test.
#ifndef IMPORTGATE_TESTS_TESTING_RELOAD_DRIVER_H_
#define IMPORTGATE_TESTS_TESTING_RELOAD_DRIVER_H_

#include <functional>
#include <set>
#include <string>

#include "server/bundle/artifact.h"
#include "server/bundle/manager.h"
#include "tests/testing/test_bundles.h"

namespace importgate::testing {

// Puts one candidate, a packed bundle's bytes, where the manager reads it.
using PublishFunction = std::function<void(const std::string& packed)>;

// Publishes with `publish` and reloads through `manager`; returns the set
// of revisions activated (the starting one included). Reports a gtest
// failure when a good candidate is not activated or a bad one is.
inline std::set<uint64_t> PublishRevisions(bundle::BundleManager* manager,
                                           const PublishFunction& publish,
                                           uint64_t first, uint64_t last) {
  std::set<uint64_t> activated = {first};
  for (uint64_t r = first + 1; r <= last; ++r) {
    std::string good = PackedSmallBundle(r);
    std::string bad;
    switch (r % 4) {
      case 0:
        bad = good.substr(0, good.size() - 7);  // torn write
        break;
      case 1:
        bad = PackedSmallBundle(r, /*failing_test=*/true);
        break;
      case 2:
        bad = bundle::PackArtifact(BundleFiles(TestManifest(r), "rules {"),
                                   "test", r, absl::UnixEpoch(), "test");
        break;
      default:
        bad = PackedSmallBundle(r - 2);  // an older revision
        break;
    }
    publish(bad);
    EXPECT_EQ(manager->Reload().outcome,
              bundle::ReloadResult::Outcome::kRefused)
        << "bad candidate before revision " << r;
    publish(good);
    bundle::ReloadResult result = manager->Reload();
    EXPECT_EQ(result.outcome, bundle::ReloadResult::Outcome::kActivated)
        << result.message;
    activated.insert(r);
  }
  return activated;
}

// PublishRevisions into one packed file, replaced atomically.
inline std::set<uint64_t> PublishRevisions(bundle::BundleManager* manager,
                                           const std::string& source,
                                           uint64_t first, uint64_t last) {
  return PublishRevisions(
      manager,
      [&source](const std::string& packed) {
        EXPECT_TRUE(bundle::WriteFileAtomically(source, packed).ok());
      },
      first, last);
}

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_RELOAD_DRIVER_H_
