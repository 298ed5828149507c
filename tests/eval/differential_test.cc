// Differential test of the decision engine: compiler::Compile +
// eval::DecideRequest against ReferenceModel (tests/eval/reference_model.h),
// a brute-force reading of docs/policy-format.md, on random bundles and
// requests (bench/synthetic_bundle.h: RandomBundle, RandomRequests).
//
// Both must give the same effect, deciding rule, reason code,
// matched_rule_ids (in order) and cache TTL, or the same error (code and
// message). A mismatch prints the seed, the request, both answers, and a
// reproduction cut down to the rules and request fields it needs.
//
// The model is itself pinned to the document by hand-written cases
// (ReferenceModelTest), including every test case of the default bundle, so
// that it is not merely a copy of the engine.
//
// Environment:
//   IMPORTGATE_DIFFERENTIAL_CASES       cases to run (default kDefaultCases)
//   IMPORTGATE_DIFFERENTIAL_FIRST_SEED  first seed (default 0), to reproduce
//   IMPORTGATE_DIFFERENTIAL_SHOW        mismatches printed in full (default 8)
//   IMPORTGATE_DIFFERENTIAL_RULES       rules per bundle (default: by seed,
//                                       RuleCount)
//   IMPORTGATE_DIFFERENTIAL_REQUESTS    requests per bundle (default 50)
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/synthetic_bundle.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/bundle/source_reader.h"
#include "server/compiler/compiler.h"
#include "server/compiler/snapshot.h"
#include "server/eval/evaluator.h"
#include "server/policy/bundle_source.h"
#include "tests/eval/reference_model.h"
#include "tests/testing/test_bundles.h"

namespace importgate {
namespace {

namespace v1 = ::importgate::v1;
namespace pv1 = ::importgate::policy::v1;
using ::importgate::testing::RealIsoCodes;
using ::importgate::testing::ReferenceAnswer;
using ::importgate::testing::ReferenceModel;
using Request = v1::IsImportAllowedRequest;

constexpr int64_t kDefaultCases = 30000;
constexpr int64_t kRequestsPerSeed = 50;

// The clock for requests without an evaluation_time.
absl::Time Now() { return absl::FromUnixSeconds(1'709'262'000); }  // 2024-03

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* text = std::getenv(name);
  int64_t value = 0;
  return text != nullptr && absl::SimpleAtoi(text, &value) ? value : fallback;
}

// Most bundles are small, so that rules collide often; every tenth is
// larger.
size_t RuleCount(uint64_t seed) {
  return seed % 10 == 9 ? 120 + seed % 100 : 3 + seed % 38;
}

std::string Text(const google::protobuf::Message& message) {
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintToString(message, &text);
  return text;
}

// The engine's answer in the model's shape: the verdict of
// eval::DecideRequest, read back from the wire Decision that
// eval::FillDecision writes (so that both are checked).
ReferenceAnswer EngineAnswer(const compiler::PolicySnapshot& snapshot,
                             const Request& request) {
  ReferenceAnswer answer;
  eval::Verdict verdict;
  answer.status = eval::DecideRequest(snapshot, request, Now(), &verdict);
  if (!answer.status.ok()) return answer;
  v1::Decision decision;
  eval::FillDecision(snapshot, verdict, &decision);
  answer.effect = decision.effect();
  answer.rule_id = decision.rule_id();
  answer.reason_code = decision.reason_code();
  answer.matched_rule_ids.assign(decision.matched_rule_ids().begin(),
                                 decision.matched_rule_ids().end());
  answer.matched_rule_ids_truncated = decision.matched_rule_ids_truncated();
  answer.cache_ttl = absl::Seconds(decision.cache_ttl().seconds()) +
                     absl::Nanoseconds(decision.cache_ttl().nanos());
  if (decision.has_price_conversion()) {
    answer.price_conversion = decision.price_conversion();
  }
  // Fields the model does not produce, checked against the verdict.
  const bool consistent =
      decision.allowed() == (verdict.effect == v1::EFFECT_ALLOW) &&
      decision.effect() == verdict.effect &&
      answer.cache_ttl == verdict.cache_ttl &&
      static_cast<size_t>(decision.matched_rule_ids_size()) ==
          verdict.matched.size() &&
      (verdict.rule == nullptr ? decision.rule_id().empty()
                               : decision.rule_id() == verdict.rule->id);
  if (!consistent) {
    answer.status = absl::InternalError(absl::StrCat(
        "FillDecision does not match the verdict: ", Text(decision)));
  }
  return answer;
}

bool SameAnswer(const ReferenceAnswer& a, const ReferenceAnswer& b) {
  if (a.status.code() != b.status.code() ||
      a.status.message() != b.status.message()) {
    return false;
  }
  return !a.status.ok() ||
         (a.effect == b.effect && a.rule_id == b.rule_id &&
          a.reason_code == b.reason_code &&
          a.matched_rule_ids == b.matched_rule_ids &&
          a.matched_rule_ids_truncated == b.matched_rule_ids_truncated &&
          a.cache_ttl == b.cache_ttl &&
          a.price_conversion.has_value() == b.price_conversion.has_value() &&
          (!a.price_conversion.has_value() ||
           a.price_conversion->SerializeAsString() ==
               b.price_conversion->SerializeAsString()));
}

// Compiles `bundle` and runs both on `request`; false when the bundle does
// not compile (a reduction step that broke it).
bool Disagree(const policy::ParsedBundle& bundle, const Request& request,
              ReferenceAnswer* engine = nullptr,
              ReferenceAnswer* model = nullptr) {
  auto snapshot = compiler::Compile(bundle, RealIsoCodes());
  auto reference = ReferenceModel::Create(bundle, RealIsoCodes());
  if (!snapshot.ok() || !reference.ok()) return false;
  ReferenceAnswer e = EngineAnswer(**snapshot, request);
  ReferenceAnswer m = reference->Decide(request, Now());
  if (engine != nullptr) *engine = e;
  if (model != nullptr) *model = m;
  return !SameAnswer(e, m);
}

// Greedily drops rules, then request fields, while the two still disagree:
// what is left is a small reproduction.
void Reduce(policy::ParsedBundle* bundle, Request* request) {
  for (size_t i = bundle->rules.size(); i-- > 0;) {
    policy::ParsedBundle smaller = *bundle;
    smaller.rules.erase(smaller.rules.begin() + static_cast<ptrdiff_t>(i));
    if (Disagree(smaller, *request)) *bundle = std::move(smaller);
  }
  const std::vector<void (*)(Request*)> cuts = {
      [](Request* r) { r->clear_attributes(); },
      [](Request* r) { r->mutable_item()->clear_category(); },
      [](Request* r) { r->mutable_item()->clear_hs_code(); },
      [](Request* r) { r->mutable_item()->clear_unit_price(); },
      [](Request* r) { r->mutable_item()->clear_origin_country(); },
      [](Request* r) { r->mutable_item()->clear_sku(); },
      [](Request* r) { r->mutable_item()->clear_quantity(); },
      [](Request* r) { r->mutable_seller()->clear_country(); },
      [](Request* r) { r->mutable_seller()->clear_id(); },
  };
  for (auto cut : cuts) {
    Request smaller = *request;
    cut(&smaller);
    if (Disagree(*bundle, smaller)) *request = std::move(smaller);
  }
}

// The reproduction of one mismatch, ready to paste into a bug report.
std::string Reproduction(uint64_t seed, size_t index,
                         const policy::ParsedBundle& full,
                         const Request& request) {
  policy::ParsedBundle bundle = full;
  Request reduced = request;
  Reduce(&bundle, &reduced);
  ReferenceAnswer engine, model;
  Disagree(bundle, reduced, &engine, &model);
  std::string out =
      absl::StrCat("seed ", seed, " (", full.rules.size(), " rules), request ",
                   index, " (rerun: IMPORTGATE_DIFFERENTIAL_FIRST_SEED=", seed,
                   " IMPORTGATE_DIFFERENTIAL_RULES=", full.rules.size(),
                   " IMPORTGATE_DIFFERENTIAL_CASES=", index + 1,
                   "):\n  request: ", Text(request), "\n  reduced to ",
                   bundle.rules.size(), " rule(s):\n");
  absl::StrAppend(&out, "    manifest: ", Text(bundle.manifest), "\n");
  for (const policy::RuleSource& rule : bundle.rules) {
    absl::StrAppend(&out, "    rules { ", Text(rule.rule), " }\n");
  }
  absl::StrAppend(&out, "  reduced request: ", Text(reduced),
                  "\n  engine: ", engine.DebugString(),
                  "\n  model:  ", model.DebugString(), "\n");
  return out;
}

// What the random cases covered (printed), so that a generator change that
// stops reaching a path is noticed.
struct Coverage {
  std::map<std::string, int64_t> outcomes;

  void Count(const Request& request, const ReferenceAnswer& answer) {
    if (!request.has_evaluation_time()) {
      ++outcomes["evaluation_time unset"];
    } else {
      const absl::Time at =
          absl::FromUnixSeconds(request.evaluation_time().seconds()) +
          absl::Nanoseconds(request.evaluation_time().nanos());
      if (at <= absl::FromUnixNanos(std::numeric_limits<int64_t>::min()) ||
          at >= absl::FromUnixNanos(std::numeric_limits<int64_t>::max())) {
        ++outcomes["evaluation_time outside int64 nanoseconds"];
      }
    }
    std::string key;
    if (!answer.status.ok()) {
      absl::string_view message = answer.status.message();
      key =
          absl::StrCat("error ", absl::StatusCodeToString(answer.status.code()),
                       " ", message.substr(0, message.find(':')));
    } else if (answer.rule_id.empty()) {
      key = "decided by the default";
    } else {
      key = absl::StrCat("decided by a rule, ",
                         answer.matched_rule_ids.size() > 1 ? "2+" : "1",
                         " matched");
    }
    ++outcomes[key];
    if (answer.price_conversion.has_value()) {
      ++outcomes[absl::StrCat(
          "price converted, ", answer.price_conversion->rates_size(),
          " rate(s), ",
          answer.price_conversion->has_rates_effective_until()
              ? "window ends"
              : "window open")];
    }
  }
};

TEST(DifferentialTest, EngineAgreesWithReferenceModel) {
  const int64_t cases = EnvInt("IMPORTGATE_DIFFERENTIAL_CASES", kDefaultCases);
  const uint64_t first_seed =
      static_cast<uint64_t>(EnvInt("IMPORTGATE_DIFFERENTIAL_FIRST_SEED", 0));
  const int64_t show = EnvInt("IMPORTGATE_DIFFERENTIAL_SHOW", 8);
  const int64_t rules = EnvInt("IMPORTGATE_DIFFERENTIAL_RULES", 0);
  const size_t requests_per_seed = static_cast<size_t>(std::max<int64_t>(
      1, EnvInt("IMPORTGATE_DIFFERENTIAL_REQUESTS", kRequestsPerSeed)));
  const absl::Time start = absl::Now();

  int64_t run = 0;
  int64_t mismatches = 0;
  std::vector<std::string> shown;
  std::vector<uint64_t> failing_seeds;
  Coverage coverage;
  uint64_t seed = first_seed;
  for (; run < cases; ++seed) {
    auto parsed = policy::ParseBundle(bench::RandomBundle(
        seed, rules > 0 ? static_cast<size_t>(rules) : RuleCount(seed)));
    ASSERT_TRUE(parsed.ok()) << "seed " << seed << ": " << parsed.status();
    auto snapshot = compiler::Compile(*parsed, RealIsoCodes());
    ASSERT_TRUE(snapshot.ok()) << "seed " << seed
                               << ": RandomBundle made a bundle that does "
                                  "not compile: "
                               << snapshot.status();
    auto model = ReferenceModel::Create(*parsed, RealIsoCodes());
    ASSERT_TRUE(model.ok()) << "seed " << seed << ": " << model.status();

    const std::vector<Request> requests =
        bench::RandomRequests(seed, requests_per_seed);
    bool seed_failed = false;
    for (size_t i = 0; i < requests.size() && run < cases; ++i, ++run) {
      const ReferenceAnswer want = model->Decide(requests[i], Now());
      const ReferenceAnswer got = EngineAnswer(**snapshot, requests[i]);
      coverage.Count(requests[i], want);
      if (SameAnswer(got, want)) continue;
      ++mismatches;
      seed_failed = true;
      if (static_cast<int64_t>(shown.size()) < show) {
        shown.push_back(Reproduction(seed, i, *parsed, requests[i]));
      }
    }
    if (seed_failed) failing_seeds.push_back(seed);
  }

  std::cout << "differential: " << run << " cases, seeds " << first_seed << ".."
            << seed - 1 << ", " << absl::FormatDuration(absl::Now() - start)
            << "\n";
  for (const auto& [outcome, count] : coverage.outcomes) {
    std::cout << "  " << count << "\t" << outcome << "\n";
  }
  for (const std::string& text : shown) {
    ADD_FAILURE() << "engine and reference model disagree: " << text;
  }
  std::vector<uint64_t> first_failing(
      failing_seeds.begin(),
      failing_seeds.begin() + std::min<size_t>(failing_seeds.size(), 40));
  EXPECT_EQ(mismatches, 0) << mismatches << " of " << run
                           << " cases disagree; seeds "
                           << absl::StrJoin(first_failing, ", ")
                           << (failing_seeds.size() > first_failing.size()
                                   ? ", ..."
                                   : "");
}

// The generators are pure functions of the seed: the printed seed
// reproduces a failure.
TEST(DifferentialTest, GeneratorsAreDeterministic) {
  auto a = bench::RandomBundle(7, 30);
  auto b = bench::RandomBundle(7, 30);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].path, b[i].path);
    EXPECT_EQ(a[i].content, b[i].content);
  }
  auto x = bench::RandomRequests(7, 20);
  auto y = bench::RandomRequests(7, 20);
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(Text(x[i]), Text(y[i]));  // text format sorts map entries
  }
}

// --- The model against docs/policy-format.md --------------------------------

constexpr char kDeny[] = "EFFECT_DENY";
constexpr char kAllow[] = "EFFECT_ALLOW";

std::string Rule(absl::string_view id, absl::string_view effect, int priority,
                 absl::string_view match, absl::string_view extra = "") {
  return absl::StrCat("rules { id: \"", id, "\" effect: ", effect,
                      " priority: ", priority, " reason_code: \"R_", priority,
                      "\" message: \"m\" match { ", match, " } ", extra,
                      " }\n");
}

// A request in text format over a base: a cross-border seller in CN, item
// origin CN, into ID at listing, on 2024-03-01T10:00:00+07:00. Fields of
// `text` replace or extend the base's; then the facts named in `drop`
// ("origin", "seller_country", "evaluation_time") are cleared.
Request MakeRequest(const std::string& text,
                    const std::vector<std::string>& drop = {}) {
  Request request;
  const char kBase[] = R"pb(
    item { sku: "s" origin_country: "CN" quantity: 1 }
    seller { id: "x" kind: SELLER_KIND_CROSS_BORDER country: "CN" }
    destination_country: "ID"
    channel: CHANNEL_LISTING
    evaluation_time { seconds: 1709262000 }
  )pb";
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kBase, &request));
  EXPECT_TRUE(google::protobuf::TextFormat::MergeFromString(text, &request))
      << text;
  for (const std::string& field : drop) {
    if (field == "origin") request.mutable_item()->clear_origin_country();
    if (field == "seller_country") request.mutable_seller()->clear_country();
    if (field == "evaluation_time") request.clear_evaluation_time();
  }
  return request;
}

// evaluation_time for an RFC 3339 instant, as a text-format field.
std::string At(absl::string_view rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error))
      << rfc3339 << ": " << error;
  const int64_t seconds = absl::ToUnixSeconds(t);
  return absl::StrCat(
      " evaluation_time { seconds: ", seconds,
      " nanos: ", absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds)),
      " }");
}

struct ModelCase {
  std::string name;  // names the section of docs/policy-format.md
  std::string rules;
  Request request;
  std::string want_rule_id;  // "": the default (ALLOW) decides
  std::vector<std::string> want_matched;
  std::string want_error_prefix = "";  // set: rejected, naming want_rule_id
};

void ExpectModel(const std::vector<ModelCase>& cases) {
  for (const ModelCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto parsed = policy::ParseBundle(
        testing::BundleFiles(testing::TestManifest(), c.rules));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    // Every case is a bundle the compiler accepts.
    auto snapshot = compiler::Compile(*parsed, RealIsoCodes());
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    auto model = ReferenceModel::Create(*parsed, RealIsoCodes());
    ASSERT_TRUE(model.ok()) << model.status();
    const ReferenceAnswer answer = model->Decide(c.request, Now());
    if (!c.want_error_prefix.empty()) {
      EXPECT_EQ(answer.status.code(), absl::StatusCode::kInvalidArgument)
          << answer.DebugString();
      EXPECT_TRUE(
          absl::StartsWith(answer.status.message(), c.want_error_prefix))
          << answer.DebugString();
      EXPECT_TRUE(absl::StrContains(answer.status.message(),
                                    absl::StrCat("\"", c.want_rule_id, "\"")))
          << answer.DebugString();
      continue;
    }
    ASSERT_TRUE(answer.status.ok()) << answer.status;
    EXPECT_EQ(answer.rule_id, c.want_rule_id);
    EXPECT_EQ(answer.matched_rule_ids, c.want_matched);
    if (c.want_rule_id.empty()) {
      EXPECT_EQ(answer.effect, v1::EFFECT_ALLOW);
      EXPECT_EQ(answer.reason_code, "NO_RULE_MATCHED");
    }
  }
}

TEST(ReferenceModelTest, HsCodesAndCategories) {
  // Section 6.
  const std::string rules =
      Rule("textiles", kDeny, 0, R"pb(hs_codes: [ "50-63" ])pb") +
      Rule("antiques", kDeny, 0, R"pb(hs_codes: [ "9701" ])pb") +
      Rule("tees", kDeny, 0, R"pb(hs_codes: [ "6109.10" ])pb") +
      Rule("fashion", kDeny, 0, R"pb(categories: [ "fashion" ])pb") +
      Rule("food", kDeny, 0, R"pb(categories: [ "food" ])pb") +
      Rule("crafts", kDeny, 0,
           R"pb(categories: [ "home/decor/handicrafts" ])pb") +
      Rule("culinary", kDeny, 0, R"pb(hs_codes: [ "16-22" ]
                                      categories: [ "beverages" ])pb");
  ExpectModel({
      {"6: range 50-63 catches a chapter",
       rules,
       MakeRequest(R"pb(item { hs_code: "61" })pb"),
       "textiles",
       {"textiles"}},
      {"6: range 50-63 catches a heading",
       rules,
       MakeRequest(R"pb(item { hs_code: "6109" })pb"),
       "textiles",
       {"textiles"}},
      {"6: a dotted pattern and a dotted item",
       rules,
       MakeRequest(R"pb(item { hs_code: "6109.10.00" })pb"),
       "tees",
       {"tees", "textiles"}},
      {"6: same code without dots",
       rules,
       MakeRequest(R"pb(item { hs_code: "61091000" })pb"),
       "tees",
       {"tees", "textiles"}},
      {"6: another subheading",
       rules,
       MakeRequest(R"pb(item { hs_code: "6109.20" })pb"),
       "textiles",
       {"textiles"}},
      {"6: both range ends are included",
       rules,
       MakeRequest(R"pb(item { hs_code: "5001" })pb"),
       "textiles",
       {"textiles"}},
      {"6: the chapter after the range",
       rules,
       MakeRequest(R"pb(item { hs_code: "6401" })pb"),
       "",
       {}},
      {"6: an item shorter than the pattern does not match",
       rules,
       MakeRequest(R"pb(item { hs_code: "97" })pb"),
       "",
       {}},
      {"6: category equal",
       rules,
       MakeRequest(R"pb(item { category: "fashion" })pb"),
       "fashion",
       {"fashion"}},
      {"6: category below",
       rules,
       MakeRequest(R"pb(item { category: "fashion/women/dresses" })pb"),
       "fashion",
       {"fashion"}},
      {"6: not a whole segment",
       rules,
       MakeRequest(R"pb(item { category: "fashionista/collectibles" })pb"),
       "",
       {}},
      {"6: prefix from the start only",
       rules,
       MakeRequest(R"pb(item { category: "pets/food/dry" })pb"),
       "",
       {}},
      {"6: a sibling path",
       rules,
       MakeRequest(R"pb(item { category: "home/decor/clocks" })pb"),
       "",
       {}},
      {"5: the product selector is HS OR category (coffee)",
       rules,
       MakeRequest(
           R"pb(item { hs_code: "0901.21" category: "beverages/coffee" })pb"),
       "culinary",
       {"culinary"}},
  });
}

TEST(ReferenceModelTest, EffectiveWindows) {
  // Section 7, with instants the int64-nanosecond range cannot hold (the
  // engine once saturated windows there).
  const std::string rules =
      Rule("closure", kDeny, 0, R"pb(hs_codes: [ "61" ])pb",
           R"pb(effective_from: "2021-08-03T00:00:00+07:00"
                effective_until: "2262-04-12T00:00:00Z")pb") +
      Rule("future", kDeny, 0, R"pb(hs_codes: [ "62" ])pb",
           R"pb(effective_from: "2262-04-12T00:00:00Z")pb") +
      Rule("past", kDeny, 0, R"pb(hs_codes: [ "63" ])pb",
           R"pb(effective_until: "1600-01-01T00:00:00Z")pb") +
      Rule("always", kDeny, 0, R"pb(hs_codes: [ "64" ])pb",
           R"pb(effective_from: "0001-01-01T00:00:00Z")pb");
  auto hs_at = [](absl::string_view hs, absl::string_view at) {
    return MakeRequest(absl::StrCat("item { hs_code: \"", hs, "\" }", At(at)));
  };
  ExpectModel({
      {"7: one nanosecond before the start",
       rules,
       hs_at("6109", "2021-08-02T16:59:59.999999999Z"),
       "",
       {}},
      {"7: the start is inclusive, as an instant (17:00Z = 00:00+07:00)",
       rules,
       hs_at("6109", "2021-08-02T17:00:00Z"),
       "closure",
       {"closure"}},
      {"7: one nanosecond before the end",
       rules,
       hs_at("6109", "2262-04-11T23:59:59.999999999Z"),
       "closure",
       {"closure"}},
      {"7: the end is exclusive",
       rules,
       hs_at("6109", "2262-04-12T00:00:00Z"),
       "",
       {}},
      {"7: after 2262",
       rules,
       hs_at("6209", "2300-01-01T00:00:00Z"),
       "future",
       {"future"}},
      {"7: before a start after 2262",
       rules,
       hs_at("6209", "2262-04-11T23:59:59Z"),
       "",
       {}},
      {"7: open start, before 1677",
       rules,
       hs_at("6309", "1500-06-01T00:00:00Z"),
       "past",
       {"past"}},
      {"7: open start, at its end",
       rules,
       hs_at("6309", "1600-01-01T00:00:00Z"),
       "",
       {}},
      {"7: the first instant of year 1",
       rules,
       hs_at("6409", "0001-01-01T00:00:00Z"),
       "always",
       {"always"}},
      {"7: open-ended, the last instant of year 9999",
       rules,
       hs_at("6409", "9999-12-31T23:59:59.999999999Z"),
       "always",
       {"always"}},
  });
}

TEST(ReferenceModelTest, PricesAndTheFxTable) {
  // Section 8's table: below USD 100 at IDR 15500 and CNY 7.2 per USD.
  const std::string rules =
      Rule("min-price", kDeny, 0,
           R"pb(unit_price { below { currency_code: "USD" units: 100 } })pb");
  auto priced = [](absl::string_view currency, int64_t units, int nanos) {
    return MakeRequest(
        absl::StrCat("item { hs_code: \"9503\" unit_price { currency_code: \"",
                     currency, "\" units: ", units, " nanos: ", nanos, " } }"));
  };
  ExpectModel({
      {"8: USD 99.99",
       rules,
       priced("USD", 99, 990'000'000),
       "min-price",
       {"min-price"}},
      {"8: USD 100 is not below", rules, priced("USD", 100, 0), "", {}},
      {"8: IDR 1,549,999",
       rules,
       priced("IDR", 1'549'999, 0),
       "min-price",
       {"min-price"}},
      {"8: IDR 1,549,999.99",
       rules,
       priced("IDR", 1'549'999, 990'000'000),
       "min-price",
       {"min-price"}},
      {"8: IDR 1,550,000 is exactly USD 100",
       rules,
       priced("IDR", 1'550'000, 0),
       "",
       {}},
      {"8: CNY 719.99",
       rules,
       priced("CNY", 719, 990'000'000),
       "min-price",
       {"min-price"}},
      {"8: CNY 720 is exactly USD 100", rules, priced("CNY", 720, 0), "", {}},
  });
  // A threshold in another currency is converted too.
  const std::string at_least = Rule(
      "expensive", kDeny, 0,
      R"pb(unit_price { at_least { currency_code: "CNY" units: 720 } })pb");
  ExpectModel({
      {"8: USD 100 is at least CNY 720",
       at_least,
       priced("USD", 100, 0),
       "expensive",
       {"expensive"}},
      {"8: IDR 1,549,999.999999999 is not",
       at_least,
       priced("IDR", 1'549'999, 999'999'999),
       "",
       {}},
  });
}

// The default bundle's minimum-price rule (sections 9 and 10), shortened,
// and its closure rule for apparel.
constexpr char kMinPriceRules[] = R"pb(
  rules {
    id: "id-2021-cross-border-textiles-apparel"
    effect: EFFECT_DENY
    priority: 100
    reason_code: "CLOSED"
    message: "m"
    match {
      hs_codes: [ "50-63" ]
      categories: [ "fashion" ]
      seller_kinds: [ SELLER_KIND_CROSS_BORDER ]
      destination_countries: [ "ID" ]
    }
    effective_from: "2021-08-03T00:00:00+07:00"
  }
  rules {
    id: "id-2023-cross-border-min-price"
    effect: EFFECT_DENY
    priority: 50
    reason_code: "BELOW_MIN_PRICE"
    message: "m"
    match {
      seller_kinds: [ SELLER_KIND_CROSS_BORDER ]
      destination_countries: [ "ID" ]
      unit_price { below { currency_code: "USD" units: 100 } }
    }
    unless {
      hs_codes: [ "4901" ]
      categories: [ "books" ]
    }
    unless {
      hs_codes: [ "8523" ]
      categories: [ "media/music", "software" ]
    }
    effective_from: "2023-09-26T00:00:00+07:00"
  }
)pb";

TEST(ReferenceModelTest, ExceptionsAndRequiredFacts) {
  const std::string rules = kMinPriceRules;
  const std::string closure = "id-2021-cross-border-textiles-apparel";
  const std::string min_price = "id-2023-cross-border-min-price";
  ExpectModel({
      {"9: a book at USD 12: the exception holds",
       rules,
       MakeRequest(R"pb(item {
                          hs_code: "4901.99.00"
                          unit_price { currency_code: "USD" units: 12 }
                        })pb"),
       "",
       {}},
      {"9: a book by category",
       rules,
       MakeRequest(R"pb(item {
                          category: "books/fiction"
                          unit_price { currency_code: "USD" units: 12 }
                        })pb"),
       "",
       {}},
      {"9: a toy at USD 12",
       rules,
       MakeRequest(R"pb(item {
                          hs_code: "9503"
                          unit_price { currency_code: "USD" units: 12 }
                        })pb"),
       min_price,
       {min_price}},
      {"10: a domestic seller need not send a price",
       rules,
       MakeRequest(R"pb(item { hs_code: "9503" }
                        seller { kind: SELLER_KIND_DOMESTIC })pb"),
       "",
       {}},
      {"10: nor a sale into Singapore",
       rules,
       MakeRequest(R"pb(item { hs_code: "9503" }
                        destination_country: "SG")pb"),
       "",
       {}},
      {"10: nor a book",
       rules,
       MakeRequest(R"pb(item { hs_code: "4901" })pb"),
       "",
       {}},
      {"10: nor anything before 26 September 2023",
       rules,
       MakeRequest(absl::StrCat(R"pb(item { hs_code: "9503" })pb",
                                At("2023-09-25T16:59:59Z"))),
       "",
       {}},
      {"10: a phone case without a price is rejected",
       rules,
       MakeRequest(R"pb(item { hs_code: "3926" })pb"),
       min_price,
       {},
       "item.unit_price: "},
      {"10: a T-shirt without a price is decided by the closure",
       rules,
       MakeRequest(R"pb(item { hs_code: "6109.10" })pb"),
       closure,
       {closure}},
      {"10: a T-shirt with a price: both are listed (section 11)",
       rules,
       MakeRequest(R"pb(item {
                          hs_code: "6109.10.00"
                          category: "fashion/men/t-shirts"
                          unit_price { currency_code: "USD" units: 5 }
                        })pb"),
       closure,
       {closure, min_price}},
      {"10: a price in a currency without a rate is rejected when reached",
       rules,
       MakeRequest(R"pb(item {
                          hs_code: "9503"
                          unit_price { currency_code: "EUR" units: 5 }
                        })pb"),
       min_price,
       {},
       "item.unit_price.currency_code: \"EUR\""},
      {"12: ... and decided when not",
       rules,
       MakeRequest(R"pb(item {
                          hs_code: "9503"
                          unit_price { currency_code: "EUR" units: 5 }
                        }
                        seller { kind: SELLER_KIND_DOMESTIC })pb"),
       "",
       {}},
  });

  const std::string origin_rules =
      Rule("origin-cn", kDeny, 0, R"pb(hs_codes: [ "9504" ]
                                       origin_countries: [ "CN" ])pb") +
      Rule("not-from-vn", kDeny, 1, R"pb(hs_codes: [ "95" ]
                                         origin_countries_not: [ "VN" ]
                                         destination_countries: [ "SG" ])pb") +
      Rule("seller-cn", kDeny, 0, R"pb(hs_codes: [ "94" ]
                                       seller_countries: [ "CN" ])pb") +
      Rule("unless-vn", kDeny, 0, R"pb(hs_codes: [ "93" ])pb",
           R"pb(unless { origin_countries: [ "VN" ] })pb") +
      Rule("labelled", kDeny, 0,
           R"pb(hs_codes: [ "92" ]
                attributes { key: "label" present: false })pb");
  ExpectModel({
      {"10: origin_countries needs the origin",
       origin_rules,
       MakeRequest(R"pb(item { hs_code: "9504" })pb", {"origin"}),
       "origin-cn",
       {},
       "item.origin_country: "},
      {"10: origin_countries_not needs it too",
       origin_rules,
       MakeRequest(R"pb(item { hs_code: "9503" }
                        destination_country: "SG")pb",
                   {"origin"}),
       "not-from-vn",
       {},
       "item.origin_country: "},
      {"10: not when another condition of the rule fails",
       origin_rules,
       MakeRequest(R"pb(item { hs_code: "9503" })pb", {"origin"}),
       "",
       {}},
      {"5: origin_countries_not holds for another origin",
       origin_rules,
       MakeRequest(R"pb(item { hs_code: "9503" }
                        destination_country: "SG")pb"),
       "not-from-vn",
       {"not-from-vn"}},
      {"10: seller_countries needs the seller's country",
       origin_rules,
       MakeRequest(R"pb(item { hs_code: "9403" })pb", {"seller_country"}),
       "seller-cn",
       {},
       "seller.country: "},
      {"10: an exception that needs a missing fact",
       origin_rules,
       MakeRequest(R"pb(item { hs_code: "9303" })pb", {"origin"}),
       "unless-vn",
       {},
       "item.origin_country: "},
      {"9: the exception holds",
       origin_rules,
       MakeRequest(R"pb(item { hs_code: "9303" origin_country: "VN" })pb"),
       "",
       {}},
      {"5: present: false holds when the attribute is not set",
       origin_rules,
       MakeRequest(R"pb(item { hs_code: "9203" origin_country: "VN" })pb"),
       "labelled",
       {"labelled"}},
      {"10: attributes never need a fact",
       origin_rules,
       MakeRequest(R"pb(item { hs_code: "9203" origin_country: "VN" }
                        attributes { key: "label" value: "" })pb"),
       "",
       {}},
  });
}

TEST(ReferenceModelTest, ResolutionOrder) {
  // Section 11, the worked example and its variants.
  const std::string closure = "id-2021-cross-border-textiles-apparel";
  const std::string min_price = "id-2023-cross-border-min-price";
  const Request tee =
      MakeRequest(R"pb(item {
                         hs_code: "6109.10.00"
                         category: "fashion/men/t-shirts"
                         unit_price { currency_code: "USD" units: 5 }
                       })pb");
  std::string tied = kMinPriceRules;
  tied.replace(tied.find("priority: 50"), 12, "priority: 100");
  const std::string brand =
      std::string(kMinPriceRules) +
      Rule("example-verified-brand-apparel", kAllow, 100,
           R"pb(categories: [ "fashion" ]
                seller_kinds: [ SELLER_KIND_CROSS_BORDER ]
                destination_countries: [ "ID" ]
                attributes { key: "brand_verified" equals: "true" })pb");
  const std::string three = absl::StrCat(
      "rules { id: \"example-3\" effect: EFFECT_ALLOW priority: 100 "
      "reason_code: \"X\" message: \"m\" match { categories: [\"fashion\"] "
      "seller_kinds: [SELLER_KIND_CROSS_BORDER] destination_countries: "
      "[\"ID\"] } }\n",
      kMinPriceRules);
  Request verified = tee;
  (*verified.mutable_attributes())["brand_verified"] = "true";
  ExpectModel({
      {"11: priority 100 beats 50",
       kMinPriceRules,
       tee,
       closure,
       {closure, min_price}},
      {"11: tied on priority, specificity and effect: the smaller id",
       tied,
       tee,
       closure,
       {closure, min_price}},
      {"11: specificity 4 beats 3 at equal priority",
       brand,
       verified,
       "example-verified-brand-apparel",
       {"example-verified-brand-apparel", closure, min_price}},
      {"11: at equal specificity DENY beats ALLOW",
       three,
       tee,
       closure,
       {closure, "example-3", min_price}},
      {"3: the default decides with no rule and nothing matched",
       kMinPriceRules,
       MakeRequest(R"pb(item { hs_code: "9503" }
                        destination_country: "MY")pb"),
       "",
       {}},
  });
}

// Every test case the policy team wrote for the default bundle, run
// through the model: expected answers written by people, from the rules'
// meaning.
TEST(ReferenceModelTest, DefaultBundleOwnTestCases) {
  auto files = bundle::ReadSourceDirectory(testing::DefaultBundleDirectory());
  ASSERT_TRUE(files.ok()) << files.status();
  auto parsed = policy::ParseBundle(*files);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto model = ReferenceModel::Create(*parsed, RealIsoCodes());
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_FALSE(parsed->tests.empty());
  for (const policy::TestSource& source : parsed->tests) {
    const pv1::TestCase& test = source.test;
    SCOPED_TRACE(test.name());
    // `at` overrides request.evaluation_time (section 13).
    Request request = test.request();
    if (!test.at().empty()) {
      absl::Time t;
      std::string error;
      ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, test.at(), &t, &error));
      const int64_t seconds = absl::ToUnixSeconds(t);
      request.mutable_evaluation_time()->set_seconds(seconds);
      request.mutable_evaluation_time()->set_nanos(static_cast<int32_t>(
          absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
    }
    const ReferenceAnswer answer = model->Decide(request, Now());
    if (!test.expect_error().empty()) {
      EXPECT_FALSE(answer.status.ok()) << answer.DebugString();
      EXPECT_TRUE(
          absl::StrContains(answer.status.message(), test.expect_error()))
          << answer.DebugString();
      continue;
    }
    ASSERT_TRUE(answer.status.ok()) << answer.status;
    EXPECT_EQ(answer.effect, test.expect_effect());
    EXPECT_EQ(answer.rule_id, test.expect_rule_id());
    if (!test.expect_reason_code().empty()) {
      EXPECT_EQ(answer.reason_code, test.expect_reason_code());
    }
  }
}

}  // namespace
}  // namespace importgate
