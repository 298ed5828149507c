#include "server/compiler/compiler.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/utf8.h"
#include "server/compiler/snapshot.h"
#include "server/policy/bundle_source.h"
#include "tests/testing/test_bundles.h"

namespace importgate {
namespace {

namespace it = ::importgate::testing;
using it::MustCompile;
namespace v1 = ::importgate::v1;
using compiler::AttributeTest;
using compiler::CompiledRule;
using compiler::PolicySnapshot;
using compiler::PriceBound;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDeny[] = "EFFECT_DENY";
constexpr char kAllow[] = "EFFECT_ALLOW";
constexpr char kHs61[] = R"pb(hs_codes: [ "61" ])pb";

// One rule in text format: `match` is the inside of its match block and
// `extra` any further Rule fields.
std::string Rule(absl::string_view id, absl::string_view effect, int priority,
                 absl::string_view match, absl::string_view extra = "") {
  return absl::StrCat("rules {\n  id: \"", id, "\"\n  effect: ", effect,
                      "\n  priority: ", priority,
                      "\n  reason_code: \"TEST_REASON\"\n  message: \"test\"",
                      "\n  match { ", match, " }\n  ", extra, "\n}\n");
}

// A rule file whose only `rules` block starts on line kOneRuleLine.
constexpr int kOneRuleLine = 3;
std::string OneRule(absl::string_view body) {
  return absl::StrCat("# One rule under test.\n\nrules {\n", body, "\n}\n");
}

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

const CompiledRule* FindRule(const PolicySnapshot& snapshot,
                             absl::string_view id) {
  for (const CompiledRule& rule : snapshot.rules) {
    if (rule.id == id) return &rule;
  }
  ADD_FAILURE() << "no rule \"" << id << "\" in the snapshot";
  return nullptr;
}

absl::Time Utc(int y, int mo, int d) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, 0, 0, 0),
                         absl::UTCTimeZone());
}

// --- Rule errors ----------------------------------------------------------

struct RuleErrorCase {
  std::string name;
  std::string body;     // the fields of the one rule
  std::string rule_id;  // as reported
  std::string field;    // as reported, e.g. "match.hs_codes[1]"
  std::string detail;   // part of what is wrong
};

constexpr char kHead[] = R"pb(id: "r1"
                              effect: EFFECT_DENY
                              reason_code: "CLOSED"
                              message: "closed")pb";

std::string WithMatch(absl::string_view match, absl::string_view extra = "") {
  return absl::StrCat(kHead, "\n  match { ", match, " }\n  ", extra);
}

// Each case's rule must be refused with INVALID_ARGUMENT naming file, line,
// rule and field, in a message that is itself valid UTF-8.
void ExpectRuleErrors(const std::vector<RuleErrorCase>& cases) {
  for (const RuleErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto snapshot = it::CompileRules(OneRule(c.body));
    if (snapshot.ok()) {
      ADD_FAILURE() << "compiled, but expected an error on " << c.field;
      continue;
    }
    EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message = Message(snapshot.status());
    EXPECT_THAT(message, HasSubstr(absl::StrCat(
                             "rules/r.textproto:", kOneRuleLine, ": rule \"",
                             c.rule_id, "\": ", c.field, ": ")));
    EXPECT_THAT(message, HasSubstr(c.detail));
    EXPECT_TRUE(IsValidUtf8(message)) << message;
  }
}

TEST(CompileRuleErrorsTest, BaseOfTheErrorTableCompiles) {
  EXPECT_TRUE(MustCompile(OneRule(WithMatch(kHs61))) != nullptr);
}

TEST(CompileRuleErrorsTest, EachErrorNamesFileLineRuleAndField) {
  const std::vector<RuleErrorCase> cases = {
      {"price currency is not ISO 4217",
       WithMatch(
           R"pb(unit_price { below { currency_code: "XYZ" units: 100 } })pb"),
       "r1", "match.unit_price.below.currency_code",
       "\"XYZ\" is not an ISO 4217 currency code"},
      {"at_least currency is not ISO 4217",
       WithMatch(
           R"pb(unit_price { at_least { currency_code: "usd" units: 1 } })pb"),
       "r1", "match.unit_price.at_least.currency_code",
       "\"usd\" is not an ISO 4217 currency code"},
      {"price currency is ISO but not in the FX table",
       WithMatch(
           R"pb(unit_price { below { currency_code: "EUR" units: 100 } })pb"),
       "r1", "match.unit_price.below.currency_code",
       "\"EUR\" has no rate in the rate table at manifest.textproto"},
      {"hs pattern with a letter",
       WithMatch(R"pb(hs_codes: [ "61", "61a" ])pb"), "r1", "match.hs_codes[1]",
       "\"61a\" is not an HS code"},
      {"hs range with a one-digit end",
       WithMatch(R"pb(hs_codes: [ "5-63" ])pb"), "r1", "match.hs_codes[0]",
       "\"5\" is not an HS code"},
      {"hs range from high to low", WithMatch(R"pb(hs_codes: [ "63-50" ])pb"),
       "r1", "match.hs_codes[0]", "a range needs two ends of equal length"},
      {"hs range ends of different length",
       WithMatch(R"pb(hs_codes: [ "50-6300" ])pb"), "r1", "match.hs_codes[0]",
       "a range needs two ends of equal length"},
      {"hs range with three ends", WithMatch(R"pb(hs_codes: [ "50-60-70" ])pb"),
       "r1", "match.hs_codes[0]", "is not an HS prefix or range"},
      {"hs range too large", WithMatch(R"pb(hs_codes: [ "1000-9999" ])pb"),
       "r1", "match.hs_codes[0]", "expands to more than 1000 prefixes"},
      {"category in upper case", WithMatch(R"pb(categories: [ "Fashion" ])pb"),
       "r1", "match.categories[0]", "is not a category path"},
      {"category with trailing slash",
       WithMatch(R"pb(categories: [ "fashion", "home/" ])pb"), "r1",
       "match.categories[1]", "empty segment"},
      {"empty match", WithMatch(""), "r1", "match",
       "is empty: set at least one condition"},
      {"missing match", kHead, "r1", "match", "is required"},
      {"effective_until before effective_from",
       WithMatch(kHs61,
                 R"pb(effective_from: "2024-01-02T00:00:00Z"
                      effective_until: "2024-01-01T00:00:00Z")pb"),
       "r1", "effective_until", "the window is empty"},
      {"effective_until equal to effective_from (other offset)",
       WithMatch(kHs61,
                 R"pb(effective_from: "2024-01-01T07:00:00+07:00"
                      effective_until: "2024-01-01T00:00:00Z")pb"),
       "r1", "effective_until", "the window is empty"},
      {"effective_from date only",
       WithMatch(kHs61, R"pb(effective_from: "2024-01-01")pb"), "r1",
       "effective_from", "is not an RFC 3339 time"},
      {"effective_until without offset",
       WithMatch(kHs61, R"pb(effective_until: "2024-01-01T00:00:00")pb"), "r1",
       "effective_until", "is not an RFC 3339 time"},
      {"destination UK is not ISO",
       WithMatch(R"pb(destination_countries: [ "ID", "UK" ])pb"), "r1",
       "match.destination_countries[1]",
       "\"UK\" is not an ISO 3166-1 alpha-2 country code"},
      {"origin UK is not ISO", WithMatch(R"pb(origin_countries: [ "UK" ])pb"),
       "r1", "match.origin_countries[0]", "\"UK\" is not an ISO 3166-1"},
      {"origin_countries_not in lower case",
       WithMatch(R"pb(origin_countries_not: [ "cn" ])pb"), "r1",
       "match.origin_countries_not[0]", "\"cn\" is not an ISO 3166-1"},
      {"seller country unassigned",
       WithMatch(R"pb(seller_countries: [ "XX" ])pb"), "r1",
       "match.seller_countries[0]", "\"XX\" is not an ISO 3166-1"},
      {"seller kind unspecified", WithMatch(R"pb(seller_kinds: [
                                                   SELLER_KIND_CROSS_BORDER,
                                                   SELLER_KIND_UNSPECIFIED
                                                 ])pb"),
       "r1", "match.seller_kinds[1]",
       "must be SELLER_KIND_DOMESTIC or SELLER_KIND_CROSS_BORDER"},
      {"channel unspecified",
       WithMatch(R"pb(channels: [ CHANNEL_UNSPECIFIED ])pb"), "r1",
       "match.channels[0]", "must be CHANNEL_LISTING or CHANNEL_CHECKOUT"},
      {"missing effect",
       R"pb(id: "r1"
            reason_code: "CLOSED"
            message: "closed"
            match { hs_codes: [ "61" ] })pb",
       "r1", "effect", "must be EFFECT_ALLOW or EFFECT_DENY"},
      {"missing reason_code",
       R"pb(id: "r1"
            effect: EFFECT_DENY
            message: "closed"
            match { hs_codes: [ "61" ] })pb",
       "r1", "reason_code", "must be 1 to 64 of [A-Z0-9_]"},
      {"lower-case reason_code",
       R"pb(id: "r1"
            effect: EFFECT_DENY
            reason_code: "closed"
            message: "closed"
            match { hs_codes: [ "61" ] })pb",
       "r1", "reason_code", "must be 1 to 64 of [A-Z0-9_]"},
      {"missing message",
       R"pb(id: "r1"
            effect: EFFECT_DENY
            reason_code: "CLOSED"
            match { hs_codes: [ "61" ] })pb",
       "r1", "message", "is required"},
      {"id with a space and a bang",
       R"pb(id: "bad id!"
            effect: EFFECT_DENY
            reason_code: "CLOSED"
            message: "closed"
            match { hs_codes: [ "61" ] })pb",
       "bad id!", "id", "must be 1 to 128 of [A-Za-z0-9._-]"},
      {"price with neither below nor at_least",
       WithMatch(R"pb(unit_price {})pb"), "r1", "match.unit_price",
       "set one of below or at_least"},
      {"negative price",
       WithMatch(
           R"pb(unit_price { below { currency_code: "USD" units: -1 } })pb"),
       "r1", "match.unit_price.below", "must not be negative"},
      {"price nanos out of range",
       WithMatch(
           R"pb(unit_price {
                  below { currency_code: "USD" units: 1 nanos: 1000000000 }
                })pb"),
       "r1", "match.unit_price.below", "out of range"},
      {"attribute with no test", WithMatch(R"pb(attributes { key: "k" })pb"),
       "r1", "match.attributes[0]", "set one of equals, in or present"},
      {"attribute in with no values", WithMatch(R"pb(attributes {
                                                       key: "k"
                                                       in {}
                                                     })pb"),
       "r1", "match.attributes[0].in", "must list at least one value"},
      {"attribute with no key",
       WithMatch(R"pb(attributes { key: "k" equals: "v" }
                      attributes { equals: "v" })pb"),
       "r1", "match.attributes[1].key", "must be 1 to 64 bytes"},
      {"empty unless", WithMatch(kHs61, "unless {}"), "r1", "unless[0]",
       "is empty: set at least one condition"},
      {"unknown country in the second unless",
       WithMatch(kHs61, R"pb(unless { hs_codes: [ "6109" ] }
                             unless { origin_countries: [ "UK" ] })pb"),
       "r1", "unless[1].origin_countries[0]", "\"UK\" is not an ISO 3166-1"},
      {"cache_ttl over 24h",
       WithMatch(kHs61, R"pb(cache_ttl { seconds: 86401 })pb"), "r1",
       "cache_ttl", "must be at most 24h"},
      {"negative cache_ttl",
       WithMatch(kHs61, R"pb(cache_ttl { seconds: -1 })pb"), "r1", "cache_ttl",
       "must be a non-negative duration"},
  };
  ExpectRuleErrors(cases);
}

// Every text a rule sends to callers is UTF-8 and bounded, checked when
// the bundle is compiled: a Latin-1 byte anywhere would make each answer by
// the rule undecodable for protobuf clients. Written as text-format octal
// escapes (\351 is the byte 0xE9, "e acute" in Latin-1) and as raw bytes.
TEST(CompileRuleErrorsTest, TextThatIsNotUtf8OrTooLongIsAnError) {
  auto body = [](absl::string_view message, absl::string_view extra) {
    return absl::StrCat("id: \"r1\" effect: EFFECT_DENY reason_code: \"C\"\n",
                        "  message: \"", message, "\"\n  match { ", kHs61,
                        " }\n  ", extra);
  };
  const std::string long_message(compiler::kMaxMessageBytes + 1, 'm');
  const std::string long_basis(compiler::kMaxLegalBasisBytes + 1, 'b');
  const std::vector<RuleErrorCase> cases = {
      {"message with an escaped Latin-1 byte", body("caf\\351", ""), "r1",
       "message", "is not valid UTF-8: byte 3"},
      {"message with a raw Latin-1 byte", body("caf\xe9", ""), "r1", "message",
       "is not valid UTF-8: byte 3"},
      {"message with a surrogate", body("x\\355\\240\\200", ""), "r1",
       "message", "is not valid UTF-8: byte 1"},
      {"message with a cut character", body("\\346\\234", ""), "r1", "message",
       "is not valid UTF-8: byte 0"},
      {"legal_basis", body("ok", "legal_basis: \"Permendag \\351\""), "r1",
       "legal_basis", "is not valid UTF-8: byte 10"},
      {"description", body("ok", "description: \"\\377\""), "r1", "description",
       "is not valid UTF-8"},
      {"attribute value",
       WithMatch(R"pb(attributes { key: "brand" equals: "caf\351" })pb"), "r1",
       "match.attributes[0].equals", "is not valid UTF-8"},
      {"attribute key",
       WithMatch(R"pb(attributes { key: "k\351" present: true })pb"), "r1",
       "match.attributes[0].key", "is not valid UTF-8"},
      {"exception's attribute list",
       WithMatch(kHs61, R"pb(unless {
                               attributes {
                                 key: "a"
                                 in { values: [ "ok", "\351" ] }
                               }
                             })pb"),
       "r1", "unless[0].attributes[0].in.values[1]", "is not valid UTF-8"},
      {"message over its bound", body(long_message, ""), "r1", "message",
       "must be at most 1024 bytes, got 1025"},
      {"legal_basis over its bound",
       body("ok", absl::StrCat("legal_basis: \"", long_basis, "\"")), "r1",
       "legal_basis", "must be at most 2048 bytes, got 2049"},
  };
  ExpectRuleErrors(cases);
}

// An error about a value that is itself not UTF-8 (here a rule id, whose
// charset check fails) quotes it escaped: the refusal GetStatus reports
// must itself be sendable.
TEST(CompileRuleErrorsTest, ErrorsQuotingBadBytesAreUtf8) {
  auto snapshot = it::CompileRules(OneRule(
      absl::StrCat("id: \"r\\351\" effect: EFFECT_DENY reason_code: \"C\" "
                   "message: \"m\" match { ",
                   kHs61, " }")));
  ASSERT_FALSE(snapshot.ok());
  const std::string message = Message(snapshot.status());
  EXPECT_TRUE(IsValidUtf8(message)) << message;
  EXPECT_THAT(message, HasSubstr("rule \"r\\xe9\": id: \"r\\xe9\" must be"));
}

TEST(CompileRuleErrorsTest, DuplicateIdIsReportedAtTheSecondRule) {
  constexpr char kRules[] =
      "rules {\n"  // 1
      "  id: \"dup\" effect: EFFECT_DENY reason_code: \"A\" message: \"a\"\n"
      "  match { hs_codes: [\"61\"] }\n"  // 3
      "}\n"                               // 4
      "rules {\n"                         // 5
      "  id: \"dup\" effect: EFFECT_ALLOW reason_code: \"B\" message: \"b\"\n"
      "  match { hs_codes: [\"62\"] }\n"  // 7
      "}\n";
  auto snapshot = it::CompileRules(kRules);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(snapshot.status()),
              HasSubstr("rules/r.textproto:5: rule \"dup\": id: "
                        "duplicate rule id"));
  EXPECT_THAT(Message(snapshot.status()),
              Not(HasSubstr("rules/r.textproto:1: rule \"dup\": id:")));
}

TEST(CompileRuleErrorsTest, DuplicateIdAcrossFilesIsAnError) {
  const std::string rule = Rule("dup", kDeny, 0, kHs61);
  auto parsed = policy::ParseBundle(std::vector<policy::SourceFile>{
      {"manifest.textproto", it::TestManifest()},
      {"rules/a.textproto", rule},
      {"rules/b.textproto", rule}});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto snapshot = compiler::Compile(*parsed, it::RealIsoCodes());
  ASSERT_FALSE(snapshot.ok());
  EXPECT_THAT(Message(snapshot.status()),
              HasSubstr("rules/b.textproto:1: rule \"dup\": id: "
                        "duplicate rule id"));
}

TEST(CompileRuleErrorsTest, AllErrorsAreReportedInOneStatus) {
  constexpr char kManifestWithoutRevision[] = R"pb(
    name: "test"
    default_effect: EFFECT_ALLOW
    default_reason_code: "NO_RULE_MATCHED"
  )pb";
  constexpr char kRules[] =
      "rules {\n"  // 1
      "  id: \"a\" effect: EFFECT_DENY reason_code: \"R\" message: \"m\"\n"
      "  match { hs_codes: [\"6x\"] }\n"                 // 3
      "}\n"                                              // 4
      "rules {\n"                                        // 5
      "  id: \"b\" reason_code: \"R\" message: \"m\"\n"  // 6
      "  match { destination_countries: [\"UK\"] }\n"    // 7
      "}\n";
  auto snapshot = it::CompileRules(kRules, kManifestWithoutRevision);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> lines =
      absl::StrSplit(snapshot.status().message(), '\n');
  ASSERT_EQ(lines.size(), 4u) << snapshot.status();
  EXPECT_TRUE(absl::StartsWith(lines[0], "manifest.textproto: revision: "))
      << lines[0];
  EXPECT_TRUE(absl::StartsWith(
      lines[1], "rules/r.textproto:1: rule \"a\": match.hs_codes[0]: "))
      << lines[1];
  EXPECT_TRUE(
      absl::StartsWith(lines[2], "rules/r.textproto:5: rule \"b\": effect: "))
      << lines[2];
  EXPECT_TRUE(absl::StartsWith(
      lines[3],
      "rules/r.textproto:5: rule \"b\": match.destination_countries[0]: "))
      << lines[3];
}

TEST(CompileRuleErrorsTest, ReportedErrorsAreCapped) {
  std::string rules;
  const int kBadRules = compiler::kMaxReportedErrors + 10;
  for (int i = 0; i < kBadRules; ++i) {
    absl::StrAppend(&rules, Rule(absl::StrCat("r", i), kDeny, 0, ""));
  }
  auto snapshot = it::CompileRules(rules);
  ASSERT_FALSE(snapshot.ok());
  const std::vector<std::string> lines =
      absl::StrSplit(snapshot.status().message(), '\n');
  ASSERT_EQ(lines.size(),
            static_cast<size_t>(compiler::kMaxReportedErrors) + 1);
  EXPECT_EQ(lines.back(), "... and 10 more errors");
}

TEST(CompileRuleErrorsTest, NullIsoCodesIsAnError) {
  auto parsed = policy::ParseBundle(
      it::BundleFiles(it::TestManifest(), Rule("r", kDeny, 0, kHs61)));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto snapshot = compiler::Compile(*parsed, nullptr);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kInvalidArgument);
}

// --- Manifest errors ------------------------------------------------------

struct ManifestErrorCase {
  std::string name;
  std::string manifest;
  std::string field;
  std::string detail;
};

TEST(CompileManifestErrorsTest, BaseOfTheErrorTableCompiles) {
  constexpr char kMinimal[] = R"pb(
    name: "test"
    revision: 1
    default_effect: EFFECT_DENY
    default_reason_code: "NO_RULE_MATCHED"
  )pb";
  EXPECT_TRUE(MustCompile(Rule("r", kDeny, 0, kHs61), kMinimal) != nullptr);
}

TEST(CompileManifestErrorsTest, EachErrorNamesTheManifestAndField) {
  const std::string ok_head = R"pb(
    name: "test"
    revision: 1
    default_effect: EFFECT_ALLOW
    default_reason_code: "NO_RULE_MATCHED"
  )pb";
  const std::vector<ManifestErrorCase> cases = {
      {"name with upper case and a space",
       R"pb(name: "Bad Name"
            revision: 1
            default_effect: EFFECT_ALLOW
            default_reason_code: "NO_RULE_MATCHED")pb",
       "name", "\"Bad Name\" must be 1 to 64 of [a-z0-9._-]"},
      {"missing name",
       R"pb(revision: 1
            default_effect: EFFECT_ALLOW
            default_reason_code: "NO_RULE_MATCHED")pb",
       "name", "must be 1 to 64 of [a-z0-9._-]"},
      {"revision 0",
       R"pb(name: "test"
            revision: 0
            default_effect: EFFECT_ALLOW
            default_reason_code: "NO_RULE_MATCHED")pb",
       "revision", "must be > 0"},
      {"missing default_effect",
       R"pb(name: "test" revision: 1 default_reason_code: "NO_RULE_MATCHED")pb",
       "default_effect", "must be EFFECT_ALLOW or EFFECT_DENY"},
      {"lower-case default_reason_code",
       R"pb(name: "test"
            revision: 1
            default_effect: EFFECT_ALLOW
            default_reason_code: "no_rule")pb",
       "default_reason_code", "must be 1 to 64 of [A-Z0-9_]"},
      {"default_cache_ttl over 24h",
       ok_head + R"pb(default_cache_ttl { seconds: 90000 })pb",
       "default_cache_ttl", "must be at most 24h"},
      {"fx base currency not ISO",
       ok_head + R"pb(fx { base_currency: "XYZ" })pb", "fx.base_currency",
       "\"XYZ\" is not an ISO 4217 currency code"},
      {"fx base currency missing", ok_head + R"pb(fx {})pb", "fx.base_currency",
       "is not an ISO 4217 currency code"},
      {"fx rate listed twice",
       ok_head + R"pb(fx {
                        base_currency: "USD"
                        rates { currency_code: "IDR" per_base: "15500" }
                        rates { currency_code: "IDR" per_base: "16000" }
                      })pb",
       "fx.rates[1].currency_code", "\"IDR\" is listed twice"},
      {"fx rate for the base currency",
       ok_head + R"pb(fx {
                        base_currency: "USD"
                        rates { currency_code: "USD" per_base: "1" }
                      })pb",
       "fx.rates[0].currency_code", "(or is the base currency)"},
      {"fx rate currency not ISO",
       ok_head + R"pb(fx {
                        base_currency: "USD"
                        rates { currency_code: "XYZ" per_base: "1" }
                      })pb",
       "fx.rates[0].currency_code", "\"XYZ\" is not an ISO 4217 currency code"},
      {"per_base not a number",
       ok_head + R"pb(fx {
                        base_currency: "USD"
                        rates { currency_code: "IDR" per_base: "abc" }
                      })pb",
       "fx.rates[0].per_base", "\"abc\" is not a decimal"},
      {"per_base zero",
       ok_head + R"pb(fx {
                        base_currency: "USD"
                        rates { currency_code: "IDR" per_base: "0" }
                      })pb",
       "fx.rates[0].per_base", "must be > 0"},
      {"description not UTF-8", ok_head + R"pb(description: "caf\351")pb",
       "description", "is not valid UTF-8: byte 3"},
      {"default_message not UTF-8",
       ok_head + R"pb(default_message: "ok \351")pb", "default_message",
       "is not valid UTF-8: byte 3"},
      {"default_message over its bound",
       ok_head + absl::StrCat("default_message: \"",
                              std::string(compiler::kMaxMessageBytes + 1, 'x'),
                              "\""),
       "default_message", "must be at most 1024 bytes"},
      {"per_base with 7 decimals",
       ok_head + R"pb(fx {
                        base_currency: "USD"
                        rates { currency_code: "CNY" per_base: "7.2000001" }
                      })pb",
       "fx.rates[0].per_base", "is not a decimal with at most 6 decimals"},
  };
  // No price condition, so that FX errors do not cascade into rule errors.
  const std::string rules = Rule("r", kDeny, 0, kHs61);
  for (const ManifestErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto snapshot = it::CompileRules(rules, c.manifest);
    if (snapshot.ok()) {
      ADD_FAILURE() << "compiled, but expected an error on " << c.field;
      continue;
    }
    EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message = Message(snapshot.status());
    EXPECT_THAT(message,
                HasSubstr(absl::StrCat("manifest.textproto: ", c.field, ": ")));
    EXPECT_THAT(message, HasSubstr(c.detail));
  }
}

TEST(CompileManifestErrorsTest, PriceRuleWithoutFxTableIsAnError) {
  constexpr char kNoFx[] = R"pb(
    name: "test"
    revision: 1
    default_effect: EFFECT_ALLOW
    default_reason_code: "NO_RULE_MATCHED"
  )pb";
  auto snapshot = it::CompileRules(
      Rule("p", kDeny, 0,
           R"pb(unit_price { below { currency_code: "USD" units: 100 } })pb"),
      kNoFx);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_THAT(Message(snapshot.status()),
              HasSubstr("rule \"p\": match.unit_price.below.currency_code: "
                        "the bundle has no exchange-rate table"));
}

// --- The compiled snapshot ------------------------------------------------

TEST(CompileSnapshotTest, ManifestAndFxAreCompiled) {
  auto snapshot = MustCompile(Rule("r", kDeny, 0, kHs61), it::TestManifest(3));
  ASSERT_TRUE(snapshot != nullptr);
  EXPECT_EQ(snapshot->name, "test");
  EXPECT_EQ(snapshot->revision, 3u);
  EXPECT_EQ(snapshot->default_effect, v1::EFFECT_ALLOW);
  EXPECT_EQ(snapshot->default_reason_code, "NO_RULE_MATCHED");
  EXPECT_EQ(snapshot->default_message, "no rule matched");
  EXPECT_EQ(snapshot->default_cache_ttl, absl::Seconds(60));
  EXPECT_TRUE(snapshot->iso_codes == it::RealIsoCodes());
  // Manifest.fx alone: one table, in force at every instant.
  ASSERT_EQ(snapshot->rate_tables.size(), 1u);
  ASSERT_EQ(snapshot->rate_periods.size(), 1u);
  EXPECT_EQ(snapshot->rate_periods[0].from, absl::InfinitePast());
  EXPECT_EQ(snapshot->rate_periods[0].until, absl::InfiniteFuture());
  const compiler::RateTable& table = *snapshot->rate_periods[0].table;
  EXPECT_EQ(&table, &snapshot->rate_tables[0]);
  EXPECT_EQ(table.base, PackCurrency("USD"));
  EXPECT_EQ(table.quote, compiler::RateTable::Quote::kPerBase);
  EXPECT_EQ(table.location, "manifest.textproto");
  EXPECT_EQ(table.rates.size(), 3u);
  struct Want {
    std::string currency;
    int64_t micros;
    std::string text;
  };
  const std::vector<Want> want_rates = {{"USD", 1'000'000, "1"},
                                        {"IDR", 15'500'000'000, "15500"},
                                        {"CNY", 7'200'000, "7.2"}};
  for (const Want& want : want_rates) {
    SCOPED_TRACE(want.currency);
    auto found = table.rates.find(PackCurrency(want.currency));
    ASSERT_TRUE(found != table.rates.end());
    EXPECT_EQ(found->second.micros, want.micros);
    EXPECT_EQ(found->second.text, want.text);
  }
}

TEST(CompileSnapshotTest, RulesAreInResolutionOrder) {
  // Priority desc, then specificity desc, then DENY before ALLOW, then id.
  const std::string rules = Rule("a-allow-p0-s1", kAllow, 0, kHs61) +
                            Rule("e-deny-neg", kDeny, -1, kHs61) +
                            Rule("c-deny-p0-s1", kDeny, 0, kHs61) +
                            Rule("z-allow-p5-s1", kAllow, 5, kHs61) +
                            Rule("b-deny-p0-s1", kDeny, 0, kHs61) +
                            Rule("d-allow-p0-s2", kAllow, 0,
                                 R"pb(hs_codes: [ "61" ]
                                      destination_countries: [ "ID" ])pb");
  auto snapshot = MustCompile(rules);
  ASSERT_TRUE(snapshot != nullptr);
  std::vector<std::string> ids;
  for (const CompiledRule& rule : snapshot->rules) ids.push_back(rule.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"z-allow-p5-s1", "d-allow-p0-s2",
                                           "b-deny-p0-s1", "c-deny-p0-s1",
                                           "a-allow-p0-s1", "e-deny-neg"}));
}

TEST(CompileSnapshotTest, SpecificityCountsConditionFields) {
  struct Case {
    std::string name;
    std::string match;
    std::string extra;
    int want;
  };
  const std::vector<Case> cases = {
      {"hs only", kHs61, "", 1},
      {"hs and categories count once", R"pb(hs_codes: [ "61" ]
                                            categories: [ "fashion" ])pb",
       "", 1},
      {"categories only", R"pb(categories: [ "fashion", "home" ])pb", "", 1},
      {"many values in one field count once",
       R"pb(destination_countries: [ "ID", "SG", "MY" ])pb", "", 1},
      {"product and destination", R"pb(hs_codes: [ "61" ]
                                       destination_countries: [ "ID" ])pb",
       "", 2},
      {"origin in and origin not in are two fields",
       R"pb(origin_countries: [ "CN" ]
            origin_countries_not: [ "VN" ])pb",
       "", 2},
      {"price counts once",
       R"pb(unit_price { below { currency_code: "USD" units: 100 } })pb", "",
       1},
      // Regression: each attribute condition used to count once more.
      {"attribute conditions count once as a field",
       R"pb(attributes { key: "halal" equals: "true" }
            attributes { key: "bpom" present: true })pb",
       "", 1},
      {"every field set",
       R"pb(hs_codes: [ "61" ]
            categories: [ "fashion" ]
            origin_countries: [ "CN" ]
            origin_countries_not: [ "VN" ]
            seller_kinds: [ SELLER_KIND_CROSS_BORDER ]
            destination_countries: [ "ID" ]
            channels: [ CHANNEL_LISTING ]
            unit_price { below { currency_code: "USD" units: 100 } }
            attributes { key: "halal" equals: "true" }
            seller_countries: [ "CN" ])pb",
       "", 9},
      {"unless does not count", kHs61,
       R"pb(unless {
              destination_countries: [ "SG" ]
              channels: [ CHANNEL_LISTING ]
            })pb",
       1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto snapshot = MustCompile(Rule("r", kDeny, 0, c.match, c.extra));
    if (snapshot == nullptr) continue;
    ASSERT_EQ(snapshot->rules.size(), 1u);
    EXPECT_EQ(snapshot->rules[0].specificity, c.want);
  }
}

TEST(CompileSnapshotTest, HsRangeExpandsToOneIndexKeyPerPrefix) {
  auto snapshot =
      MustCompile(Rule("range", kDeny, 0, R"pb(hs_codes: [ "50-52" ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  const auto& prefixes = snapshot->rules[0].match.hs_prefixes;
  ASSERT_EQ(prefixes.size(), 3u);
  for (size_t i = 0; i < prefixes.size(); ++i) {
    EXPECT_EQ(prefixes[i].value, 50u + i);
    EXPECT_EQ(prefixes[i].digits, 2);
  }
  EXPECT_EQ(snapshot->hs_index.key_count(), 3u);
  for (uint64_t value : {50u, 51u, 52u}) {
    SCOPED_TRACE(value);
    auto postings = snapshot->hs_index.Find(compiler::HsKey(value, 2));
    ASSERT_EQ(postings.size(), 1u);
    EXPECT_EQ(postings[0].rule, 0u);
  }
  EXPECT_TRUE(snapshot->unindexed.empty());
}

TEST(CompileSnapshotTest, HsRangeWithLeadingZerosKeepsTheLength) {
  auto snapshot =
      MustCompile(Rule("range", kDeny, 0, R"pb(hs_codes: [ "0101-0103" ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  EXPECT_EQ(snapshot->hs_index.key_count(), 3u);
  EXPECT_EQ(snapshot->hs_index.Find(compiler::HsKey(101, 4)).size(), 1u);
  EXPECT_EQ(snapshot->hs_index.Find(compiler::HsKey(103, 4)).size(), 1u);
  EXPECT_TRUE(snapshot->hs_index.Find(compiler::HsKey(101, 3)).empty());
}

TEST(CompileSnapshotTest, DuplicateHsPatternsCollapse) {
  auto snapshot = MustCompile(
      Rule("dups", kDeny, 0, R"pb(hs_codes: [ "6109", "61.09", "6109" ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  ASSERT_EQ(snapshot->rules[0].match.hs_prefixes.size(), 1u);
  EXPECT_EQ(snapshot->rules[0].match.hs_prefixes[0].value, 6109u);
  EXPECT_EQ(snapshot->hs_index.key_count(), 1u);
}

TEST(CompileSnapshotTest, CategoriesAreIndexedAndOtherRulesAreUnindexed) {
  auto snapshot = MustCompile(
      Rule("cats", kDeny, 0,
           R"pb(categories: [ "fashion", "home/textiles", "fashion" ])pb") +
      Rule("anything-to-sg", kDeny, 0,
           R"pb(destination_countries: [ "SG" ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  // Equal rank, so "anything-to-sg" (index 0) sorts before "cats" (index 1).
  ASSERT_EQ(snapshot->rules.size(), 2u);
  ASSERT_EQ(snapshot->rules[1].id, "cats");
  EXPECT_EQ(snapshot->rules[1].match.categories,
            (std::vector<std::string>{"fashion", "home/textiles"}));
  ASSERT_EQ(snapshot->unindexed.size(), 1u);
  EXPECT_EQ(snapshot->unindexed[0].rule, 0u);
  EXPECT_EQ(snapshot->category_index.size(), 2u);
  for (const char* category : {"fashion", "home/textiles"}) {
    SCOPED_TRACE(category);
    auto entry = snapshot->category_index.find(category);
    ASSERT_TRUE(entry != snapshot->category_index.end());
    ASSERT_EQ(entry->second.size(), 1u);
    EXPECT_EQ(entry->second[0].rule, 1u);
  }
  EXPECT_EQ(snapshot->hs_index.key_count(), 0u);
}

TEST(CompileSnapshotTest, CountryListsAreSortedAndUnique) {
  auto snapshot = MustCompile(Rule(
      "r", kDeny, 0, R"pb(destination_countries: [ "SG", "ID", "SG" ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  const auto iso = it::RealIsoCodes();
  EXPECT_EQ(snapshot->rules[0].match.destinations,
            (std::vector<CountryCode>{iso->Country("ID"), iso->Country("SG")}));
}

TEST(CompileSnapshotTest, EnumListsBecomeBitMasks) {
  auto snapshot = MustCompile(
      Rule("r", kDeny, 0,
           R"pb(seller_kinds: [ SELLER_KIND_CROSS_BORDER ]
                channels: [ CHANNEL_LISTING, CHANNEL_CHECKOUT ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  EXPECT_EQ(snapshot->rules[0].match.seller_kinds,
            1u << v1::SELLER_KIND_CROSS_BORDER);
  EXPECT_EQ(snapshot->rules[0].match.channels,
            (1u << v1::CHANNEL_LISTING) | (1u << v1::CHANNEL_CHECKOUT));
}

TEST(CompileSnapshotTest, PriceBoundsCarryAmountAndRate) {
  auto snapshot =
      MustCompile(Rule("cny", kDeny, 0,
                       R"pb(unit_price {
                              below {
                                currency_code: "CNY"
                                units: 719
                                nanos: 990000000
                              }
                            })pb") +
                  Rule("usd", kAllow, 0,
                       R"pb(unit_price {
                              at_least { currency_code: "USD" units: 100 }
                            })pb"));
  ASSERT_TRUE(snapshot != nullptr);
  const CompiledRule* cny = FindRule(*snapshot, "cny");
  const CompiledRule* usd = FindRule(*snapshot, "usd");
  ASSERT_TRUE(cny != nullptr && usd != nullptr);
  ASSERT_TRUE(cny->match.price.has_value());
  EXPECT_EQ(cny->match.price->kind, PriceBound::Kind::kBelow);
  EXPECT_EQ(static_cast<int64_t>(cny->match.price->amount), 719'990'000'000);
  EXPECT_EQ(cny->match.price->currency, PackCurrency("CNY"));
  ASSERT_TRUE(usd->match.price.has_value());
  EXPECT_EQ(usd->match.price->kind, PriceBound::Kind::kAtLeast);
  EXPECT_EQ(static_cast<int64_t>(usd->match.price->amount), 100'000'000'000);
  EXPECT_EQ(usd->match.price->currency, PackCurrency("USD"));
}

TEST(CompileSnapshotTest, AttributeConditionsKeepTheirTests) {
  auto snapshot = MustCompile(Rule("r", kDeny, 0, R"pb(
    attributes { key: "a" equals: "x" }
    attributes {
      key: "b"
      in { values: [ "p", "q" ] }
    }
    attributes { key: "c" present: true }
    attributes { key: "d" present: false }
  )pb"));
  ASSERT_TRUE(snapshot != nullptr);
  const auto& tests = snapshot->rules[0].match.attributes;
  ASSERT_EQ(tests.size(), 4u);
  EXPECT_EQ(tests[0].key, "a");
  EXPECT_EQ(tests[0].kind, AttributeTest::Kind::kEquals);
  EXPECT_EQ(tests[0].values, std::vector<std::string>{"x"});
  EXPECT_EQ(tests[1].key, "b");
  EXPECT_EQ(tests[1].kind, AttributeTest::Kind::kIn);
  EXPECT_EQ(tests[1].values, (std::vector<std::string>{"p", "q"}));
  EXPECT_EQ(tests[2].kind, AttributeTest::Kind::kPresent);
  EXPECT_EQ(tests[3].kind, AttributeTest::Kind::kAbsent);
}

TEST(CompileSnapshotTest, WindowEdgesAreSortedAndUnique) {
  const std::string rules =
      Rule("r1", kDeny, 0, kHs61,
           R"pb(effective_from: "2024-01-01T07:00:00+07:00"
                effective_until: "2024-02-01T00:00:00Z")pb") +
      Rule("r2", kDeny, 0, kHs61,
           R"pb(effective_from: "2024-01-01T00:00:00Z")pb") +
      Rule("r3", kDeny, 0, kHs61,
           R"pb(effective_from: "2024-02-01T00:00:00Z"
                effective_until: "2024-03-01T00:00:00+00:00")pb") +
      Rule("r4", kDeny, 0, kHs61);
  auto snapshot = MustCompile(rules);
  ASSERT_TRUE(snapshot != nullptr);
  EXPECT_EQ(snapshot->window_edges,
            (std::vector<absl::Time>{Utc(2024, 1, 1), Utc(2024, 2, 1),
                                     Utc(2024, 3, 1)}));
  const CompiledRule* r1 = FindRule(*snapshot, "r1");
  const CompiledRule* r4 = FindRule(*snapshot, "r4");
  ASSERT_TRUE(r1 != nullptr && r4 != nullptr);
  EXPECT_EQ(r1->effective_from, Utc(2024, 1, 1));
  EXPECT_EQ(r1->effective_until, Utc(2024, 2, 1));
  EXPECT_EQ(r4->effective_from, absl::InfinitePast());
  EXPECT_EQ(r4->effective_until, absl::InfiniteFuture());
}

TEST(CompileSnapshotTest, CacheTtlIsTheRulesOwnOrTheDefault) {
  auto snapshot =
      MustCompile(Rule("default-ttl", kDeny, 0, kHs61) +
                  Rule("own-ttl", kDeny, 0, kHs61,
                       R"pb(cache_ttl { seconds: 5 nanos: 500000000 })pb") +
                  Rule("zero-ttl", kDeny, 0, kHs61, R"pb(cache_ttl {})pb"));
  ASSERT_TRUE(snapshot != nullptr);
  const CompiledRule* default_ttl = FindRule(*snapshot, "default-ttl");
  const CompiledRule* own_ttl = FindRule(*snapshot, "own-ttl");
  const CompiledRule* zero_ttl = FindRule(*snapshot, "zero-ttl");
  ASSERT_TRUE(default_ttl != nullptr && own_ttl != nullptr &&
              zero_ttl != nullptr);
  EXPECT_EQ(default_ttl->cache_ttl, absl::Seconds(60));
  EXPECT_EQ(own_ttl->cache_ttl, absl::Milliseconds(5500));
  EXPECT_EQ(zero_ttl->cache_ttl, absl::ZeroDuration());
}

TEST(CompileSnapshotTest, RulesKeepTheirTextAndSourceLocation) {
  constexpr char kRules[] =
      "rules {\n"                                                      // 1
      "  id: \"b\" effect: EFFECT_DENY priority: 4\n"                  // 2
      "  reason_code: \"CLOSED\" message: \"closed\"\n"                // 3
      "  legal_basis: \"Reg 1/2024\"\n"                                // 4
      "  match { hs_codes: [\"61\"] }\n"                               // 5
      "}\n"                                                            // 6
      "\n"                                                             // 7
      "rules { id: \"a\" effect: EFFECT_ALLOW reason_code: \"OPEN\" "  // 8
      "message: \"open\" match { hs_codes: [\"62\"] } }\n";
  auto snapshot = MustCompile(kRules);
  ASSERT_TRUE(snapshot != nullptr);
  const CompiledRule* a = FindRule(*snapshot, "a");
  const CompiledRule* b = FindRule(*snapshot, "b");
  ASSERT_TRUE(a != nullptr && b != nullptr);
  EXPECT_EQ(b->location, "rules/r.textproto:1");
  EXPECT_EQ(a->location, "rules/r.textproto:8");
  EXPECT_EQ(b->effect, v1::EFFECT_DENY);
  EXPECT_EQ(b->priority, 4);
  EXPECT_EQ(b->reason_code, "CLOSED");
  EXPECT_EQ(b->message, "closed");
  EXPECT_EQ(b->legal_basis, "Reg 1/2024");
  EXPECT_EQ(a->effect, v1::EFFECT_ALLOW);
  EXPECT_EQ(a->legal_basis, "");
}

}  // namespace
}  // namespace importgate
