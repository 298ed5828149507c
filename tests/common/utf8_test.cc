// Tests for server/common/utf8.h: what counts as UTF-8, and quoting that
// never produces anything else.
#include "server/common/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace importgate {
namespace {

struct Utf8Case {
  const char* name;
  std::string text;
  bool valid;
  size_t prefix;  // ValidUtf8Prefix
};

TEST(Utf8Test, ValidatesAsRfc3629) {
  const Utf8Case cases[] = {
      {"empty", "", true, 0},
      {"ascii", "cafe", true, 4},
      {"latin1_byte", "caf\xe9", false, 3},
      {"two_byte", "caf\xc3\xa9", true, 5},
      {"chinese", "\xe6\x9c\x8d\xe8\xa3\x85", true, 6},
      {"four_byte", "\xf0\x9f\x98\x80", true, 4},
      {"max_code_point", "\xf4\x8f\xbf\xbf", true, 4},
      {"above_max", "\xf4\x90\x80\x80", false, 0},
      {"surrogate", "a\xed\xa0\x80", false, 1},
      {"overlong_slash", "\xc0\xaf", false, 0},
      {"overlong_three", "\xe0\x80\xaf", false, 0},
      {"lone_continuation", "ab\x80", false, 2},
      {"truncated_three", "x\xe6\x9c", false, 1},
      {"nul_is_valid", std::string("a\0b", 3), true, 3},
  };
  for (const Utf8Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(IsValidUtf8(c.text), c.valid);
    EXPECT_EQ(ValidUtf8Prefix(c.text), c.prefix);
  }
}

TEST(Utf8Test, ToValidUtf8ReplacesEachBadByte) {
  EXPECT_EQ(ToValidUtf8("caf\xe9"), "caf\xef\xbf\xbd");
  EXPECT_EQ(ToValidUtf8("\xff\xfe"
                        "ok"),
            "\xef\xbf\xbd\xef\xbf\xbdok");
  EXPECT_EQ(ToValidUtf8("\xe6\x9c\x8d"), "\xe6\x9c\x8d");
  EXPECT_EQ(ToValidUtf8("x\xe6\x9c"), "x\xef\xbf\xbd\xef\xbf\xbd");
}

struct QuoteCase {
  const char* name;
  std::string text;
  size_t max_bytes;
  std::string quoted;
};

TEST(QuoteForMessageTest, QuotesEscapesAndCutsOnCharacters) {
  const std::string a64(64, 'a');
  // "服装/" is 7 bytes; 10 of them are 70.
  std::string chinese;
  for (int i = 0; i < 10; ++i) chinese += "\xe6\x9c\x8d\xe8\xa3\x85/";
  const QuoteCase cases[] = {
      {"empty", "", 64, "\"\""},
      {"short", "UK", 64, "\"UK\""},
      {"exactly_max", a64, 64, "\"" + a64 + "\""},
      {"one_over", a64 + "a", 64, "\"" + a64 + "...\""},
      // 9 whole "服装/" are 63 bytes; the 10th "服" would end at byte 66.
      {"cut_before_character", chinese, 64,
       "\"" + chinese.substr(0, 63) + "...\""},
      {"cut_inside_two_byte", "abc\xc3\xa9", 4, "\"abc...\""},
      {"latin1", "caf\xe9", 64, "\"caf\\xe9\""},
      {"control", "a\nb\x7f", 64, "\"a\\x0ab\\x7f\""},
      {"quote_and_backslash", "say \"hi\\\"", 64, "\"say \\\"hi\\\\\\\"\""},
      {"truncated_character", "x\xe6\x9c", 64, "\"x\\xe6\\x9c\""},
  };
  for (const QuoteCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::string quoted = QuoteForMessage(c.text, c.max_bytes);
    EXPECT_EQ(quoted, c.quoted);
    EXPECT_TRUE(IsValidUtf8(quoted));
  }
}

// Whatever the bytes, the quote is valid UTF-8 and never longer than a
// fixed multiple of the cut.
TEST(QuoteForMessageTest, EveryByteStringQuotesToValidUtf8) {
  std::string text;
  for (int i = 0; i < 4096; ++i) {
    text.push_back(static_cast<char>((i * 131 + 7) % 256));
    std::string quoted = QuoteForMessage(text);
    ASSERT_TRUE(IsValidUtf8(quoted)) << i;
    ASSERT_LE(quoted.size(), 4 * kMaxQuotedBytes + 5) << i;
  }
}

}  // namespace
}  // namespace importgate
