#include "server/service/admin_access.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/common/log.h"
#include "server/common/utf8.h"

namespace importgate::service {
namespace {

constexpr size_t kMaxIdentityBytes = 1024;

bool SameVersion(const struct stat& st, int64_t size, uint64_t inode,
                 const timespec& mtime) {
  return static_cast<uint64_t>(st.st_ino) == inode &&
         static_cast<int64_t>(st.st_size) == size &&
         st.st_mtim.tv_sec == mtime.tv_sec &&
         st.st_mtim.tv_nsec == mtime.tv_nsec;
}

}  // namespace

std::vector<std::string> PeerIdentities(const grpc::AuthContext& auth) {
  std::vector<std::string> out;
  if (!auth.IsPeerAuthenticated()) return out;
  for (const char* property :
       {"peer_dns", "peer_uri", "peer_email", "peer_ip"}) {
    for (const grpc::string_ref& value : auth.FindPropertyValues(property)) {
      out.emplace_back(value.data(), value.size());
    }
  }
  return out;
}

absl::StatusOr<absl::flat_hash_set<std::string>> ParseAllowList(
    absl::string_view text) {
  absl::flat_hash_set<std::string> out;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (line.find_first_of(" \t\r\v\f") != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": ", QuoteForMessage(line),
                       " holds a space: one identity per line"));
    }
    if (!IsValidUtf8(line) || line.size() > kMaxIdentityBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_number, ": ", QuoteForMessage(line),
          " must be UTF-8 of at most ", kMaxIdentityBytes, " bytes"));
    }
    out.emplace(line);
  }
  return out;
}

std::unique_ptr<AdminAccess> AdminAccess::Open() {
  std::unique_ptr<AdminAccess> access(new AdminAccess());
  access->open_ = true;
  return access;
}

std::unique_ptr<AdminAccess> AdminAccess::Closed() {
  return std::unique_ptr<AdminAccess>(new AdminAccess());
}

absl::StatusOr<std::unique_ptr<AdminAccess>> AdminAccess::FromAllowFile(
    std::string allow_file) {
  std::unique_ptr<AdminAccess> access(new AdminAccess());
  access->allow_file_ = std::move(allow_file);
  absl::MutexLock lock(&access->mu_);
  access->Refresh();
  if (!access->last_error_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--admin_allow_file: ", access->last_error_));
  }
  return access;
}

void AdminAccess::Refresh() {
  if (allow_file_.empty()) return;  // Closed()
  struct stat st {};
  if (stat(allow_file_.c_str(), &st) != 0) {
    std::string error =
        absl::StrCat(QuoteForMessage(allow_file_, 256), " cannot be read");
    if (error != last_error_) {
      LogError(absl::StrCat("admin allow file: ", error,
                            "; keeping the previous list"));
    }
    last_error_ = std::move(error);
    return;
  }
  if (SameVersion(st, version_.size, version_.inode, version_.mtime)) return;
  std::ifstream in(allow_file_, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = in ? ParseAllowList(text.str())
                   : absl::StatusOr<absl::flat_hash_set<std::string>>(
                         absl::InvalidArgumentError("cannot be read"));
  version_ = {static_cast<uint64_t>(st.st_ino),
              static_cast<int64_t>(st.st_size), st.st_mtim};
  if (!parsed.ok()) {
    last_error_ = absl::StrCat(QuoteForMessage(allow_file_, 256), ": ",
                               parsed.status().message());
    LogError(absl::StrCat("admin allow file: ", last_error_,
                          "; keeping the previous list"));
    return;
  }
  allowed_ = *std::move(parsed);
  last_error_.clear();
  LogInfo(absl::StrCat("admin allow file ", QuoteForMessage(allow_file_, 256),
                       " read: ", allowed_.size(), " identities"));
}

absl::Status AdminAccess::Authorize(const grpc::AuthContext& auth,
                                    absl::string_view peer,
                                    absl::string_view method,
                                    absl::string_view traceparent) {
  const std::vector<std::string> identities = PeerIdentities(auth);
  const std::string who =
      identities.empty() ? absl::StrCat("no identity (", ToValidUtf8(peer), ")")
                         : ToValidUtf8(absl::StrJoin(identities, ","));
  bool allowed = open_;
  if (!open_) {
    absl::MutexLock lock(&mu_);
    Refresh();
    for (const std::string& identity : identities) {
      if (allowed_.contains(identity)) {
        allowed = true;
        break;
      }
    }
  }
  LogInfo(absl::StrCat("admin ", method, " by ", who, ": ",
                       allowed ? "allowed" : "refused"),
          {{"method", std::string(method)},
           {"peer", who},
           {"outcome", allowed ? "allowed" : "refused"},
           {"traceparent", std::string(traceparent.substr(0, 55))}});
  if (allowed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "admin API: ", who,
      identities.empty()
          ? " (send a client certificate whose identity --admin_allow_file "
            "lists)"
      : allow_file_.empty() ? " is refused: no --admin_allow_file is set"
                            : " is not listed in --admin_allow_file"));
}

std::string AdminAccess::LastError() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

}  // namespace importgate::service
