// WireAudit: a server interceptor for tests that re-parses everything a
// server sends with the generated messages, so that "every string
// importgate sends is valid UTF-8" is checked on every call the test suites
// make, not only where a test looks. Each response message is parsed as
// its method's declared output type (proto3 parsing fails on a string that
// is not UTF-8, as Go, Java and Python runtimes do), and each status
// message must be UTF-8; a violation is a test failure naming the method.
// Header-only; install it with app::ServerOptions::interceptor_factories =
// WireAudit::Factories.
#ifndef IMPORTGATE_TESTS_TESTING_WIRE_AUDIT_H_
#define IMPORTGATE_TESTS_TESTING_WIRE_AUDIT_H_

#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/interceptor.h"
#include "grpcpp/support/server_interceptor.h"
#include "gtest/gtest.h"
#include "server/common/utf8.h"

namespace importgate::testing {

class WireAudit final : public grpc::experimental::Interceptor {
 public:
  explicit WireAudit(std::string method) : method_(std::move(method)) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      CheckMessage(methods->GetSerializedSendMessage());
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      const std::string message = methods->GetSendStatus().error_message();
      EXPECT_TRUE(IsValidUtf8(message))
          << method_ << " sent a status message that is not UTF-8: "
          << QuoteForMessage(message, 512);
    }
    methods->Proceed();
  }

  // The factories to install on a server (one interceptor per call).
  static std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
  Factories() {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        factories;
    factories.push_back(std::make_unique<Factory>());
    return factories;
  }

 private:
  class Factory final
      : public grpc::experimental::ServerInterceptorFactoryInterface {
   public:
    grpc::experimental::Interceptor* CreateServerInterceptor(
        grpc::experimental::ServerRpcInfo* info) override {
      return new WireAudit(info->method());
    }
  };

  // "/pkg.Service/Method" -> the method's output message, or null for a
  // method the generated pool does not know (then nothing is checked).
  std::unique_ptr<google::protobuf::Message> NewResponse() const {
    std::string name = method_;
    if (name.empty() || name[0] != '/') return nullptr;
    name = name.substr(1);
    const size_t slash = name.find('/');
    if (slash == std::string::npos) return nullptr;
    name[slash] = '.';
    const google::protobuf::MethodDescriptor* method =
        google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
            name);
    if (method == nullptr) return nullptr;
    const google::protobuf::Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(
            method->output_type());
    return prototype == nullptr
               ? nullptr
               : std::unique_ptr<google::protobuf::Message>(prototype->New());
  }

  void CheckMessage(grpc::ByteBuffer* bytes) const {
    if (bytes == nullptr) return;
    std::unique_ptr<google::protobuf::Message> response = NewResponse();
    if (response == nullptr) return;
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(bytes->Dump(&slices).ok());
    std::string wire;
    for (const grpc::Slice& slice : slices) {
      wire.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    EXPECT_TRUE(response->ParseFromString(wire))
        << method_ << " sent a response that does not parse as "
        << response->GetTypeName()
        << " (a string that is not UTF-8, or corrupt bytes)";
  }

  const std::string method_;
};

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_WIRE_AUDIT_H_
