// Finding decision records in a decision log directory: what support staff
// and auditors ask of it ("why was this decision id denied?", "what was
// decided for this seller last March?"). Used by `importgate log query`
// and by the admin API's GetDecision.
//
// Only records whose chain verifies are returned: each segment is read
// through ScanSegment (segment.h), so a record that was altered is never
// answered as if it were true. A torn tail on the newest segment (a live
// writer mid-append, or a crash not yet repaired) ends that segment
// quietly; any other problem is reported in QueryStats and the search goes
// on with the next segment.
//
// Cost: a search reads every segment (a decision id search reads newest
// first and stops at its record). Records
// are not indexed; filters are checked on the bytes first, and a record is
// parsed only when they may match.
//
// Thread safety: thread-compatible; reads files only, so it may run while
// a DecisionLog appends to the same directory.
#ifndef IMPORTGATE_SERVER_DECISIONLOG_QUERY_H_
#define IMPORTGATE_SERVER_DECISIONLOG_QUERY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "importgate/decisionlog/v1/decision_log.pb.h"

namespace importgate::decisionlog {

// What to find; every field set must match (empty: any).
struct DecisionQuery {
  std::string decision_id;  // exact; the search stops at its record
  std::string sku;          // the request's item.sku (or the answer's sku)
  std::string seller_id;    // the request's seller.id as recorded (masked:
                            // as masked, see mask.h)
  std::string rule_id;      // the deciding rule or any matched rule
  // "ALLOW", "DENY" or "ERROR" (a refused request); empty: any.
  std::string outcome;
  absl::Time from = absl::InfinitePast();     // record time >= from
  absl::Time until = absl::InfiniteFuture();  // record time < until
  size_t limit = 0;                           // at most this many; 0: all
};

// INVALID_ARGUMENT naming the field when `query` cannot match anything
// well-formed: a decision_id that is not a UUIDv7, an unknown outcome,
// from not before until.
absl::Status ValidateQuery(const DecisionQuery& query);

struct QueryStats {
  uint64_t segments_read = 0;
  uint64_t records_read = 0;  // decision records looked at
  uint64_t matched = 0;
  // Segments that could not be read or hold damage (file, offset, what);
  // their records after the damage were not searched.
  std::vector<std::string> problems;
};

// True when `record` matches `query` (exposed for tests and GetDecision).
bool Matches(const DecisionQuery& query,
             const importgate::decisionlog::v1::DecisionRecord& record);

// Calls `visit` with each matching record, in log order (newest first for
// a decision_id search), until it returns false or `query.limit` were
// found. NOT_FOUND when `dir` does not exist; INVALID_ARGUMENT as
// ValidateQuery.
absl::StatusOr<QueryStats> QueryDirectory(
    const std::string& dir, const DecisionQuery& query,
    const std::function<
        bool(const importgate::decisionlog::v1::DecisionRecord&)>& visit);

// The record of `decision_id` in `dir`. NOT_FOUND when no verified record
// holds it (not yet written, sampled out, removed by retention, or not
// made by a server logging here), saying so; INVALID_ARGUMENT when it is
// not a UUIDv7.
absl::StatusOr<importgate::decisionlog::v1::DecisionRecord> FindDecision(
    const std::string& dir, const std::string& decision_id);

// One JSON line for `record` (the protobuf JSON mapping, field names in
// lowerCamelCase as grpcurl and buf curl print them; no newline).
std::string RecordJson(
    const importgate::decisionlog::v1::DecisionRecord& record);

}  // namespace importgate::decisionlog

#endif  // IMPORTGATE_SERVER_DECISIONLOG_QUERY_H_
