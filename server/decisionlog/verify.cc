#include "server/decisionlog/verify.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "importgate/decisionlog/v1/decision_log.pb.h"

namespace importgate::decisionlog {

absl::StatusOr<VerifyReport> VerifyDirectory(const std::string& dir) {
  auto segments = ListSegments(dir);
  if (!segments.ok()) return segments.status();
  VerifyReport report;
  if (segments->empty()) {
    report.problem = absl::StrCat(dir, ": holds no decision log segment");
    return report;
  }
  std::optional<Chain> chain;  // after the previous segment
  uint64_t expected = 0;       // the next sequence number
  for (size_t i = 0; i < segments->size() && !report.problem; ++i) {
    // (Not a structured binding: clang 14 cannot capture one in a lambda.)
    const uint64_t named_first = (*segments)[i].first;
    const std::string& path = (*segments)[i].second;
    if (i > 0 && named_first != expected) {
      report.problem = absl::StrCat(
          path, ": starts at sequence ", named_first, " where ", expected,
          " belongs (",
          named_first > expected ? "records removed" : "reordered", ")");
      break;
    }
    if (i == 0) expected = named_first;
    const bool last = i + 1 == segments->size();
    std::optional<std::string> frame_problem;
    importgate::decisionlog::v1::LogEntry entry;
    auto scan = ScanSegment(path, [&](const Frame& frame) {
      if (frame_problem.has_value()) return;
      const auto where = [&] {
        return absl::StrCat(path, " at offset ", frame.offset);
      };
      if (!entry.ParseFromArray(frame.entry.data(),
                                static_cast<int>(frame.entry.size()))) {
        frame_problem = absl::StrCat(where(), ": an entry is not a LogEntry");
        return;
      }
      if (entry.sequence() != expected) {
        frame_problem = absl::StrCat(
            where(), ": sequence ", entry.sequence(), " where ", expected,
            " belongs (",
            entry.sequence() > expected ? "records removed" : "reordered", ")");
        return;
      }
      ++expected;
      if (entry.has_decision()) {
        ++report.decisions;
      } else {
        ++report.events;
        if (entry.event().kind() ==
            importgate::decisionlog::v1::LogEvent::KIND_SEGMENTS_REMOVED) {
          report.retention_kept_from = entry.event().count();
        }
      }
    });
    if (!scan.ok()) {
      report.problem = std::string(scan.status().message());
      break;
    }
    ++report.segments;
    if (i == 0) {
      report.first_sequence = named_first;
      if (named_first == 1 && scan->header.prev_chain != Chain{}) {
        report.problem = absl::StrCat(
            path, ": the first segment's header has a previous chain");
        break;
      }
    } else if (scan->header.prev_chain != *chain) {
      report.problem = absl::StrCat(
          path,
          ": its header does not continue the chain of the segment "
          "before it (a segment was removed, replaced or reordered)");
      break;
    }
    if (scan->header.first_sequence != named_first) {
      report.problem = absl::StrCat(path,
                                    ": its header says it starts at "
                                    "sequence ",
                                    scan->header.first_sequence);
      break;
    }
    if (frame_problem.has_value()) {
      report.problem = *frame_problem;
      break;
    }
    if (scan->problem.has_value()) {
      // A frame whose chain fails (altered, or one before it removed), or a
      // cut.
      std::string what = *scan->problem;
      if (!scan->problem_entry.empty() &&
          entry.ParseFromString(scan->problem_entry)) {
        if (entry.sequence() == expected) {
          what = absl::StrCat(
              "record ", expected,
              entry.has_decision()
                  ? absl::StrCat(" (decision ", entry.decision().decision_id(),
                                 ")")
                  : std::string(),
              " was altered");
        } else {
          what = absl::StrCat("it holds sequence ", entry.sequence(),
                              ": records were removed or moved");
        }
      }
      report.problem =
          absl::StrCat(path, " at offset ", scan->problem_offset,
                       ", where sequence ", expected, " belongs: ", what,
                       last ? "" : " (and segments follow it)");
      break;
    }
    chain = scan->last_chain;
    report.head = scan->last_chain;
  }
  if (!report.problem.has_value()) {
    report.last_sequence = expected - 1;
    // Records before the first segment are accounted for only by
    // retention.
    const uint64_t allowed = std::max<uint64_t>(1, report.retention_kept_from);
    if (report.first_sequence > allowed) {
      report.problem = absl::StrCat(
          (*segments)[0].second, ": the log starts at sequence ",
          report.first_sequence, " but ",
          report.retention_kept_from == 0
              ? std::string("no retention event removed the records before it")
              : absl::StrCat("retention kept from sequence ", allowed),
          " (records removed)");
    }
  }
  return report;
}

}  // namespace importgate::decisionlog
