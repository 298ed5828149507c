// Log records in both formats: the text line operators read, and the JSON
// object per line that log shippers parse (checked with protobuf's JSON
// parser, so every record is valid JSON whatever the message holds).
#include "server/common/log.h"

#include <string>

#include "absl/strings/match.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace importgate {
namespace {

google::protobuf::Struct ParseJson(const std::string& line) {
  google::protobuf::Struct out;
  EXPECT_TRUE(absl::EndsWith(line, "}\n")) << line;
  auto status = google::protobuf::util::JsonStringToMessage(line, &out);
  EXPECT_TRUE(status.ok()) << status << "\n" << line;
  return out;
}

std::string Field(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? "<missing>" : it->second.string_value();
}

TEST(LogTest, JsonRecordsCarryTimeLevelMessageAndFields) {
  const std::string line = FormatLogLine(
      LogFormat::kJson, LogSeverity::kInfo,
      "activated bundle marketplace-id revision 2",
      {{"bundle", "marketplace-id"},
       {"revision", "2"},
       {"digest", "sha256:ab"},
       {"traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line
  const google::protobuf::Struct s = ParseJson(line);
  EXPECT_EQ(Field(s, "level"), "info");
  EXPECT_EQ(Field(s, "message"), "activated bundle marketplace-id revision 2");
  EXPECT_EQ(Field(s, "bundle"), "marketplace-id");
  EXPECT_EQ(Field(s, "revision"), "2");
  EXPECT_EQ(Field(s, "digest"), "sha256:ab");
  EXPECT_EQ(Field(s, "traceparent"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(Field(s, "time").size(), 24u);  // 2026-11-30T10:00:00.000Z
  EXPECT_TRUE(absl::EndsWith(Field(s, "time"), "Z"));
}

TEST(LogTest, JsonEscapesWhatAMessageMayHold) {
  const std::string odd =
      "say \"hi\"\\ line\nbreak\ttab \x01 caf\xe9 \xe4\xb8\xad";
  const std::string line = FormatLogLine(LogFormat::kJson, LogSeverity::kError,
                                         odd, {{"error", odd}});
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const google::protobuf::Struct s = ParseJson(line);
  EXPECT_EQ(Field(s, "level"), "error");
  EXPECT_TRUE(
      absl::StrContains(Field(s, "message"), "say \"hi\"\\ line\nbreak"));
  EXPECT_TRUE(absl::StrContains(Field(s, "message"), "\xe4\xb8\xad"));
  EXPECT_EQ(Field(s, "message"), Field(s, "error"));
}

TEST(LogTest, TextRecordsAreUnchangedByFields) {
  const std::string line =
      FormatLogLine(LogFormat::kText, LogSeverity::kWarning, "bundle stale: x",
                    {{"error", "x"}});
  EXPECT_TRUE(absl::EndsWith(line, " W importgate: bundle stale: x\n")) << line;
}

TEST(LogTest, FormatIsTextOrJson) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("yaml").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(ParseLogFormat("yaml").status().message(),
                               "--log_format:"));
}

}  // namespace
}  // namespace importgate
