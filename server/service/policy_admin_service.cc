#include "server/service/policy_admin_service.h"

#include <utility>

#include "server/common/utf8.h"
#include "server/compiler/snapshot.h"
#include "server/decisionlog/query.h"
#include "server/policy/codes.h"
#include "server/service/grpc_status.h"

namespace importgate::service {
namespace {

namespace adminv1 = importgate::admin::v1;

void FillTime(absl::Time t, google::protobuf::Timestamp* out) {
  const policy::UnixTime split = policy::SplitUnixTime(t);
  out->set_seconds(split.seconds);
  out->set_nanos(split.nanos);
}

void FillInfo(const bundle::ActivationRecord& record,
              adminv1::BundleInfo* info) {
  const bundle::LoadedBundle& b = *record.bundle;
  info->mutable_ref()->set_name(b.snapshot->name);
  info->mutable_ref()->set_revision(b.snapshot->revision);
  info->mutable_ref()->set_digest(b.digest);
  info->set_source(ToValidUtf8(b.source));
  FillTime(record.loaded_at, info->mutable_loaded_at());
  info->set_rule_count(static_cast<int64_t>(b.snapshot->rules.size()));
  info->set_test_case_count(static_cast<int64_t>(b.test_case_count));
  info->set_description(b.snapshot->description);
  const auto& periods = b.snapshot->rate_periods;
  if (!periods.empty() && periods.back().until != absl::InfiniteFuture()) {
    FillTime(periods.back().until, info->mutable_rates_in_force_until());
  }
}

template <typename Response>
void FillOutcome(const bundle::ReloadResult& r, Response* response) {
  using bundle::ReloadResult;
  switch (r.outcome) {
    case ReloadResult::Outcome::kActivated:
      response->set_outcome(adminv1::RELOAD_OUTCOME_ACTIVATED);
      break;
    case ReloadResult::Outcome::kUnchanged:
      response->set_outcome(adminv1::RELOAD_OUTCOME_UNCHANGED);
      break;
    case ReloadResult::Outcome::kRefused:
      response->set_outcome(adminv1::RELOAD_OUTCOME_REFUSED);
      break;
    case ReloadResult::Outcome::kPending:
      response->set_outcome(adminv1::RELOAD_OUTCOME_PENDING);
      break;
  }
  response->set_message(ToValidUtf8(r.message));
  if (!r.name.empty()) {
    response->mutable_bundle()->set_name(r.name);
    response->mutable_bundle()->set_revision(r.revision);
    response->mutable_bundle()->set_digest(r.digest);
  }
}

// Fills a recorded answer's decision.message and legal_basis, left out of
// the log, from the bundle that decided (the active one or one in the
// store's history, by digest). False when there was nothing to fill or the
// bundle is not here.
bool FillRuleText(const bundle::StoreStatus& status,
                  importgate::decisionlog::v1::DecisionRecord* record) {
  if (!record->has_response() || !record->response().has_decision() ||
      !record->response().decision().message().empty()) {
    return false;
  }
  importgate::v1::Decision* decision =
      record->mutable_response()->mutable_decision();
  const std::string& digest = record->response().bundle().digest();
  const compiler::PolicySnapshot* snapshot = nullptr;
  if (status.active.has_value() && status.active->bundle->digest == digest) {
    snapshot = status.active->bundle->snapshot.get();
  }
  for (const bundle::ActivationRecord& past : status.history) {
    if (snapshot == nullptr && past.bundle->digest == digest) {
      snapshot = past.bundle->snapshot.get();
    }
  }
  if (snapshot == nullptr) return false;
  if (decision->rule_id().empty()) {
    decision->set_message(snapshot->default_message);
    return true;
  }
  for (const compiler::CompiledRule& rule : snapshot->rules) {
    if (rule.id == decision->rule_id()) {
      decision->set_message(rule.message);
      decision->set_legal_basis(rule.legal_basis);
      return true;
    }
  }
  return false;
}

grpc::Status NoManager() {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "this server has no bundle source to reload from");
}

}  // namespace

PolicyAdminService::PolicyAdminService(
    const bundle::PolicyStore* store, bundle::BundleManager* manager,
    std::string server_version, AdminAccess* access,
    const decisionlog::DecisionLog* decision_log)
    : store_(store),
      manager_(manager),
      server_version_(std::move(server_version)),
      access_(access),
      decision_log_(decision_log) {}

bool PolicyAdminService::Admit(grpc::CallbackServerContext* context,
                               grpc::ServerUnaryReactor* reactor,
                               absl::string_view method) {
  if (access_ == nullptr) return true;
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  absl::string_view traceparent;
  auto header = context->client_metadata().find("traceparent");
  if (header != context->client_metadata().end()) {
    traceparent =
        absl::string_view(header->second.data(), header->second.size());
  }
  absl::Status status =
      access_->Authorize(*auth, context->peer(), method, traceparent);
  if (status.ok()) return true;
  reactor->Finish(ToGrpcStatus(status));
  return false;
}

grpc::ServerUnaryReactor* PolicyAdminService::Reload(
    grpc::CallbackServerContext* context, const adminv1::ReloadRequest*,
    adminv1::ReloadResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Admit(context, reactor, "Reload")) return reactor;
  if (manager_ == nullptr) {
    reactor->Finish(NoManager());
    return reactor;
  }
  // On the manager's one reload thread, with whatever else asked.
  manager_->RequestReload(
      [reactor, response](const bundle::ReloadResult& result) {
        FillOutcome(result, response);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* PolicyAdminService::Rollback(
    grpc::CallbackServerContext* context,
    const adminv1::RollbackRequest* request,
    adminv1::RollbackResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Admit(context, reactor, "Rollback")) return reactor;
  if (manager_ == nullptr) {
    reactor->Finish(NoManager());
    return reactor;
  }
  if (request->revision() == 0) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "revision: is required"));
    return reactor;
  }
  const uint64_t revision = request->revision();
  rollbacks_.Run([this, reactor, response, revision] {
    auto result = manager_->Rollback(revision);
    if (!result.ok()) {
      reactor->Finish(ToGrpcStatus(result.status()));
      return;
    }
    FillOutcome(*result, response);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* PolicyAdminService::GetStatus(
    grpc::CallbackServerContext* context, const adminv1::GetStatusRequest*,
    adminv1::GetStatusResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Admit(context, reactor, "GetStatus")) return reactor;
  // Pending first: a revision that activates in between then shows as
  // both, never as neither.
  const std::optional<bundle::PendingRevision> pending =
      manager_ != nullptr ? manager_->Pending() : std::nullopt;
  bundle::StoreStatus status = store_->Status();
  if (status.active.has_value())
    FillInfo(*status.active, response->mutable_active());
  response->set_serving(status.active.has_value());
  if (status.last_attempt.has_value()) {
    const bundle::LoadAttemptRecord& a = *status.last_attempt;
    adminv1::LoadAttempt* out = response->mutable_last_attempt();
    FillTime(a.at, out->mutable_at());
    out->set_source(ToValidUtf8(a.source));
    out->set_activated(a.activated);
    out->set_error(ToValidUtf8(a.error));
    if (!a.candidate_name.empty()) {
      out->mutable_candidate()->set_name(a.candidate_name);
      out->mutable_candidate()->set_revision(a.candidate_revision);
      out->mutable_candidate()->set_digest(a.candidate_digest);
    }
  }
  for (const bundle::ActivationRecord& record : status.history) {
    FillInfo(record, response->add_history());
  }
  response->set_server_version(server_version_);
  const bundle::Freshness freshness = store_->FreshnessNow();
  if (freshness.stale) {
    response->set_stale(true);
    response->set_stale_reason(ToValidUtf8(freshness.reason));
    FillTime(freshness.since, response->mutable_stale_since());
  }
  if (pending.has_value()) {
    adminv1::PendingBundle* out = response->mutable_pending();
    out->mutable_bundle()->set_name(pending->name);
    out->mutable_bundle()->set_revision(pending->revision);
    out->mutable_bundle()->set_digest(pending->digest);
    FillTime(pending->activates_at, out->mutable_activates_at());
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* PolicyAdminService::GetDecision(
    grpc::CallbackServerContext* context,
    const adminv1::GetDecisionRequest* request,
    adminv1::GetDecisionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Admit(context, reactor, "GetDecision")) return reactor;
  if (decision_log_ == nullptr) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                     "this server keeps no decision log (start it with "
                     "--decision_log_dir)"));
    return reactor;
  }
  std::string id = request->decision_id();
  lookups_.Run([this, reactor, response, id = std::move(id)] {
    auto record = decisionlog::FindDecision(decision_log_->dir(), id);
    if (!record.ok()) {
      reactor->Finish(ToGrpcStatus(record.status()));
      return;
    }
    *response->mutable_record() = *std::move(record);
    response->set_rule_text_from_bundle(
        FillRuleText(store_->Status(), response->mutable_record()));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace importgate::service
