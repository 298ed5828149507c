// AdminAccess: who may call the admin API (PolicyAdmin).
//
// Two modes:
//   - open: every caller that reaches the admin port. Used without TLS,
//     where the server binds the admin API only to a loopback address (or
//     to --admin_listen, which the operator chose).
//   - by identity: with TLS, a caller is admitted when one of its
//     certificate's subject alternative names (DNS name, URI such as
//     spiffe://..., e-mail address, or IP address, exactly as they appear
//     in the SAN) is listed in the allow file. A caller without a verified
//     certificate has no identity and is refused.
//
// The allow file holds one identity per line; '#' starts a comment; blank
// lines are ignored; an identity has no spaces and is valid UTF-8. It is
// re-read when it changes (checked on each admin call, which are rare). A
// file that cannot be read or parsed keeps the previous list, and the
// problem is logged and reported by LastError().
//
// Every admin call is logged with the caller's identity and the outcome.
//
// Thread safety: Authorize() and LastError() may be called concurrently.
#ifndef IMPORTGATE_SERVER_SERVICE_ADMIN_ACCESS_H_
#define IMPORTGATE_SERVER_SERVICE_ADMIN_ACCESS_H_

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/security/auth_context.h"

namespace importgate::service {

// The identities of a caller: its certificate's SANs, from the auth
// context's peer_dns, peer_uri, peer_email and peer_ip properties, in that
// order. Empty without a verified client certificate.
std::vector<std::string> PeerIdentities(const grpc::AuthContext& auth);

// Parses an allow file's text. INVALID_ARGUMENT naming the line of the
// first bad entry.
absl::StatusOr<absl::flat_hash_set<std::string>> ParseAllowList(
    absl::string_view text);

class AdminAccess {
 public:
  // Every caller is admitted.
  static std::unique_ptr<AdminAccess> Open();
  // No caller is admitted (TLS without an allow file).
  static std::unique_ptr<AdminAccess> Closed();
  // Callers whose identity `allow_file` lists. INVALID_ARGUMENT, naming
  // --admin_allow_file, when it cannot be read or parsed now.
  static absl::StatusOr<std::unique_ptr<AdminAccess>> FromAllowFile(
      std::string allow_file);

  // OK when the caller may run `method`, else PERMISSION_DENIED naming the
  // identity it presented. Logs the call and the outcome either way, with
  // the caller's W3C `traceparent` when it sent one.
  absl::Status Authorize(const grpc::AuthContext& auth, absl::string_view peer,
                         absl::string_view method,
                         absl::string_view traceparent = "");

  // The problem with the allow file's latest version, if any (the previous
  // list is then in force). Empty when it was read.
  std::string LastError() const;

 private:
  AdminAccess() = default;

  // Re-reads the file when its size, inode or modification time changed.
  void Refresh() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  bool open_ = false;
  std::string allow_file_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> allowed_ ABSL_GUARDED_BY(mu_);
  // What the list was read from: (inode, size, mtime seconds, nanos).
  struct FileVersion {
    uint64_t inode = 0;
    int64_t size = -1;
    timespec mtime{};
  };
  FileVersion version_ ABSL_GUARDED_BY(mu_);
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace importgate::service

#endif  // IMPORTGATE_SERVER_SERVICE_ADMIN_ACCESS_H_
