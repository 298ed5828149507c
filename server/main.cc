// importgate-server: flags -> options -> load the bundle -> serve until
// SIGINT/SIGTERM -> graceful shutdown.
//
//   importgate-server [--listen=127.0.0.1:50051] [--bundle=policies/default]
//   importgate-server --check --bundle=DIR   # load, compile, self-test, exit
#include <signal.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "server/app/server.h"
#include "server/bundle/loader.h"
#include "server/bundle/policy_store.h"
#include "server/common/clock.h"
#include "server/common/log.h"
#include "server/refdata/iso_codes.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "host:port to serve on; port 0 picks a free port");
ABSL_FLAG(std::string, bundle, "policies/default",
          "policy bundle source directory");
ABSL_FLAG(std::string, iso_codes_dir,
          std::string(importgate::IsoCodes::kDebianDirectory),
          "directory of the iso-codes JSON files (Debian package iso-codes)");
ABSL_FLAG(int, max_batch_items, 1000,
          "largest BatchIsImportAllowed request accepted");
ABSL_FLAG(int, shutdown_grace_seconds, 5,
          "on SIGTERM, how long in-flight calls may take to finish");
ABSL_FLAG(bool, check, false,
          "load, compile and self-test --bundle, print the outcome and exit "
          "(0: the bundle would be activated)");

namespace importgate {
namespace {

std::string Describe(const bundle::LoadedBundle& b) {
  return absl::StrCat("bundle ", b.snapshot->name, " revision ",
                      b.snapshot->revision, " ", b.digest, " from ", b.source,
                      " (", b.snapshot->rules.size(), " rules, ",
                      b.test_case_count, " test cases passed)");
}

int Run() {
  const std::string bundle_path = absl::GetFlag(FLAGS_bundle);
  LogInfo(absl::StrCat("importgate-server ", app::ServerVersion(),
                       " starting: listen=", absl::GetFlag(FLAGS_listen),
                       " bundle=", bundle_path));
  auto iso = IsoCodes::LoadFromDirectory(absl::GetFlag(FLAGS_iso_codes_dir));
  if (!iso.ok()) {
    LogError(absl::StrCat("cannot load ISO code tables: ", iso.status().message()));
    return 1;
  }
  auto loaded = bundle::LoadBundleDirectory(bundle_path, *iso);
  if (!loaded.ok()) {
    LogError(absl::StrCat("bundle ", bundle_path, " refused: ",
                          loaded.status().message()));
    return 1;
  }
  if (absl::GetFlag(FLAGS_check)) {
    LogInfo(absl::StrCat("check passed: ", Describe(**loaded)));
    return 0;
  }

  // Block the stop signals in every thread (gRPC's included); this thread
  // waits for them with sigwait().
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  SystemClock clock;
  bundle::PolicyStore store(&clock);
  app::ServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.max_batch_items = absl::GetFlag(FLAGS_max_batch_items);
  auto server = app::ImportgateServer::Start(options, &store, &clock);
  if (!server.ok()) {
    LogError(absl::StrCat("cannot start: ", server.status().message()));
    return 1;
  }
  if (absl::Status s = store.Activate(*loaded); !s.ok()) {
    LogError(absl::StrCat("cannot activate: ", s.message()));
    return 1;
  }
  LogInfo(absl::StrCat("activated ", Describe(**loaded)));
  std::string host = options.listen_address.substr(
      0, options.listen_address.rfind(':'));
  LogInfo(absl::StrCat("serving on ", host, ":", (*server)->port()));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogInfo(absl::StrCat("signal ", signal_number, ": shutting down"));
  (*server)->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace importgate

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "importgate policy decision point.\n"
      "  importgate-server [--listen=HOST:PORT] [--bundle=DIR]\n"
      "  importgate-server --check --bundle=DIR");
  absl::ParseCommandLine(argc, argv);
  return importgate::Run();
}
