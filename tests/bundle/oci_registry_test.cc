// Tests for server/bundle/oci_registry.h against a real registry (Debian's
// docker-registry on loopback): references, push then pull, a pull that
// costs one 304 while the tag stands still, pinning by digest, TLS with a
// test CA, manifests that are not an importgate bundle; bytes that do not
// match their digests (served by nginx posing as a registry, since a real
// one never serves them); and the manager polling a registry.
#include "server/bundle/oci_registry.h"

#include <crypt.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/bundle/artifact.h"
#include "server/bundle/manager.h"
#include "server/bundle/signing.h"
#include "server/bundle/source.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/nginx.h"
#include "tests/testing/registry.h"
#include "tests/testing/test_bundles.h"
#include "tests/testing/test_pki.h"

namespace importgate::bundle {
namespace {

namespace fs = std::filesystem;
namespace it = ::importgate::testing;
using ::testing::HasSubstr;
using ::testing::Not;
using Outcome = ReloadResult::Outcome;

TEST(OciReferenceTest, ParsesTagsAndDigests) {
  const std::string digest = absl::StrCat("sha256:", std::string(64, 'a'));
  const struct {
    std::string spec;
    OciReference want;
  } good[] = {
      {"oci://127.0.0.1:5000/bundles/marketplace-id:latest",
       {"127.0.0.1:5000", "bundles/marketplace-id", "latest", ""}},
      {"OCI://registry.example.com/a/b/c:v1.2-rc_3",
       {"registry.example.com", "a/b/c", "v1.2-rc_3", ""}},
      {"oci://r.example/x__y.z--w:T", {"r.example", "x__y.z--w", "T", ""}},
      {"oci://[::1]:5000/b@sha256:" + std::string(64, 'a'),
       {"[::1]:5000", "b", "", digest}},
  };
  for (const auto& c : good) {
    auto parsed = ParseOciReference(c.spec, "--bundle");
    ASSERT_TRUE(parsed.ok()) << c.spec << ": " << parsed.status();
    EXPECT_EQ(parsed->registry, c.want.registry) << c.spec;
    EXPECT_EQ(parsed->repository, c.want.repository) << c.spec;
    EXPECT_EQ(parsed->tag, c.want.tag) << c.spec;
    EXPECT_EQ(parsed->digest, c.want.digest) << c.spec;
    EXPECT_TRUE(IsOciReference(c.spec));
  }
  EXPECT_EQ(ParseOciReference("oci://h:1/a/b:t", "f")->ToString(),
            "oci://h:1/a/b:t");
  EXPECT_EQ(ParseOciReference("oci://h/a@" + digest, "f")->ToString(),
            "oci://h/a@" + digest);
}

TEST(OciReferenceTest, RefusesMalformedOnesNamingTheFlag) {
  const struct {
    std::string spec;
    const char* why;
  } bad[] = {
      {"https://h/a:t", "not an oci:// reference"},
      {"oci://h", "no repository"},
      {"oci://h/:t", "no repository"},
      {"oci://h/a", "no tag or digest"},
      {"oci://h/a:", "the tag"},
      {"oci://h/a:-x", "the tag"},
      {"oci://h/a:" + std::string(129, 't'), "the tag"},
      {"oci://h/Upper:t", "the repository"},
      {"oci://h/a//b:t", "the repository"},
      {"oci://h/a./b:t", "the repository"},
      {"oci://h/a..b:t", "the repository"},
      {"oci://h/a@sha256:abc", "the digest"},
      {"oci://h/a@sha512:" + std::string(64, 'a'), "the digest"},
      {"oci://h/a@sha256:" + std::string(64, 'A'), "the digest"},
      {"oci://user:secret@h/a:t", "credentials, a query or a fragment"},
      {"oci://h/a:t?x=secret", "credentials, a query or a fragment"},
      {"oci://h/a:t#f", "credentials, a query or a fragment"},
      {"oci://h_x/a:t", "registry host"},
  };
  for (const auto& c : bad) {
    auto parsed = ParseOciReference(c.spec, "--bundle");
    ASSERT_FALSE(parsed.ok()) << c.spec;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr("--bundle: ")) << c.spec;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.why)) << c.spec;
    EXPECT_THAT(parsed.status().message(), ::testing::Not(HasSubstr("secret")))
        << c.spec;
  }
}

// An upload continues only on the registry's own scheme, host and port.
TEST(UploadLocationTest, StaysOnTheRegistrysOrigin) {
  const std::string post = "https://r.example:5000/v2/b/blobs/uploads/";
  const struct {
    std::string location, want;  // want "": refused
  } cases[] = {
      {"/v2/b/blobs/uploads/u1?_state=x",
       "https://r.example:5000/v2/b/blobs/uploads/u1?_state=x"},
      {"https://r.example:5000/v2/b/blobs/uploads/u2",
       "https://r.example:5000/v2/b/blobs/uploads/u2"},
      {"u3", "https://r.example:5000/v2/b/blobs/uploads/u3"},
      {"HTTPS://R.EXAMPLE:5000/v2/b/blobs/uploads/u4",  // the same origin
       "https://R.EXAMPLE:5000/v2/b/blobs/uploads/u4"},
      {"http://r.example:5000/v2/b/blobs/uploads/u5", ""},  // downgrade
      {"https://elsewhere.example:5000/v2/b/blobs/uploads/u6", ""},
      {"https://r.example:5001/v2/b/blobs/uploads/u7", ""},
      {"https://r.example/v2/b/blobs/uploads/u8", ""},  // port 443
      {"", ""},
  };
  for (const auto& c : cases) {
    auto resolved = UploadLocation(post, c.location);
    if (c.want.empty()) {
      ASSERT_FALSE(resolved.ok()) << c.location << " -> " << *resolved;
      EXPECT_EQ(resolved.status().code(), absl::StatusCode::kUnavailable);
      EXPECT_THAT(resolved.status().message(), HasSubstr(post));
    } else {
      ASSERT_TRUE(resolved.ok()) << c.location << ": " << resolved.status();
      EXPECT_EQ(*resolved, c.want);
    }
  }
}

// A registry, and signed bundles to push to it.
class OciRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = it::WriteBundleDirectory({});
    registry_ = std::make_unique<it::Registry>(dir_ + "/registry");
    ASSERT_NE(registry_->port(), 0);
    reference_ = registry_->Reference("bundles/marketplace-id:live");
    ASSERT_TRUE(GenerateKeyPair(dir_ + "/k.key.pem", dir_ + "/k.pub.pem").ok());
    auto key = SigningKey::FromPemFile(dir_ + "/k.key.pem");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = std::make_unique<SigningKey>(*std::move(key));
    plain_.plain_http = true;
    plain_.timeout = absl::Seconds(10);
  }
  void TearDown() override {
    registry_.reset();
    fs::remove_all(dir_);
  }

  OciPush Signed(uint64_t revision) {
    OciPush push;
    push.artifact = it::PackedSmallBundle(revision);
    push.signatures = it::SignatureText(*key_, push.artifact);
    push.title = "marketplace-id.igb";
    push.annotations = {
        {"org.opencontainers.image.version", absl::StrCat(revision)}};
    return push;
  }
  std::string Push(const OciPush& push, const std::string& spec) {
    auto reference = ParseOciReference(spec, "push");
    EXPECT_TRUE(reference.ok()) << reference.status();
    if (!reference.ok()) return "";
    auto digest = PushBundle(*reference, push, plain_);
    EXPECT_TRUE(digest.ok()) << digest.status();
    return digest.ok() ? *digest : "";
  }
  std::unique_ptr<OciFetcher> Fetcher(const std::string& spec,
                                      RemoteOptions options) {
    auto fetcher = OciFetcher::Create(spec, std::move(options));
    EXPECT_TRUE(fetcher.ok()) << fetcher.status();
    return fetcher.ok() ? *std::move(fetcher) : nullptr;
  }

  std::string dir_, reference_;
  std::unique_ptr<it::Registry> registry_;
  std::unique_ptr<SigningKey> key_;
  RemoteOptions plain_;
};

TEST_F(OciRegistryTest, APushedBundleIsPulledWholeThenAnswered304) {
  const OciPush one = Signed(1);
  const std::string digest = Push(one, reference_);
  ASSERT_FALSE(digest.empty());
  EXPECT_EQ(digest, absl::StrCat("sha256:", Sha256Hex(OciBundleManifest(one))));

  auto fetcher = Fetcher(reference_, plain_);
  ASSERT_NE(fetcher, nullptr);
  auto fetched = fetcher->FetchIfChanged();
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  ASSERT_TRUE(fetched->has_value());
  EXPECT_EQ((*fetched)->artifact, one.artifact);
  EXPECT_EQ((*fetched)->signatures, one.signatures);
  EXPECT_EQ((*fetched)->digest, digest);
  EXPECT_THAT((*fetched)->url, HasSubstr(digest));
  const std::string blobs = "/v2/bundles/marketplace-id/blobs/";
  EXPECT_EQ(registry_->Requests("GET", blobs, 200), 2);

  // While the tag stands still: one manifest request answered 304, and no
  // blob fetched again.
  for (int poll = 0; poll < 3; ++poll) {
    auto again = fetcher->FetchIfChanged();
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_FALSE(again->has_value());
  }
  EXPECT_EQ(
      registry_->Requests("GET", "/v2/bundles/marketplace-id/manifests/", 304),
      3);
  EXPECT_EQ(registry_->Requests("GET", blobs, 200), 2);

  // The tag moves: the new pair, whole.
  const OciPush two = Signed(2);
  const std::string second = Push(two, reference_);
  auto moved = fetcher->FetchIfChanged();
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_TRUE(moved->has_value());
  EXPECT_EQ((*moved)->artifact, two.artifact);
  EXPECT_EQ((*moved)->digest, second);

  // Pinned by digest: the first revision, whatever the tag says.
  auto pinned =
      Fetcher(registry_->Reference("bundles/marketplace-id@" + digest), plain_);
  ASSERT_NE(pinned, nullptr);
  auto first = pinned->FetchIfChanged();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->artifact, one.artifact);

  // Forget() fetches whole again.
  fetcher->Forget();
  auto whole = fetcher->FetchIfChanged();
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(whole->has_value());
}

TEST_F(OciRegistryTest, APushUploadsOnlyTheBlobsTheRegistryLacks) {
  const OciPush one = Signed(1);
  ASSERT_FALSE(Push(one, reference_).empty());
  const std::string uploads = "/v2/bundles/marketplace-id/blobs/uploads/";
  EXPECT_EQ(registry_->Requests("POST", uploads, 202), 3);  // config, 2 layers
  // The same bundle under another tag: only the manifest is new.
  ASSERT_FALSE(
      Push(one, registry_->Reference("bundles/marketplace-id:canary")).empty());
  EXPECT_EQ(registry_->Requests("POST", uploads, 202), 3);
  // An unsigned push has no signature layer, and pulls as unsigned.
  OciPush unsigned_push = Signed(3);
  unsigned_push.signatures.clear();
  ASSERT_FALSE(
      Push(unsigned_push, registry_->Reference("bundles/marketplace-id:u"))
          .empty());
  auto fetched =
      Fetcher(registry_->Reference("bundles/marketplace-id:u"), plain_)
          ->FetchIfChanged();
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  ASSERT_TRUE(fetched->has_value());
  EXPECT_EQ((*fetched)->signatures, "");
  EXPECT_EQ((*fetched)->artifact, unsigned_push.artifact);
  // A push names a tag.
  auto by_digest =
      ParseOciReference(registry_->Reference("bundles/marketplace-id@sha256:" +
                                             std::string(64, 'a')),
                        "push");
  ASSERT_TRUE(by_digest.ok());
  EXPECT_EQ(PushBundle(*by_digest, one, plain_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(OciRegistryTest, WhatIsMissingOrNotABundleIsAnErrorNamingTheReference) {
  ASSERT_FALSE(Push(Signed(1), reference_).empty());
  // A manifest with a layer importgate does not take, pushed by hand.
  OciPush push = Signed(1);
  std::string manifest = OciBundleManifest(push);
  const std::string layer_type = kOciSignatureLayerType;
  manifest.replace(manifest.find(layer_type), layer_type.size(),
                   "application/vnd.example.other");
  auto client = HttpClient::Create(plain_);
  ASSERT_TRUE(client.ok());
  HttpRequest put;
  put.method = "PUT";
  put.url = absl::StrCat("http://", registry_->host(),
                         "/v2/bundles/marketplace-id/manifests/odd");
  put.headers.push_back(absl::StrCat("Content-Type: ", kOciManifestType));
  put.body = manifest;
  auto stored = (*client)->Send(put);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->status, 201) << stored->body;

  const struct {
    std::string spec;
    RemoteOptions options;
    absl::StatusCode code;
    const char* says;
  } cases[] = {
      {registry_->Reference("bundles/marketplace-id:absent"), plain_,
       absl::StatusCode::kNotFound, "HTTP 404"},
      {registry_->Reference("bundles/no-such-repository:live"), plain_,
       absl::StatusCode::kNotFound, "HTTP 404"},
      {registry_->Reference("bundles/marketplace-id@sha256:" +
                            std::string(64, '0')),
       plain_, absl::StatusCode::kNotFound, "HTTP 404"},
      {registry_->Reference("bundles/marketplace-id:odd"), plain_,
       absl::StatusCode::kInvalidArgument,
       "a layer of type application/vnd.example.other"},
      // HTTPS to a plain-HTTP registry.
      {reference_, RemoteOptions{}, absl::StatusCode::kUnavailable, "oci://"},
  };
  for (const auto& c : cases) {
    auto fetcher = Fetcher(c.spec, c.options);
    ASSERT_NE(fetcher, nullptr);
    auto fetched = fetcher->FetchIfChanged();
    ASSERT_FALSE(fetched.ok()) << c.spec;
    EXPECT_EQ(fetched.status().code(), c.code)
        << c.spec << ": " << fetched.status();
    EXPECT_THAT(fetched.status().message(), HasSubstr(c.says)) << c.spec;
  }
}

// nginx posing as a registry, serving bytes that are not what their
// digests say: a real registry checks digests as it stores, so it never
// serves them, but a cache or a compromised mirror might.
TEST_F(OciRegistryTest, BytesThatAreNotTheirDigestAreRefused) {
  const std::string root = dir_ + "/www";
  const std::string repo = root + "/v2/bundles/marketplace-id";
  fs::create_directories(repo + "/manifests");
  fs::create_directories(repo + "/blobs");
  it::Nginx nginx(dir_ + "/nginx", root);
  ASSERT_NE(nginx.port(), 0);
  const OciPush push = Signed(1);
  const std::string manifest = OciBundleManifest(push);
  const std::string manifest_digest =
      absl::StrCat("sha256:", Sha256Hex(manifest));
  auto write = [&](const std::string& path, const std::string& bytes) {
    ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  };
  const std::string artifact_digest =
      absl::StrCat("sha256:", Sha256Hex(push.artifact));
  const std::string signature_digest =
      absl::StrCat("sha256:", Sha256Hex(push.signatures));
  write(repo + "/manifests/live", manifest);
  write(repo + "/manifests/" + manifest_digest, manifest);
  write(repo + "/blobs/" + signature_digest, push.signatures);
  const std::string spec = absl::StrCat("oci://127.0.0.1:", nginx.port(),
                                        "/bundles/marketplace-id:live");
  // As served: whole and right.
  write(repo + "/blobs/" + artifact_digest, push.artifact);
  {
    auto fetched = Fetcher(spec, plain_)->FetchIfChanged();
    ASSERT_TRUE(fetched.ok()) << fetched.status();
    ASSERT_TRUE(fetched->has_value());
    EXPECT_EQ((*fetched)->artifact, push.artifact);
  }
  std::string flipped = push.artifact;
  flipped[flipped.size() / 2] ^= 1;
  const struct {
    const char* name;
    std::string spec;
    std::string artifact_blob;
    absl::StatusCode code;
    const char* says;
  } cases[] = {
      {"a flipped byte", spec, flipped, absl::StatusCode::kDataLoss,
       "that are not the"},
      {"cut short", spec, push.artifact.substr(0, 100),
       absl::StatusCode::kDataLoss, "that are not the"},
      {"a byte too many", spec, push.artifact + "x",
       absl::StatusCode::kDataLoss, "that are not the"},
      {"a manifest that is not its digest",
       absl::StrCat("oci://127.0.0.1:", nginx.port(),
                    "/bundles/marketplace-id@sha256:", std::string(64, 'b')),
       push.artifact, absl::StatusCode::kNotFound, "HTTP 404"},
  };
  for (const auto& c : cases) {
    write(repo + "/blobs/" + artifact_digest, c.artifact_blob);
    auto fetched = Fetcher(c.spec, plain_)->FetchIfChanged();
    ASSERT_FALSE(fetched.ok()) << c.name;
    EXPECT_EQ(fetched.status().code(), c.code)
        << c.name << ": " << fetched.status();
    EXPECT_THAT(fetched.status().message(), HasSubstr(c.says)) << c.name;
  }
  // A manifest served under a digest it does not have.
  write(repo + "/manifests/sha256:" + std::string(64, 'c'), manifest);
  auto wrong =
      Fetcher(
          absl::StrCat("oci://127.0.0.1:", nginx.port(),
                       "/bundles/marketplace-id@sha256:", std::string(64, 'c')),
          plain_)
          ->FetchIfChanged();
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kDataLoss)
      << wrong.status();
  EXPECT_THAT(wrong.status().message(), HasSubstr(manifest_digest));
}

TEST_F(OciRegistryTest, HttpsNeedsTheConfiguredCa) {
  it::TestPki pki("oci-registry");
  pki.Issue("server", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth");
  it::Registry tls(dir_ + "/registry-tls", pki.Path("server.crt"),
                   pki.Path("server.key"));
  ASSERT_NE(tls.port(), 0);
  const std::string spec = tls.Reference("bundles/marketplace-id:live");
  RemoteOptions trusted;
  trusted.ca_file = pki.Path("ca.crt");
  auto reference = ParseOciReference(spec, "push");
  ASSERT_TRUE(reference.ok());
  const OciPush one = Signed(1);
  auto pushed = PushBundle(*reference, one, trusted);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  auto fetched = Fetcher(spec, trusted)->FetchIfChanged();
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  ASSERT_TRUE(fetched->has_value());
  EXPECT_EQ((*fetched)->artifact, one.artifact);
  // Without the CA (the system's roots), or over plain HTTP: refused.
  RemoteOptions plain = trusted;
  plain.plain_http = true;
  for (const RemoteOptions& options : {RemoteOptions{}, plain}) {
    auto refused = Fetcher(spec, options)->FetchIfChanged();
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable)
        << refused.status();
    EXPECT_FALSE(PushBundle(*reference, one, options).ok());
  }
}

// The manager over a registry: signed revisions activate; an unchanged
// tag is found so without loading anything; an unsigned or failing
// revision is refused and the active one keeps serving.
TEST_F(OciRegistryTest, TheManagerPollsARegistry) {
  auto trusted = TrustedKeys::FromPemFiles({dir_ + "/k.pub.pem"});
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  it::FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  PolicyStore store(&clock);
  ManagerOptions options;
  options.source = reference_;
  options.state_dir = dir_ + "/state";
  options.source_options.iso_codes = it::RealIsoCodes();
  options.source_options.trusted_keys =
      std::make_shared<const TrustedKeys>(*std::move(trusted));
  options.remote = plain_;
  BundleManager manager(&store, &clock, options);
  auto revision = [&] {
    auto current = store.Current();
    return current == nullptr ? 0 : current->snapshot->revision;
  };
  ASSERT_FALSE(Push(Signed(1), reference_).empty());
  ASSERT_TRUE(manager.Start().ok());
  EXPECT_EQ(revision(), 1u);
  EXPECT_EQ(manager.Reload().outcome, Outcome::kUnchanged);

  ASSERT_FALSE(Push(Signed(2), reference_).empty());
  EXPECT_EQ(manager.Reload().outcome, Outcome::kActivated);
  EXPECT_EQ(revision(), 2u);

  OciPush unsigned_three = Signed(3);
  unsigned_three.signatures.clear();
  OciPush failing_three = Signed(3);
  failing_three.artifact = it::PackedSmallBundle(3, /*failing_test=*/true);
  failing_three.signatures = it::SignatureText(*key_, failing_three.artifact);
  for (const OciPush& bad : {unsigned_three, failing_three}) {
    ASSERT_FALSE(Push(bad, reference_).empty());
    for (int poll = 0; poll < 2; ++poll) {
      const ReloadResult result = manager.Reload();
      EXPECT_EQ(result.outcome, Outcome::kRefused) << result.message;
    }
    EXPECT_EQ(revision(), 2u);
  }
  // A registry that goes away keeps the active revision.
  registry_.reset();
  const ReloadResult away = manager.Reload();
  EXPECT_EQ(away.outcome, Outcome::kRefused);
  EXPECT_THAT(away.message, HasSubstr(reference_));
  EXPECT_EQ(revision(), 2u);
}

// Docker config.json credentials, as a kubernetes.io/dockerconfigjson
// Secret holds them; mistakes named by flag, the password never shown.
TEST(RegistryCredentialsTest, ReadsADockerConfig) {
  const std::string dir = it::WriteBundleDirectory({});
  auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
  };
  const std::string good =
      write("config.json",
            absl::StrCat(R"({"auths": {"r.example:5000": {"auth": ")",
                         absl::Base64Escape("alice:s3cret:with:colons"),
                         R"("}, "https://other.example/v2/": {"username": )",
                         R"("bob", "password": "hunter2"}, )",
                         R"("helped.example": {}}})"));
  auto alice = ReadRegistryCredentials(good, "r.example:5000");
  ASSERT_TRUE(alice.ok()) << alice.status();
  ASSERT_TRUE(alice->has_value());
  EXPECT_EQ((*alice)->username, "alice");
  EXPECT_EQ((*alice)->password, "s3cret:with:colons");
  auto bob = ReadRegistryCredentials(good, "other.example");
  ASSERT_TRUE(bob.ok() && bob->has_value());
  EXPECT_EQ((*bob)->username, "bob");
  EXPECT_EQ((*bob)->password, "hunter2");
  auto none = ReadRegistryCredentials(good, "third.example");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // An entry kept by a credential helper (credsStore): anonymous.
  auto helped = ReadRegistryCredentials(good, "helped.example");
  ASSERT_TRUE(helped.ok()) << helped.status();
  EXPECT_FALSE(helped->has_value());

  const struct {
    const char* name;
    std::string text;
    const char* says;
  } bad[] = {
      {"not-json", "auths: hunter2", "not JSON"},
      {"auths-not-object", R"({"auths": "hunter2"})", "\"auths\" is not"},
      {"bad-base64", R"({"auths": {"r.example:5000": {"auth": "%%%"}}})",
       "not base64 of user:password"},
      {"no-colon",
       absl::StrCat(R"({"auths": {"r.example:5000": {"auth": ")",
                    absl::Base64Escape("hunter2"), R"("}}})"),
       "not base64 of user:password"},
  };
  for (const auto& c : bad) {
    auto read =
        ReadRegistryCredentials(write(c.name, c.text), "r.example:5000");
    ASSERT_FALSE(read.ok()) << c.name;
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(read.status().message(),
                HasSubstr("--bundle_registry_auth_file: "))
        << c.name;
    EXPECT_THAT(read.status().message(), HasSubstr(c.says)) << c.name;
    EXPECT_THAT(read.status().message(), Not(HasSubstr("hunter2"))) << c.name;
    EXPECT_THAT(read.status().message(),
                Not(HasSubstr(absl::Base64Escape("hunter2"))))
        << c.name;
  }
  EXPECT_EQ(ReadRegistryCredentials(dir + "/absent.json", "r").status().code(),
            absl::StatusCode::kInvalidArgument);
  fs::remove_all(dir);
}

// A TLS registry of the test CA's, with its own authentication.
class RegistryAuthTest : public OciRegistryTest {
 protected:
  void SetUp() override {
    OciRegistryTest::SetUp();
    pki_ = std::make_unique<it::TestPki>("oci-auth");
    pki_->Issue("server", "localhost", "DNS:localhost,IP:127.0.0.1",
                "serverAuth");
    tls_.ca_file = pki_->Path("ca.crt");
    tls_.timeout = absl::Seconds(10);
  }
  // A Docker config.json for `registry` with `user`:`password`.
  std::string AuthFile(const std::string& registry, const std::string& user,
                       const std::string& password) {
    const std::string path = dir_ + "/" + user + "-config.json";
    std::ofstream(path) << absl::StrCat(
        R"({"auths": {")", registry, R"(": {"auth": ")",
        absl::Base64Escape(user + ":" + password), R"("}}})");
    return path;
  }
  absl::StatusOr<std::string> PushTo(const std::string& spec,
                                     const RemoteOptions& options) {
    auto reference = ParseOciReference(spec, "push");
    if (!reference.ok()) return reference.status();
    return PushBundle(*reference, Signed(1), options);
  }

  std::unique_ptr<it::TestPki> pki_;
  RemoteOptions tls_;
};

// htpasswd (HTTP Basic): anonymous and a wrong password are refused,
// naming the flag; the right credentials push and pull.
TEST_F(RegistryAuthTest, BasicWithTheConfiguredCredentials) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  ASSERT_NE(crypt_gensalt_rn("$2b$", 5, nullptr, 0, setting, sizeof(setting)),
            nullptr);
  crypt_data data{};
  const char* hash = crypt_r("correct horse", setting, &data);
  ASSERT_NE(hash, nullptr);
  ASSERT_TRUE(absl::StartsWith(hash, "$2b$")) << hash;
  std::ofstream(dir_ + "/htpasswd") << "tester:" << hash << "\n";
  it::Registry registry(
      dir_ + "/registry-basic", pki_->Path("server.crt"),
      pki_->Path("server.key"),
      absl::StrCat("  htpasswd:\n    realm: importgate-test\n    path: ", dir_,
                   "/htpasswd\n"));
  ASSERT_NE(registry.port(), 0);
  const std::string spec = registry.Reference("bundles/marketplace-id:live");

  auto anonymous = PushTo(spec, tls_);
  ASSERT_FALSE(anonymous.ok());
  EXPECT_EQ(anonymous.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(anonymous.status().message(),
              HasSubstr("--bundle_registry_auth_file"));
  RemoteOptions wrong = tls_;
  wrong.registry_auth_file = AuthFile(registry.host(), "tester", "wrong");
  auto refused = PushTo(spec, wrong);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied)
      << refused.status();
  EXPECT_THAT(refused.status().message(), Not(HasSubstr("wrong")));
  EXPECT_THAT(refused.status().message(),
              Not(HasSubstr(absl::Base64Escape("tester:wrong"))));

  RemoteOptions right = tls_;
  right.registry_auth_file =
      AuthFile(registry.host(), "tester", "correct horse");
  auto pushed = PushTo(spec, right);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  auto fetched = Fetcher(spec, right)->FetchIfChanged();
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  ASSERT_TRUE(fetched->has_value());
  EXPECT_EQ((*fetched)->artifact, Signed(1).artifact);
  auto unchanged = Fetcher(spec, tls_)->FetchIfChanged();
  EXPECT_EQ(unchanged.status().code(), absl::StatusCode::kPermissionDenied);
}

// base64url without padding (RFC 7515).
std::string Base64Url(absl::string_view bytes) {
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);
  return out;
}

// An ES256 JWT for the registry's token authentication, signed by
// `key_file` with `cert_file` in its x5c header (what the registry checks
// against its rootcertbundle).
std::string RegistryToken(const std::string& key_file,
                          const std::string& cert_file,
                          const std::string& claims) {
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
      BIO_new_file(cert_file.c_str(), "r"), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), &X509_free);
  EXPECT_NE(cert, nullptr);
  unsigned char* der = nullptr;
  const int der_size = i2d_X509(cert.get(), &der);
  const std::string x5c = absl::Base64Escape(
      absl::string_view(reinterpret_cast<char*>(der), der_size));
  OPENSSL_free(der);
  const std::string input = absl::StrCat(
      Base64Url(absl::StrCat(R"({"alg":"ES256","typ":"JWT","x5c":[")", x5c,
                             R"("]})")),
      ".", Base64Url(claims));
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_file(key_file.c_str(), "r"), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr),
      &EVP_PKEY_free);
  EXPECT_NE(key, nullptr);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              &EVP_MD_CTX_free);
  size_t size = 0;
  EXPECT_EQ(
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()),
      1);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &size,
                           reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()),
            1);
  std::string signature(size, '\0');
  EXPECT_EQ(
      EVP_DigestSign(
          ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
          reinterpret_cast<const unsigned char*>(input.data()), input.size()),
      1);
  // DER ECDSA-Sig-Value to JWS's r || s, 32 bytes each.
  const unsigned char* p =
      reinterpret_cast<const unsigned char*>(signature.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(size)), &ECDSA_SIG_free);
  EXPECT_NE(sig, nullptr);
  unsigned char raw[64];
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw + 32, 32);
  return absl::StrCat(
      input, ".",
      Base64Url(absl::string_view(reinterpret_cast<char*>(raw), 64)));
}

// Token authentication: the registry answers 401 with a Bearer challenge;
// the token comes from its realm (nginx over TLS serving a token the test
// signed), and the registry itself checks it.
TEST_F(RegistryAuthTest, BearerTokensFromTheChallengesRealm) {
  pki_->Issue("tokens", "importgate test token issuer", "DNS:tokens",
              "clientAuth");
  const std::string www = dir_ + "/token-www";
  fs::create_directories(www);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const std::string claims = absl::StrCat(
      R"({"iss":"importgate-test-issuer","sub":"tester",)",
      R"("aud":"importgate-test","exp":)", now + 3600, R"(,"nbf":)", now - 60,
      R"(,"iat":)", now - 60, R"(,"jti":"1","access":[{"type":"repository",)",
      R"("name":"bundles/marketplace-id","actions":["pull","push"]}]})");
  std::ofstream(www + "/token")
      << R"({"token":")"
      << RegistryToken(pki_->Path("tokens.key"), pki_->Path("tokens.crt"),
                       claims)
      << R"("})";
  it::Nginx tokens(dir_ + "/token-nginx", www, pki_->Path("server.crt"),
                   pki_->Path("server.key"));
  ASSERT_NE(tokens.port(), 0);
  it::Registry registry(
      dir_ + "/registry-token", pki_->Path("server.crt"),
      pki_->Path("server.key"),
      absl::StrCat("  token:\n    realm: ", tokens.Url("/token", true),
                   "\n    service: importgate-test\n"
                   "    issuer: importgate-test-issuer\n"
                   "    rootcertbundle: ",
                   pki_->Path("ca.crt"), "\n"));
  ASSERT_NE(registry.port(), 0);
  const std::string spec = registry.Reference("bundles/marketplace-id:live");

  auto pushed = PushTo(spec, tls_);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  auto fetcher = Fetcher(spec, tls_);
  auto fetched = fetcher->FetchIfChanged();
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  ASSERT_TRUE(fetched->has_value());
  EXPECT_EQ((*fetched)->artifact, Signed(1).artifact);
  // The token is kept: the next poll is one request, answered 304, with
  // no new challenge.
  const std::string manifests = "/v2/bundles/marketplace-id/manifests/";
  const int challenged = registry.Requests("GET", manifests, 401);
  EXPECT_GE(challenged, 1);
  auto again = fetcher->FetchIfChanged();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(registry.Requests("GET", manifests, 304), 1);
  EXPECT_EQ(registry.Requests("GET", manifests, 401), challenged);

  // A repository the token does not grant: refused, named.
  auto other =
      Fetcher(registry.Reference("bundles/other:live"), tls_)->FetchIfChanged();
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied)
      << other.status();
  // A token endpoint that is not there.
  fs::remove(www + "/token");
  auto no_token = Fetcher(spec, tls_)->FetchIfChanged();
  ASSERT_FALSE(no_token.ok());
  EXPECT_EQ(no_token.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(no_token.status().message(), HasSubstr("token endpoint"));
}

}  // namespace
}  // namespace importgate::bundle
