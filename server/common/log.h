// One-line operational log records on stderr: one per start, bundle
// activation, refusal, admin call and error. Not for the request path:
// decisions are never logged here.
//
// Two formats, chosen once at start (SetLogFormat, --log_format):
//   text  "<RFC 3339 UTC time> <I|W|E> importgate: <message>" (the fields
//         are for machines; the message already says what they hold)
//   json  {"time":"...","level":"info|warning|error","message":"...",
//          "<key>":"<value>",...}  one object per line, for log shippers.
// Fields carry what a shipper indexes: bundle, revision, digest, peer
// (the caller's identity), traceparent (W3C, when a caller sent one),
// error.
//
// Thread safety: safe to call from any thread; each record is written with
// one write(2) so lines from different threads do not interleave.
// SetLogFormat is meant for main(), before other threads log.
#ifndef IMPORTGATE_SERVER_COMMON_LOG_H_
#define IMPORTGATE_SERVER_COMMON_LOG_H_

#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace importgate {

enum class LogSeverity { kInfo, kWarning, kError };
enum class LogFormat { kText, kJson };

// Parses "text" or "json"; INVALID_ARGUMENT naming --log_format otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text);
void SetLogFormat(LogFormat format);

// One field of a record; values are made valid UTF-8 when written.
struct LogField {
  absl::string_view key;
  std::string value;
};

// Formats a record (without writing it), as LogLine writes it.
std::string FormatLogLine(LogFormat format, LogSeverity severity,
                          absl::string_view message,
                          std::initializer_list<LogField> fields = {});

// Writes a record in the process's format to stderr.
void LogLine(LogSeverity severity, absl::string_view message,
             std::initializer_list<LogField> fields = {});

inline void LogInfo(absl::string_view message,
                    std::initializer_list<LogField> fields = {}) {
  LogLine(LogSeverity::kInfo, message, fields);
}
inline void LogWarning(absl::string_view message,
                       std::initializer_list<LogField> fields = {}) {
  LogLine(LogSeverity::kWarning, message, fields);
}
inline void LogError(absl::string_view message,
                     std::initializer_list<LogField> fields = {}) {
  LogLine(LogSeverity::kError, message, fields);
}

}  // namespace importgate

#endif  // IMPORTGATE_SERVER_COMMON_LOG_H_
