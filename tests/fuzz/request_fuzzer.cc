// request_fuzzer: request bytes -> parse -> validate -> decide -> encode,
// the path of every decision call (server/service/import_policy_service.cc),
// without gRPC.
//
// The input is parsed as an importgate.v1.IsImportAllowedRequest and,
// separately, as a BatchIsImportAllowedRequest. Each request that parses is
// decided by eval::DecideRequest against two compiled bundles:
// policies/default from the source tree, and tests/fuzz/testdata/
// features_bundle (every matcher kind, exceptions, windows, FX,
// attributes). The verdicts are encoded with the hand-written response
// encoder exactly as the service does, and then the properties a caller
// relies on are checked; a broken one aborts, which libFuzzer records:
//   - the encoded bytes parse as the generated IsImportAllowedResponse /
//     BatchIsImportAllowedResponse;
//   - every string in them is valid UTF-8 (proto3 `string`; the Go, Java
//     and Python runtimes reject the whole response otherwise);
//   - re-serializing the parsed message gives the encoded bytes back;
//   - the decision equals eval::FillDecision of the same verdict (the
//     generated-message form the encoder must agree with), and it is
//     self-consistent (allowed iff ALLOW; the deciding rule comes first in
//     matched_rule_ids);
//   - a batch answers every item, in order, with an error carrying the
//     evaluator's status code where the evaluator refused the item;
//   - the evaluator refuses a request only with INVALID_ARGUMENT, or with
//     FAILED_PRECONDITION when no exchange rate is in force at its instant
//     (DecisionError).
// A single request the evaluator refuses is also encoded as a one-item
// batch, since the same request inside a batch puts its error message on
// the wire as a proto3 string.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/util/message_differencer.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/bundle/loader.h"
#include "server/eval/evaluator.h"
#include "server/service/response_encoder.h"
#include "tests/fuzz/fuzz_support.h"

namespace importgate::fuzz {
namespace {

namespace v1 = ::importgate::v1;
using google::protobuf::util::MessageDifferencer;
using service::BundleRefFields;
using service::WireBuffer;

// The server's default cap (ImportPolicyServiceOptions::max_batch_items):
// larger batches are refused before anything is decided.
constexpr int kMaxBatchItems = 1000;

// The clock of requests without evaluation_time: inside the windows of
// both bundles' main rules.
const absl::Time kNow = absl::FromUnixSeconds(1'717'200'000);  // 2024-06-01
// What the server writes as each answer's decision_id with a decision log.
constexpr char kDecisionId[] = "019ad3f2-6c41-7a3e-9b1c-2f0d00000001";

struct Fixture {
  std::vector<std::shared_ptr<const bundle::LoadedBundle>> bundles;
};

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    QuietProtobufLogs();
    auto* f = new Fixture;
    f->bundles.push_back(MustLoadBundle("policies/default"));
    f->bundles.push_back(MustLoadBundle("tests/fuzz/testdata/features_bundle"));
    return f;
  }();
  return *fixture;
}

BundleRefFields RefOf(const bundle::LoadedBundle& loaded) {
  return {loaded.snapshot->name, loaded.snapshot->revision, loaded.digest};
}

void CheckBundleRef(const v1::BundleRef& ref, const BundleRefFields& want) {
  IMPORTGATE_FUZZ_CHECK(ref.name() == want.name &&
                            ref.revision() == want.revision &&
                            ref.digest() == want.digest,
                        ref.ShortDebugString());
}

// The decision in a response against the verdict it was encoded from.
void CheckDecision(const compiler::PolicySnapshot& snapshot,
                   const eval::Verdict& verdict, const v1::Decision& decision) {
  v1::Decision expected;
  eval::FillDecision(snapshot, verdict, &expected);
  IMPORTGATE_FUZZ_CHECK(
      MessageDifferencer::Equals(expected, decision),
      absl::StrCat("encoder wrote ", decision.ShortDebugString(),
                   "; FillDecision gives ", expected.ShortDebugString()));
  IMPORTGATE_FUZZ_CHECK(decision.effect() == v1::EFFECT_ALLOW ||
                            decision.effect() == v1::EFFECT_DENY,
                        decision.ShortDebugString());
  IMPORTGATE_FUZZ_CHECK(
      decision.allowed() == (decision.effect() == v1::EFFECT_ALLOW),
      decision.ShortDebugString());
  IMPORTGATE_FUZZ_CHECK(
      decision.rule_id().empty() == (decision.matched_rule_ids_size() == 0),
      decision.ShortDebugString());
  IMPORTGATE_FUZZ_CHECK(decision.rule_id().empty() ||
                            decision.matched_rule_ids(0) == decision.rule_id(),
                        decision.ShortDebugString());
  IMPORTGATE_FUZZ_CHECK(
      decision.cache_ttl().seconds() >= 0 && decision.cache_ttl().nanos() >= 0,
      decision.ShortDebugString());
}

// Parses `bytes` as `Response`, and checks UTF-8 and the round trip.
template <typename Response>
void ParseEncoded(absl::string_view bytes, Response* response) {
  IMPORTGATE_FUZZ_CHECK(
      response->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())),
      absl::StrCat("the encoder's bytes do not parse as ",
                   response->GetTypeName()));
  CheckStringsAreUtf8(*response);
  IMPORTGATE_FUZZ_CHECK(response->SerializeAsString() == bytes,
                        absl::StrCat("re-serialized ", response->GetTypeName(),
                                     " differs from the encoder's bytes: ",
                                     response->ShortDebugString()));
}
// The errors eval::DecideRequest may return (evaluator.h): a malformed or
// undecidable request, or no exchange rate in force at its instant.
bool DecisionError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
         (status.code() == absl::StatusCode::kFailedPrecondition &&
          absl::StartsWith(status.message(), "item.unit_price: bundle "));
}

void DecideOne(const bundle::LoadedBundle& loaded,
               const v1::IsImportAllowedRequest& request) {
  const compiler::PolicySnapshot& snapshot = *loaded.snapshot;
  const BundleRefFields ref = RefOf(loaded);
  eval::Verdict verdict;
  absl::Status status = eval::DecideRequest(snapshot, request, kNow, &verdict);
  if (status.ok()) {
    WireBuffer out(1024);
    service::AppendResponse(snapshot, verdict, ref, request.item().sku(),
                            kDecisionId, &out);
    v1::IsImportAllowedResponse response;
    ParseEncoded(out.view(), &response);
    CheckDecision(snapshot, verdict, response.decision());
    CheckBundleRef(response.bundle(), ref);
    IMPORTGATE_FUZZ_CHECK(response.sku() == request.item().sku(),
                          response.sku());
    IMPORTGATE_FUZZ_CHECK(response.decision_id() == kDecisionId,
                          response.decision_id());
    return;
  }
  IMPORTGATE_FUZZ_CHECK(DecisionError(status), status.ToString());
  // The same request as the only item of a batch.
  WireBuffer out(256);
  service::AppendBatchError(status, kDecisionId, &out);
  service::AppendBatchBundle(ref, &out);
  v1::BatchIsImportAllowedResponse response;
  ParseEncoded(out.view(), &response);
  IMPORTGATE_FUZZ_CHECK(
      response.results_size() == 1 && response.results(0).has_error() &&
          response.results(0).error().code() == static_cast<int>(status.code()),
      response.ShortDebugString());
}

void DecideBatch(const bundle::LoadedBundle& loaded,
                 const v1::BatchIsImportAllowedRequest& batch) {
  const compiler::PolicySnapshot& snapshot = *loaded.snapshot;
  const BundleRefFields ref = RefOf(loaded);
  WireBuffer out(static_cast<size_t>(batch.requests_size()) * 768);
  std::vector<eval::Verdict> verdicts(batch.requests_size());
  std::vector<absl::Status> statuses(batch.requests_size());
  for (int i = 0; i < batch.requests_size(); ++i) {
    const v1::IsImportAllowedRequest& item = batch.requests(i);
    statuses[i] = eval::DecideRequest(snapshot, item, kNow, &verdicts[i]);
    if (statuses[i].ok()) {
      service::AppendBatchResponse(snapshot, verdicts[i], ref,
                                   item.item().sku(), kDecisionId, &out);
    } else {
      IMPORTGATE_FUZZ_CHECK(DecisionError(statuses[i]), statuses[i].ToString());
      service::AppendBatchError(statuses[i], kDecisionId, &out);
    }
  }
  service::AppendBatchBundle(ref, &out);

  v1::BatchIsImportAllowedResponse response;
  ParseEncoded(out.view(), &response);
  CheckBundleRef(response.bundle(), ref);
  IMPORTGATE_FUZZ_CHECK(response.results_size() == batch.requests_size(),
                        absl::StrCat(response.results_size(), " results for ",
                                     batch.requests_size(), " items"));
  for (int i = 0; i < batch.requests_size(); ++i) {
    const v1::BatchItemResult& result = response.results(i);
    if (statuses[i].ok()) {
      IMPORTGATE_FUZZ_CHECK(result.has_response(), result.ShortDebugString());
      CheckDecision(snapshot, verdicts[i], result.response().decision());
      CheckBundleRef(result.response().bundle(), ref);
      IMPORTGATE_FUZZ_CHECK(
          result.response().sku() == batch.requests(i).item().sku(),
          result.ShortDebugString());
    } else {
      IMPORTGATE_FUZZ_CHECK(
          result.has_error() &&
              result.error().code() == static_cast<int>(statuses[i].code()),
          result.ShortDebugString());
    }
  }
}

}  // namespace
}  // namespace importgate::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = ::importgate::fuzz;
  const fz::Fixture& fixture = fz::GetFixture();
  const int n = static_cast<int>(size);
  if (static_cast<size_t>(n) != size) return 0;

  importgate::v1::IsImportAllowedRequest request;
  if (request.ParseFromArray(data, n)) {
    for (const auto& loaded : fixture.bundles) fz::DecideOne(*loaded, request);
  }
  importgate::v1::BatchIsImportAllowedRequest batch;
  if (batch.ParseFromArray(data, n) && batch.requests_size() > 0 &&
      batch.requests_size() <= fz::kMaxBatchItems) {
    for (const auto& loaded : fixture.bundles) fz::DecideBatch(*loaded, batch);
  }
  return 0;
}
