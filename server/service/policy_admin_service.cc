#include "server/service/policy_admin_service.h"

#include <utility>

#include "google/protobuf/util/time_util.h"

namespace importgate::service {
namespace {

namespace adminv1 = importgate::admin::v1;

void FillTime(absl::Time t, google::protobuf::Timestamp* out) {
  *out = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(t));
}

void FillInfo(const bundle::ActivationRecord& record, adminv1::BundleInfo* info) {
  const bundle::LoadedBundle& b = *record.bundle;
  info->mutable_ref()->set_name(b.snapshot->name);
  info->mutable_ref()->set_revision(b.snapshot->revision);
  info->mutable_ref()->set_digest(b.digest);
  info->set_source(b.source);
  FillTime(record.loaded_at, info->mutable_loaded_at());
  info->set_rule_count(static_cast<int64_t>(b.snapshot->rules.size()));
  info->set_test_case_count(static_cast<int64_t>(b.test_case_count));
  info->set_description(b.snapshot->description);
}

}  // namespace

PolicyAdminService::PolicyAdminService(const bundle::PolicyStore* store,
                                       std::string server_version)
    : store_(store), server_version_(std::move(server_version)) {}

grpc::ServerUnaryReactor* PolicyAdminService::GetStatus(
    grpc::CallbackServerContext* context, const adminv1::GetStatusRequest*,
    adminv1::GetStatusResponse* response) {
  bundle::StoreStatus status = store_->Status();
  if (status.active.has_value()) FillInfo(*status.active, response->mutable_active());
  response->set_serving(status.active.has_value());
  if (status.last_attempt.has_value()) {
    const bundle::LoadAttemptRecord& a = *status.last_attempt;
    adminv1::LoadAttempt* out = response->mutable_last_attempt();
    FillTime(a.at, out->mutable_at());
    out->set_source(a.source);
    out->set_activated(a.activated);
    out->set_error(a.error);
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
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace importgate::service
