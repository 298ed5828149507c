// Byte budgets of the decision API's messages, so that every documented
// limit can be reached at once: a full batch of the largest valid requests
// is accepted, and a full batch of the longest answers is sent.
//
// The budgets follow from the limits the engine enforces:
// - a request: item.sku and seller.id of eval::kMaxIdBytes, an HS code,
//   category path and country and currency codes at their longest, and
//   policy::kMaxAttributes attributes of the longest keys and values;
// - an answer: rule texts bounded by the compiler (compiler::
//   kMaxMessageBytes, kMaxLegalBasisBytes, ids of 128 bytes) and at most
//   eval::kMaxMatchedRuleIds matched rule ids.
// tests/service/limits_test.cc builds the largest request and the largest
// answer and checks that each fits its per-item budget, so a new limit that
// breaks a budget fails there.
//
// The server configures gRPC from these (app/server.cc); the client SDK
// keeps its own copy (client.h, kMaxItemRequestBytes and
// kMaxItemResponseBytes), checked equal in tests/client/client_test.cc.
#ifndef IMPORTGATE_SERVER_SERVICE_LIMITS_H_
#define IMPORTGATE_SERVER_SERVICE_LIMITS_H_

#include <cstddef>

namespace importgate::service {

// The largest valid IsImportAllowedRequest, serialized, fits in this.
inline constexpr size_t kMaxItemRequestBytes = 24 * 1024;
// The largest answer for one item (an IsImportAllowedResponse, or an
// ItemError), serialized, fits in this.
inline constexpr size_t kMaxItemResponseBytes = 12 * 1024;
// A batch item's framing (a repeated field's tag and length, and a
// BatchItemResult's oneof header), and a batch's own fields.
inline constexpr size_t kBatchItemFramingBytes = 16;
inline constexpr size_t kBatchOverheadBytes = 1024;

// The request budget of a batch of up to `max_batch_items`, in bytes.
constexpr size_t BatchRequestBudget(int max_batch_items) {
  return static_cast<size_t>(max_batch_items) *
             (kMaxItemRequestBytes + kBatchItemFramingBytes) +
         kBatchOverheadBytes;
}

// The response budget of a batch of up to `max_batch_items`, in bytes.
constexpr size_t BatchResponseBudget(int max_batch_items) {
  return static_cast<size_t>(max_batch_items) *
             (kMaxItemResponseBytes + kBatchItemFramingBytes) +
         kBatchOverheadBytes;
}

// gRPC's own limit on a received message: twice the request budget. A
// request over the budget but under this gets INVALID_ARGUMENT naming the
// budget from the handler; beyond it, gRPC itself answers
// RESOURCE_EXHAUSTED before the handler runs.
constexpr size_t TransportReceiveLimit(int max_batch_items) {
  return 2 * BatchRequestBudget(max_batch_items);
}

}  // namespace importgate::service

#endif  // IMPORTGATE_SERVER_SERVICE_LIMITS_H_
