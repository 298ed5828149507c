// reflect_request: encodes a JSON request for a method of a running gRPC
// server into the gRPC-framed bytes that h2load replays, learning the
// message types from the server's reflection service. bench/rpc_bench.sh
// uses it for the Cerbos target, whose .proto files are not on this
// machine. With --call it also sends the request once and prints the
// response as JSON, so that the script can check what the server answers.
//
//   reflect_request --server=127.0.0.1:3593
//       --method=cerbos.svc.v1.CerbosService/CheckResources
//       --json='{"requestId": "x", ...}' --out=request.bin [--call]
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"

ABSL_FLAG(std::string, server, "127.0.0.1:3593", "host:port of the server");
ABSL_FLAG(std::string, method, "", "package.Service/Method");
ABSL_FLAG(std::string, json, "", "the request, as protobuf JSON");
ABSL_FLAG(std::string, out, "", "where to write the gRPC-framed request");
ABSL_FLAG(bool, call, false, "also call the method once and print the reply");

namespace {

namespace reflection = grpc::reflection::v1alpha;
namespace pb = google::protobuf;

// Asks the server for the file that defines `service` and every file it
// depends on, transitively.
absl::Status FetchFiles(const std::shared_ptr<grpc::Channel>& channel,
                        const std::string& service,
                        pb::SimpleDescriptorDatabase* db) {
  auto stub = reflection::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  auto stream = stub->ServerReflectionInfo(&context);
  std::set<std::string> have, asked;
  std::vector<reflection::ServerReflectionRequest> queue(1);
  queue[0].set_file_containing_symbol(service);
  while (!queue.empty()) {
    reflection::ServerReflectionRequest request = queue.back();
    queue.pop_back();
    reflection::ServerReflectionResponse response;
    if (!stream->Write(request) || !stream->Read(&response)) break;
    if (response.has_error_response()) {
      return absl::NotFoundError(absl::StrCat(
          "reflection: ", response.error_response().error_message()));
    }
    for (const std::string& bytes :
         response.file_descriptor_response().file_descriptor_proto()) {
      pb::FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) {
        return absl::DataLossError("reflection: a file descriptor is corrupt");
      }
      if (!have.insert(file.name()).second) continue;
      for (const std::string& dependency : file.dependency()) {
        if (!have.count(dependency) && asked.insert(dependency).second) {
          queue.emplace_back().set_file_by_filename(dependency);
        }
      }
      db->Add(file);
    }
  }
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("reflection: ", status.error_message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Run() {
  const std::string method_path = absl::GetFlag(FLAGS_method);
  const size_t slash = method_path.find('/');
  if (slash == std::string::npos) {
    return absl::InvalidArgumentError("--method: want package.Service/Method");
  }
  const std::string service = method_path.substr(0, slash);
  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_server),
                                     grpc::InsecureChannelCredentials());
  pb::SimpleDescriptorDatabase db;
  if (absl::Status s = FetchFiles(channel, service, &db); !s.ok()) return s;
  pb::DescriptorPool pool(&db);
  const pb::MethodDescriptor* method =
      pool.FindMethodByName(absl::StrReplaceAll(method_path, {{"/", "."}}));
  if (method == nullptr) {
    return absl::NotFoundError(absl::StrCat("--method: ", method_path,
                                            " is not offered by the server"));
  }

  pb::DynamicMessageFactory factory(&pool);
  std::unique_ptr<pb::Message> request(
      factory.GetPrototype(method->input_type())->New());
  if (auto s = pb::util::JsonStringToMessage(absl::GetFlag(FLAGS_json),
                                             request.get());
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--json: ", s.ToString()));
  }
  const std::string bytes = request->SerializeAsString();
  std::string framed(5, '\0');  // uncompressed, then a big-endian length
  const uint32_t size = static_cast<uint32_t>(bytes.size());
  for (int i = 0; i < 4; ++i) {
    framed[1 + i] = static_cast<char>(size >> (24 - 8 * i));
  }
  framed += bytes;
  if (!absl::GetFlag(FLAGS_out).empty()) {
    std::ofstream out(absl::GetFlag(FLAGS_out), std::ios::binary);
    out << framed;
    if (!out.flush()) {
      return absl::InternalError(
          absl::StrCat("--out: cannot write ", absl::GetFlag(FLAGS_out)));
    }
  }
  if (!absl::GetFlag(FLAGS_call)) return std::string();

  grpc::GenericStub stub(channel);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer send(&slice, 1), receive;
  grpc::ClientContext context;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, absl::StrCat("/", method_path), grpc::StubOptions(),
                 &send, &receive,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) {
    return absl::UnknownError(absl::StrCat("call: ", status.error_message()));
  }
  std::vector<grpc::Slice> slices;
  if (!receive.Dump(&slices).ok()) return absl::DataLossError("call: no reply");
  std::string reply;
  for (const grpc::Slice& s : slices) {
    reply.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  std::unique_ptr<pb::Message> response(
      factory.GetPrototype(method->output_type())->New());
  if (!response->ParseFromString(reply)) {
    return absl::DataLossError("call: the reply does not parse");
  }
  std::string json;
  if (!pb::util::MessageToJsonString(*response, &json).ok()) {
    return absl::InternalError("call: the reply has no JSON form");
  }
  return json;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<std::string> result = Run();
  if (!result.ok()) {
    std::cerr << "reflect_request: " << result.status() << "\n";
    return 1;
  }
  if (!result->empty()) std::cout << *result << "\n";
  return 0;
}
