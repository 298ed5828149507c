// What a decision handler hands to the decision log, and how the log's
// writer turns it into importgate.decisionlog.v1.LogEntry bytes.
//
// The handler passes bytes it already has (the request it parsed, the
// answer it encoded) and the writer thread composes the records from them
// without parsing: an embedded message has the same wire format as a
// bytes field, so a DecisionRecord's request and response fields are the
// call's own bytes (a batch is split into its items by reading only the
// outer fields). Nothing here runs on the request path but the view.
//
// Thread safety: thread-compatible.
#ifndef IMPORTGATE_SERVER_DECISIONLOG_RECORD_H_
#define IMPORTGATE_SERVER_DECISIONLOG_RECORD_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/decisionlog/decision_id.h"
#include "server/decisionlog/record_policy.h"

namespace importgate::decisionlog {

// The decision API method a call was to.
enum class CallMethod { kIsImportAllowed, kBatchIsImportAllowed };

// Where a unary answer's decision.message and decision.legal_basis fields
// lie in its bytes: offsets from the first byte, end exclusive, as the
// handler's encoder wrote them (service::ResponseLayout).
struct RuleTextSpan {
  size_t begin = 0;
  size_t end = 0;
};

// One call to the decision API, as the handler saw it: views of bytes the
// caller holds (the handler's request and answer), valid for as long as
// the view is used. DecisionLog::Submit copies them into its queue.
struct CallView {
  using Method = CallMethod;
  Method method = Method::kIsImportAllowed;
  // When the server answered; also the evaluation time of every item that
  // did not set its own.
  absl::Time time;
  // The serialized IsImportAllowedRequest or BatchIsImportAllowedRequest;
  // empty when it did not parse (the record then holds no request).
  absl::string_view request;
  // The serialized IsImportAllowedResponse or BatchIsImportAllowedResponse
  // sent; empty when the call was refused.
  absl::string_view response;
  // A refused call's status (code 0: answered).
  int error_code = 0;
  absl::string_view error_message;
  // One id per record: a unary call's or a refused batch's one, or one per
  // batch item, in item order.
  absl::Span<const DecisionId> ids;
  // The caller's identity (mTLS) or address, and its W3C traceparent.
  absl::string_view peer;
  absl::string_view traceparent;
  // A unary answer's rule text within `response`, when the handler knows
  // it: a log that leaves rule text out (RecordPolicy::keep_rule_text)
  // then copies the answer without it, and nothing parses it again.
  std::optional<RuleTextSpan> rule_text;
  // Set by the log's queue: `response` already holds no rule text.
  bool rule_text_left_out = false;
};

// The most of a caller's address or identity, and of its traceparent, that
// a record keeps: both come from the caller.
inline constexpr size_t kMaxRecordedPeerBytes = 1024;
inline constexpr size_t kMaxRecordedTraceparentBytes = 256;

// A CallView that owns its bytes, for tests and tools.
struct CallRecord {
  using Method = CallMethod;
  Method method = Method::kIsImportAllowed;
  absl::Time time;
  std::string request;
  std::string response;
  int error_code = 0;
  std::string error_message;
  absl::InlinedVector<DecisionId, 1> ids;
  std::string peer;
  std::string traceparent;
  std::optional<RuleTextSpan> rule_text;

  // A view of it, as std::string converts to absl::string_view.
  operator CallView() const {  // NOLINT(google-explicit-constructor)
    return CallView{method,      time,          request, response,
                    error_code,  error_message, ids,     peer,
                    traceparent, rule_text,     false};
  }
};

// Encodes `call` as LogEntry bytes, one per decision or refusal, numbering
// them from `*next_sequence` (advanced past them), and calls `emit` with
// each (the view lasts until `emit` returns). INVALID_ARGUMENT when the
// call's bytes are not what its method says, or its ids do not match its
// items; nothing is emitted then.
absl::Status EncodeCall(const CallView& call, uint64_t* next_sequence,
                        const std::function<void(absl::string_view)>& emit);

// Where RecordEncoder::Encode puts each record: Append(size, write) is
// told the size of the record's LogEntry bytes, calls `write` with the
// string to append exactly those bytes to (or refuses before calling it),
// and returns OK once it has taken them (the record's sequence number is
// then used), or why not (the next record is given the same number, so
// that the numbers run without gaps).
class EntrySink {
 public:
  virtual ~EntrySink() = default;
  virtual absl::Status Append(size_t size,
                              absl::FunctionRef<void(std::string*)> write) = 0;
};

// EncodeCall for the writer thread, applying a RecordPolicy (masking the
// requests it keeps, leaving out ALLOWs that sampling does not keep):
// keeps its buffers from call to call, so that a record costs no
// allocation once they have grown (masking parses and re-serializes each
// request).
class RecordEncoder {
 public:
  // `policy` must outlive the encoder; null: every record, unmasked.
  explicit RecordEncoder(const RecordPolicy* policy = nullptr);

  absl::Status Encode(const CallView& call, uint64_t* next_sequence,
                      const std::function<void(absl::string_view)>& emit);
  // The same, each record appended where `sink` says (the segment's
  // pending buffer, for the writer: no copy of its own). A record `sink`
  // refuses takes no sequence number; Encode goes on with the next.
  absl::Status Encode(const CallView& call, uint64_t* next_sequence,
                      EntrySink& sink);

  // ALLOWs left out by sampling so far.
  uint64_t sampled_out() const { return sampled_out_; }

  // One DecisionRecord's parts, as Encode finds them in a call.
  struct Item {
    absl::string_view request;   // an IsImportAllowedRequest, or empty
    absl::string_view response;  // an IsImportAllowedResponse, or empty
    int error_code = 0;
    absl::string_view error_message;
  };

 private:
  const RecordPolicy* const policy_;
  std::optional<RequestMasker> masker_;
  uint64_t sampled_out_ = 0;
  std::string entry_;     // for the emit form of Encode
  std::string error_;     // a RecordError's bytes
  std::string decision_;  // scratch for StripRuleText
  std::string response_;
  std::vector<Item> items_;  // the call's records, reused from call to call
};

// `response` (a serialized IsImportAllowedResponse) without
// decision.message and decision.legal_basis, into `*out` (cleared first;
// `*scratch` is used on the way), every other field's bytes copied as they
// were. False (and `*out` unspecified) when the bytes are malformed; the
// caller then records the answer whole.
bool StripRuleText(absl::string_view response, std::string* scratch,
                   std::string* out);

// `response` (a serialized IsImportAllowedResponse whose first field is
// its decision, as the server encodes it) without the bytes at `span`
// (the decision's message and legal_basis fields), as pieces: the
// decision's tag and new length (`head`), the decision's bytes before the
// span, and everything after it: what StripRuleText gives, reading only
// the decision's top-level fields and copying nothing (tests/service's
// response encoder tests check that the two agree). False when the bytes
// do not begin with a decision field, or `span` is not exactly its
// message and legal_basis fields.
struct ResponseWithoutRuleText {
  std::array<char, 11> head{};
  size_t head_size = 0;
  absl::string_view before;
  absl::string_view after;
  size_t size() const { return head_size + before.size() + after.size(); }
};
bool SplitOutRuleText(absl::string_view response, RuleTextSpan span,
                      ResponseWithoutRuleText* out);

// True when the serialized IsImportAllowedResponse `response` is an ALLOW
// (decision.effect, read without parsing the rest).
bool IsAllow(absl::string_view response);

// The largest request a record keeps; a larger one (no valid request is:
// it would hold unknown fields) is left out and its size recorded, so that
// every entry stays within segment.h's kMaxEntryBytes.
inline constexpr size_t kMaxRecordedRequestBytes = 64 << 10;

// LogEntry bytes for a LogEvent of `kind` (a LogEvent.Kind value).
std::string EncodeEvent(uint64_t sequence, int kind, absl::Time time,
                        absl::string_view detail, uint64_t count = 0);

}  // namespace importgate::decisionlog

#endif  // IMPORTGATE_SERVER_DECISIONLOG_RECORD_H_
