#include "server/decisionlog/record_policy.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/decisionlog/decision_id.h"

namespace importgate::decisionlog {
namespace {

constexpr size_t kMinKeyBytes = 16;

}  // namespace

absl::StatusOr<SellerIdMask> ParseSellerIdMask(absl::string_view text) {
  if (text == "keep") return SellerIdMask::kKeep;
  if (text == "drop") return SellerIdMask::kDrop;
  if (text == "hash") return SellerIdMask::kHash;
  return absl::InvalidArgumentError(absl::StrCat(
      "--decision_log_seller_id: \"", text, "\" is not keep, drop or hash"));
}

absl::StatusOr<bool> ParseKeepRuleText(absl::string_view text) {
  if (text == "omit") return false;
  if (text == "keep") return true;
  return absl::InvalidArgumentError(absl::StrCat(
      "--decision_log_rule_text: \"", text, "\" is not omit or keep"));
}

absl::Status ValidateRecordPolicy(const RecordPolicy& policy) {
  if (!(policy.allow_fraction >= 0.0 && policy.allow_fraction <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--decision_log_allow_fraction: ", policy.allow_fraction,
                     " is not between 0 and 1"));
  }
  if (policy.seller_id == SellerIdMask::kHash &&
      policy.hash_key.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--decision_log_mask_key_file: --decision_log_seller_id=hash needs a "
        "key of at least ",
        kMinKeyBytes, " bytes (e.g. `openssl rand -hex 32 > FILE`)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadMaskKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--decision_log_mask_key_file: cannot read ", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string key = text.str();
  if (!key.empty() && key.back() == '\n') key.pop_back();
  if (key.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--decision_log_mask_key_file: ", path, " holds ",
                     key.size(), " bytes; a key needs at least ", kMinKeyBytes,
                     " (e.g. `openssl rand -hex 32 > FILE`)"));
  }
  return key;
}

std::string HashSellerId(absl::string_view key, absl::string_view seller_id) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(seller_id.data()),
       seller_id.size(), mac, &length);
  return absl::StrCat("hmac-sha256:",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(mac), length)));
}

bool KeepAllow(absl::string_view id, double fraction) {
  if (fraction >= 1.0) return true;
  if (fraction <= 0.0) return false;
  // The id's random bits and counter. SplitMix64's finalizer spreads
  // consecutive counters over the whole range.
  uint64_t x = DecisionIdGenerator::LowBits(id);
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  // The top 53 bits as a number in [0, 1).
  return static_cast<double>(x >> 11) * 0x1.0p-53 < fraction;
}

struct RequestMasker::Impl {
  importgate::v1::IsImportAllowedRequest request;
  std::string bytes;
};

RequestMasker::RequestMasker(const RecordPolicy* policy)
    : policy_(policy), impl_(std::make_unique<Impl>()) {}

RequestMasker::~RequestMasker() = default;

absl::string_view RequestMasker::Mask(absl::string_view request) {
  if (!policy_->masks() || request.empty()) return request;
  auto& r = impl_->request;
  if (!r.ParseFromArray(request.data(), static_cast<int>(request.size()))) {
    return {};
  }
  if (r.has_seller() && !r.seller().id().empty()) {
    switch (policy_->seller_id) {
      case SellerIdMask::kKeep:
        break;
      case SellerIdMask::kDrop:
        r.mutable_seller()->clear_id();
        break;
      case SellerIdMask::kHash:
        r.mutable_seller()->set_id(
            HashSellerId(policy_->hash_key, r.seller().id()));
        break;
    }
  }
  if (policy_->drop_attributes.contains("*")) {
    r.clear_attributes();
  } else if (!policy_->drop_attributes.empty()) {
    std::vector<std::string> names;
    for (const auto& [name, value] : r.attributes()) {
      if (policy_->drop_attributes.contains(name)) names.push_back(name);
    }
    for (const std::string& name : names) r.mutable_attributes()->erase(name);
  }
  impl_->bytes.clear();
  r.SerializeToString(&impl_->bytes);
  return impl_->bytes;
}

}  // namespace importgate::decisionlog
