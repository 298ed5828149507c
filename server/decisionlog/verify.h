// Checking a decision log directory: every segment's chain, from the first
// segment to the last, and the sequence numbers across them. Names the
// first place where a record was altered, removed, reordered or cut.
//
// The first segment may start after sequence 1 only where retention
// removed older ones: the newest KIND_SEGMENTS_REMOVED event names the
// first sequence kept, and a first segment starting later is a removal.
// Whole segments removed from the end leave a shorter chain that still
// verifies: compare `head` with a copy kept elsewhere (docs/decision-log.md).
//
// Thread safety: thread-compatible; reads files only.
#ifndef IMPORTGATE_SERVER_DECISIONLOG_VERIFY_H_
#define IMPORTGATE_SERVER_DECISIONLOG_VERIFY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/decisionlog/segment.h"

namespace importgate::decisionlog {

struct VerifyReport {
  uint64_t segments = 0;
  uint64_t decisions = 0;  // decision records
  uint64_t events = 0;     // the log's own events
  uint64_t first_sequence = 0;
  // The first sequence retention kept, by the newest such event (0: none).
  uint64_t retention_kept_from = 0;
  uint64_t last_sequence = 0;
  Chain head{};  // the chain after the last entry
  // The first problem, naming the segment file, byte offset and sequence:
  // unset when the whole directory verifies.
  std::optional<std::string> problem;
};

// Verifies `dir`. The report is the answer, problems included; errors are
// only for a directory that cannot be read (NOT_FOUND, INTERNAL).
absl::StatusOr<VerifyReport> VerifyDirectory(const std::string& dir);

}  // namespace importgate::decisionlog

#endif  // IMPORTGATE_SERVER_DECISIONLOG_VERIFY_H_
