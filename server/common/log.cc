#include "server/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/common/utf8.h"

namespace importgate {
namespace {

// The process's format: set once by main() (SetLogFormat).
std::atomic<LogFormat> g_format{LogFormat::kText};

// `text` as the inside of a JSON string.
void AppendJsonString(absl::string_view text, std::string* out) {
  const std::string valid = ToValidUtf8(text);
  out->push_back('"');
  for (char c : valid) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
          out->append(escaped);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(absl::StrCat(
      "--log_format: ", QuoteForMessage(text), " is not one of text, json"));
}

void SetLogFormat(LogFormat format) { g_format.store(format); }

std::string FormatLogLine(LogFormat format, LogSeverity severity,
                          absl::string_view message,
                          std::initializer_list<LogField> fields) {
  const std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                            absl::UTCTimeZone());
  std::string line;
  if (format == LogFormat::kText) {
    const char* letter = severity == LogSeverity::kInfo      ? "I"
                         : severity == LogSeverity::kWarning ? "W"
                                                             : "E";
    // The message already says what the fields hold, for a reader.
    line = absl::StrCat(time, " ", letter, " importgate: ", message);
  } else {
    const char* level = severity == LogSeverity::kInfo      ? "info"
                        : severity == LogSeverity::kWarning ? "warning"
                                                            : "error";
    line = absl::StrCat("{\"time\":\"", time, "\",\"level\":\"", level,
                        "\",\"message\":");
    AppendJsonString(message, &line);
    for (const LogField& f : fields) {
      line.push_back(',');
      AppendJsonString(f.key, &line);
      line.push_back(':');
      AppendJsonString(f.value, &line);
    }
    line.push_back('}');
  }
  line.push_back('\n');
  return line;
}

void LogLine(LogSeverity severity, absl::string_view message,
             std::initializer_list<LogField> fields) {
  const std::string line =
      FormatLogLine(g_format.load(), severity, message, fields);
  // One write per record; a short write to stderr is not worth retrying.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace importgate
