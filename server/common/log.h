// One-line operational log records on stderr: one line per start, bundle
// activation and error, each with a UTC timestamp and a severity letter.
// Not for the request path: decisions are never logged here.
//
// Thread safety: safe to call from any thread; each record is written with
// one write(2) so lines from different threads do not interleave.
#ifndef IMPORTGATE_SERVER_COMMON_LOG_H_
#define IMPORTGATE_SERVER_COMMON_LOG_H_

#include "absl/strings/string_view.h"

namespace importgate {

enum class LogSeverity { kInfo, kWarning, kError };

// Writes "<RFC 3339 UTC time> <I|W|E> importgate: <message>\n" to stderr.
void LogLine(LogSeverity severity, absl::string_view message);

inline void LogInfo(absl::string_view message) {
  LogLine(LogSeverity::kInfo, message);
}
inline void LogWarning(absl::string_view message) {
  LogLine(LogSeverity::kWarning, message);
}
inline void LogError(absl::string_view message) {
  LogLine(LogSeverity::kError, message);
}

}  // namespace importgate

#endif  // IMPORTGATE_SERVER_COMMON_LOG_H_
