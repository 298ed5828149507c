#include "server/bundle/self_test.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/utf8.h"
#include "server/eval/evaluator.h"
#include "server/policy/codes.h"

namespace importgate::bundle {
namespace {

namespace v1 = importgate::v1;

constexpr size_t kMaxReported = 50;

std::string Describe(v1::Effect effect, absl::string_view rule_id) {
  return absl::StrCat(v1::Effect_Name(effect), " by ",
                      rule_id.empty() ? std::string("the bundle default")
                                      : absl::StrCat("rule \"", rule_id, "\""));
}

}  // namespace

absl::Status RunSelfTests(const compiler::PolicySnapshot& snapshot,
                          const std::vector<policy::TestSource>& tests) {
  std::vector<std::string> malformed;
  std::vector<std::string> failed;
  absl::flat_hash_set<std::string> names;
  for (const policy::TestSource& source : tests) {
    const auto& t = source.test;
    std::string where =
        absl::StrCat(policy::FormatLocation(source.location), ": test ",
                     QuoteForMessage(t.name(), 128), ": ");
    if (t.name().empty()) {
      malformed.push_back(absl::StrCat(where, "name: is required"));
      continue;
    }
    if (!names.insert(t.name()).second) {
      malformed.push_back(absl::StrCat(where, "name: duplicate test name"));
      continue;
    }
    v1::IsImportAllowedRequest request = t.request();
    if (!t.at().empty()) {
      auto at = policy::ParseRfc3339(t.at());
      if (!at.ok()) {
        malformed.push_back(absl::StrCat(where, "at: ", at.status().message()));
        continue;
      }
      const int64_t seconds = absl::ToUnixSeconds(*at);
      request.mutable_evaluation_time()->set_seconds(seconds);
      request.mutable_evaluation_time()->set_nanos(static_cast<int32_t>(
          absl::ToInt64Nanoseconds(*at - absl::FromUnixSeconds(seconds))));
    } else if (!request.has_evaluation_time()) {
      malformed.push_back(absl::StrCat(
          where,
          "at: is required (or request.evaluation_time), so that the "
          "case gives the same answer every day"));
      continue;
    }
    if (!t.expect_error().empty()) {
      if (t.expect_effect() != v1::EFFECT_UNSPECIFIED ||
          !t.expect_rule_id().empty() || !t.expect_reason_code().empty()) {
        malformed.push_back(
            absl::StrCat(where,
                         "expect_error: cannot be combined with expect_effect, "
                         "expect_rule_id or expect_reason_code"));
        continue;
      }
    } else if (t.expect_effect() != v1::EFFECT_ALLOW &&
               t.expect_effect() != v1::EFFECT_DENY) {
      malformed.push_back(absl::StrCat(
          where, "expect_effect: must be EFFECT_ALLOW or EFFECT_DENY"));
      continue;
    }

    v1::Decision decision;
    // The request carries its evaluation time, so "now" is never used.
    absl::Status status =
        eval::Evaluate(snapshot, request, absl::UnixEpoch(), &decision);
    std::string failure;
    if (!t.expect_error().empty()) {
      if (status.ok()) {
        failure = absl::StrCat("expected an error containing ",
                               QuoteForMessage(t.expect_error(), 256), ", got ",
                               Describe(decision.effect(), decision.rule_id()));
      } else if (!absl::StrContains(status.message(), t.expect_error())) {
        failure = absl::StrCat("expected an error containing ",
                               QuoteForMessage(t.expect_error(), 256),
                               ", got error \"", status.message(), "\"");
      }
    } else if (!status.ok()) {
      failure = absl::StrCat("expected ",
                             Describe(t.expect_effect(), t.expect_rule_id()),
                             ", got error \"", status.message(), "\"");
    } else if (decision.effect() != t.expect_effect() ||
               decision.rule_id() != t.expect_rule_id() ||
               (!t.expect_reason_code().empty() &&
                decision.reason_code() != t.expect_reason_code())) {
      failure = absl::StrCat(
          "expected ", Describe(t.expect_effect(), t.expect_rule_id()),
          t.expect_reason_code().empty()
              ? ""
              : absl::StrCat(" (", t.expect_reason_code(), ")"),
          ", got ", Describe(decision.effect(), decision.rule_id()), " (",
          decision.reason_code(), "); matched: [",
          absl::StrJoin(decision.matched_rule_ids(), ", "), "]");
    }
    if (!failure.empty()) failed.push_back(absl::StrCat(where, failure));
  }
  auto join = [](const std::vector<std::string>& lines) {
    std::string text = absl::StrJoin(
        lines.begin(), lines.begin() + std::min(lines.size(), kMaxReported),
        "\n");
    if (lines.size() > kMaxReported) {
      absl::StrAppend(&text, "\n... and ", lines.size() - kMaxReported,
                      " more");
    }
    return text;
  };
  if (!malformed.empty()) return absl::InvalidArgumentError(join(malformed));
  if (!failed.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(failed.size(), " of ", tests.size(),
                     " bundle test cases failed:\n", join(failed)));
  }
  return absl::OkStatus();
}

}  // namespace importgate::bundle
