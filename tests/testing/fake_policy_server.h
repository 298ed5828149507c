// A scriptable ImportPolicyService for client tests: answers ALLOW from a
// fixed bundle revision, can fail its first N calls with a chosen code, can
// answer late, and counts calls. Runs on the callback API on an ephemeral
// loopback port.
#ifndef IMPORTGATE_TESTS_TESTING_FAKE_POLICY_SERVER_H_
#define IMPORTGATE_TESTS_TESTING_FAKE_POLICY_SERVER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "importgate/v1/import_policy.grpc.pb.h"

namespace importgate::testing {

class FakePolicyServer final
    : public importgate::v1::ImportPolicyService::CallbackService {
 public:
  explicit FakePolicyServer(uint64_t revision,
                            std::shared_ptr<grpc::ServerCredentials>
                                credentials = grpc::InsecureServerCredentials())
      : revision_(revision) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", credentials, &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakePolicyServer() override { Stop(); }

  void Stop() {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
      server_.reset();
    }
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int calls() const { return calls_.load(); }
  void FailFirst(int n, grpc::StatusCode code) {
    fail_left_ = n;
    fail_code_ = code;
  }
  void set_delay(absl::Duration d) { delay_ = d; }
  void set_ttl_seconds(int64_t s) { ttl_seconds_ = s; }
  void set_revision(uint64_t r) { revision_ = r; }

  grpc::ServerUnaryReactor* IsImportAllowed(
      grpc::CallbackServerContext* context,
      const importgate::v1::IsImportAllowedRequest* request,
      importgate::v1::IsImportAllowedResponse* response) override {
    ++calls_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (fail_left_.fetch_sub(1) > 0) {
      reactor->Finish(grpc::Status(fail_code_, "scripted failure"));
      return reactor;
    }
    if (request->min_bundle_revision() > revision_) {
      reactor->Finish(
          grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                       "min_bundle_revision: newer than this replica"));
      return reactor;
    }
    if (request->item().hs_code() == "bad") {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   "item.hs_code: scripted"));
      return reactor;
    }
    Fill(*request, response);
    if (delay_ > absl::ZeroDuration()) {
      auto* alarm = new grpc::Alarm();
      alarm->Set(absl::ToChronoTime(absl::Now() + delay_),
                 [reactor, alarm](bool) {
                   reactor->Finish(grpc::Status::OK);
                   delete alarm;
                 });
      return reactor;
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* BatchIsImportAllowed(
      grpc::CallbackServerContext* context,
      const importgate::v1::BatchIsImportAllowedRequest* request,
      importgate::v1::BatchIsImportAllowedResponse* response) override {
    ++calls_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (fail_left_.fetch_sub(1) > 0) {
      reactor->Finish(grpc::Status(fail_code_, "scripted failure"));
      return reactor;
    }
    for (const auto& item : request->requests()) {
      auto* result = response->add_results();
      if (item.item().hs_code() == "bad") {
        result->mutable_error()->set_code(3);
        result->mutable_error()->set_message("item.hs_code: scripted");
      } else {
        Fill(item, result->mutable_response());
      }
    }
    response->mutable_bundle()->set_revision(revision_);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  void Fill(const importgate::v1::IsImportAllowedRequest& request,
            importgate::v1::IsImportAllowedResponse* response) {
    response->mutable_decision()->set_allowed(true);
    response->mutable_decision()->set_effect(importgate::v1::EFFECT_ALLOW);
    response->mutable_decision()->set_reason_code("FAKE");
    response->mutable_decision()->mutable_cache_ttl()->set_seconds(
        ttl_seconds_);
    response->mutable_bundle()->set_name("fake");
    response->mutable_bundle()->set_revision(revision_);
    response->set_sku(request.item().sku());
  }

  std::atomic<uint64_t> revision_;
  std::atomic<int> calls_{0};
  std::atomic<int> fail_left_{0};
  std::atomic<grpc::StatusCode> fail_code_{grpc::StatusCode::UNAVAILABLE};
  std::atomic<int64_t> ttl_seconds_{60};
  absl::Duration delay_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_FAKE_POLICY_SERVER_H_
