#include "server/decisionlog/query.h"

#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "server/decisionlog/decision_id.h"
#include "server/decisionlog/segment.h"

namespace importgate::decisionlog {
namespace {

using importgate::decisionlog::v1::DecisionRecord;
using importgate::decisionlog::v1::LogEntry;

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// False when `entry` cannot hold a match: a string the query names is not
// among its bytes (protobuf stores strings as they are).
bool MayMatch(const DecisionQuery& query, absl::string_view entry) {
  for (const std::string* value :
       {&query.decision_id, &query.sku, &query.seller_id, &query.rule_id}) {
    if (!value->empty() && !absl::StrContains(entry, *value)) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateQuery(const DecisionQuery& query) {
  if (!query.decision_id.empty() &&
      !DecisionIdGenerator::IsValid(query.decision_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("decision_id: \"", query.decision_id,
                     "\" is not a decision id (a UUIDv7 such as "
                     "019ad3f2-6c41-7a3e-9b1c-2f0d00000001, lower case)"));
  }
  if (!query.outcome.empty() && query.outcome != "ALLOW" &&
      query.outcome != "DENY" && query.outcome != "ERROR") {
    return absl::InvalidArgumentError(absl::StrCat(
        "outcome: \"", query.outcome, "\" is not ALLOW, DENY or ERROR"));
  }
  if (query.from >= query.until) {
    return absl::InvalidArgumentError(
        absl::StrCat("from: ", absl::FormatTime(query.from),
                     " is not before until: ", absl::FormatTime(query.until)));
  }
  return absl::OkStatus();
}

bool Matches(const DecisionQuery& query, const DecisionRecord& record) {
  if (!query.decision_id.empty() && record.decision_id() != query.decision_id) {
    return false;
  }
  if (!query.sku.empty() && record.request().item().sku() != query.sku &&
      record.response().sku() != query.sku) {
    return false;
  }
  if (!query.seller_id.empty() &&
      record.request().seller().id() != query.seller_id) {
    return false;
  }
  if (!query.rule_id.empty()) {
    const auto& decision = record.response().decision();
    bool found = decision.rule_id() == query.rule_id;
    for (const std::string& id : decision.matched_rule_ids()) {
      found = found || id == query.rule_id;
    }
    if (!found) return false;
  }
  if (!query.outcome.empty()) {
    const char* outcome =
        record.has_error() ? "ERROR"
        : record.response().decision().effect() == importgate::v1::EFFECT_DENY
            ? "DENY"
            : "ALLOW";
    if (query.outcome != outcome) return false;
  }
  const absl::Time time = TimeOf(record.time());
  return time >= query.from && time < query.until;
}

absl::StatusOr<QueryStats> QueryDirectory(
    const std::string& dir, const DecisionQuery& query,
    const std::function<bool(const DecisionRecord&)>& visit) {
  if (absl::Status valid = ValidateQuery(query); !valid.ok()) return valid;
  auto segments = ListSegments(dir);
  if (!segments.ok()) return segments.status();
  // An id is unique: look from the newest segment back, and stop at it.
  const bool by_id = !query.decision_id.empty();
  const size_t limit = by_id ? 1 : query.limit;
  QueryStats stats;
  LogEntry entry;
  bool done = false;
  for (size_t n = 0; n < segments->size() && !done; ++n) {
    const size_t i = by_id ? segments->size() - 1 - n : n;
    const std::string& path = (*segments)[i].second;
    const bool newest = i + 1 == segments->size();
    auto scan = ScanSegment(path, [&](const Frame& frame) {
      if (done || !MayMatch(query, frame.entry)) return;
      if (!entry.ParseFromArray(frame.entry.data(),
                                static_cast<int>(frame.entry.size()))) {
        stats.problems.push_back(absl::StrCat(path, " at offset ", frame.offset,
                                              ": an entry is not a LogEntry"));
        return;
      }
      if (!entry.has_decision()) return;
      ++stats.records_read;
      if (!Matches(query, entry.decision())) return;
      ++stats.matched;
      if (!visit(entry.decision()) || (limit != 0 && stats.matched >= limit)) {
        done = true;
      }
    });
    if (!scan.ok()) {
      // A segment removed by retention while we listed is no problem.
      if (!absl::IsNotFound(scan.status())) {
        stats.problems.push_back(std::string(scan.status().message()));
      }
      continue;
    }
    ++stats.segments_read;
    if (scan->problem.has_value() && !(newest && scan->torn_tail)) {
      stats.problems.push_back(
          absl::StrCat(path, " at offset ", scan->problem_offset, ": ",
                       *scan->problem, " (records after it not searched)"));
    }
  }
  return stats;
}

absl::StatusOr<DecisionRecord> FindDecision(const std::string& dir,
                                            const std::string& decision_id) {
  DecisionQuery query;
  query.decision_id = decision_id;
  if (decision_id.empty()) {
    return absl::InvalidArgumentError("decision_id: is required");
  }
  std::optional<DecisionRecord> found;
  auto stats = QueryDirectory(dir, query, [&](const DecisionRecord& record) {
    found = record;
    return false;
  });
  if (!stats.ok()) return stats.status();
  if (found.has_value()) return *std::move(found);
  std::string message = absl::StrCat(
      "decision ", decision_id,
      " is not in the decision log: not yet written (the writer appends "
      "every 10 ms), an ALLOW left out by sampling, removed by retention, "
      "or not decided by this server");
  for (const std::string& problem : stats->problems) {
    absl::StrAppend(&message, "; also: ", problem);
  }
  return absl::NotFoundError(message);
}

std::string RecordJson(const DecisionRecord& record) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = false;
  // Cannot fail for a message without Any fields.
  (void)google::protobuf::util::MessageToJsonString(record, &json, options);
  return json;
}

}  // namespace importgate::decisionlog
