// What the decision log leaves out of its records, by configuration:
// masking of what identifies a seller or a buyer, and sampling of ALLOWs.
//
// Masking (docs/decision-log.md#masking) rewrites the request a record
// holds, never the answer sent:
//   - seller.id: kept, dropped (cleared), or hashed: replaced by
//     "hmac-sha256:" and the lower-case hex HMAC-SHA256 of the id under a
//     secret key (--decision_log_mask_key_file), so that one seller's
//     records can still be found (importgate log query --seller with the
//     same key) but the id cannot be read back, nor guessed by hashing
//     candidate ids without the key.
//   - attributes: those named are removed ("*": all of them).
// Sampling: DENYs and errors are always kept; an ALLOW is kept when its
// decision id falls in the configured fraction. The choice is a function
// of the id alone (KeepAllow), so anyone with an id and the fraction can
// tell whether its record should exist.
//
// Thread safety: RecordPolicy is a value; KeepAllow and HashSellerId are
// pure; a RequestMasker is used by one thread.
#ifndef IMPORTGATE_SERVER_DECISIONLOG_RECORD_POLICY_H_
#define IMPORTGATE_SERVER_DECISIONLOG_RECORD_POLICY_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace importgate::decisionlog {

enum class SellerIdMask { kKeep, kDrop, kHash };

// "keep", "drop" or "hash"; INVALID_ARGUMENT naming
// --decision_log_seller_id.
absl::StatusOr<SellerIdMask> ParseSellerIdMask(absl::string_view text);

struct RecordPolicy {
  SellerIdMask seller_id = SellerIdMask::kKeep;
  // The HMAC key for kHash: at least 16 bytes.
  std::string hash_key;
  // Attribute names to remove from recorded requests; "*" removes all.
  absl::flat_hash_set<std::string> drop_attributes;
  // The fraction of ALLOWs recorded, 0 to 1.
  double allow_fraction = 1.0;
  // Whether recorded answers keep Decision.message and legal_basis. They
  // are the bundle's text for the deciding rule (found again by the
  // answer's bundle digest and rule_id), and more than half of a record's
  // bytes: left out by default (--decision_log_rule_text=omit).
  bool keep_rule_text = false;

  // Whether a request or an answer is rewritten at all.
  bool rewrites_response() const { return !keep_rule_text; }
  bool masks() const {
    return seller_id != SellerIdMask::kKeep || !drop_attributes.empty();
  }
};

// INVALID_ARGUMENT naming the flag: a fraction outside [0, 1], kHash
// without a key of at least 16 bytes.
absl::Status ValidateRecordPolicy(const RecordPolicy& policy);

// Reads a mask key file: its bytes, with one trailing newline removed.
// INVALID_ARGUMENT naming --decision_log_mask_key_file when it cannot be
// read or holds fewer than 16 bytes.
absl::StatusOr<std::string> ReadMaskKey(const std::string& path);

// "hmac-sha256:" + 64 lower-case hex digits.
std::string HashSellerId(absl::string_view key, absl::string_view seller_id);

// "omit" or "keep"; INVALID_ARGUMENT naming --decision_log_rule_text.
absl::StatusOr<bool> ParseKeepRuleText(absl::string_view text);

// Whether the ALLOW with decision id `id` (36 characters) is recorded at
// `fraction`: a hash of the id's last 64 bits (LowBits: its random and
// counter bits) compared with the fraction. 1 keeps all, 0 none.
bool KeepAllow(absl::string_view id, double fraction);

// Applies a policy's masking to serialized IsImportAllowedRequests.
class RequestMasker {
 public:
  explicit RequestMasker(const RecordPolicy* policy);
  ~RequestMasker();
  RequestMasker(const RequestMasker&) = delete;
  RequestMasker& operator=(const RequestMasker&) = delete;

  // The masked bytes of `request` (a view into this masker, valid until
  // the next call), or `request` itself when the policy masks nothing.
  // Bytes that do not parse are dropped whole (an empty view): they cannot
  // be masked, so they are not kept.
  absl::string_view Mask(absl::string_view request);

 private:
  struct Impl;
  const RecordPolicy* const policy_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace importgate::decisionlog

#endif  // IMPORTGATE_SERVER_DECISIONLOG_RECORD_POLICY_H_
