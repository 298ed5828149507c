// End to end: starts the built importgate-server binary as a newcomer
// would, and talks to it over TCP: decisions, health, reflection, admin,
// SIGTERM, and refusal of a bundle whose own tests fail.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "importgate/admin/v1/policy_admin.grpc.pb.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "tests/testing/run_command.h"
#include "tests/testing/server_process.h"
#include "tests/testing/tee_request.h"
#include "tests/testing/test_pki.h"

namespace importgate {
namespace {

namespace v1 = ::importgate::v1;
namespace adminv1 = ::importgate::admin::v1;
namespace it = ::importgate::testing;
using ::importgate::testing::ServerProcess;
using ::testing::HasSubstr;
using ::testing::Not;

class ServerBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // No --bundle: the default, policies/default, relative to the repo root.
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--listen=127.0.0.1:0", "--shutdown_grace_seconds=1"});
    std::string line = server_->WaitForLine("serving on ");
    ASSERT_FALSE(line.empty()) << server_->output();
    std::string port = line.substr(line.rfind(':') + 1);
    ASSERT_TRUE(absl::SimpleAtoi(port, &port_)) << line;
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                   grpc::InsecureChannelCredentials());
  }

  // A T-shirt offered at listing, priced IDR 150,000.
  static v1::IsImportAllowedRequest Tee(v1::SellerKind kind) {
    v1::IsImportAllowedRequest r = it::TeeRequest(kind);
    r.mutable_item()->mutable_unit_price()->set_currency_code("IDR");
    r.mutable_item()->mutable_unit_price()->set_units(150000);
    r.set_channel(v1::CHANNEL_LISTING);
    return r;
  }

  std::unique_ptr<ServerProcess> server_;
  int port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ServerBinaryTest, LogsStartAndActivation) {
  EXPECT_THAT(server_->output(), HasSubstr("importgate-server "));
  EXPECT_THAT(server_->output(),
              HasSubstr("activated bundle marketplace-id revision 1 sha256:"));
}

TEST_F(ServerBinaryTest, DecidesDenyAndAllow) {
  auto stub = v1::ImportPolicyService::NewStub(channel_);
  v1::IsImportAllowedResponse deny;
  grpc::ClientContext c1;
  ASSERT_TRUE(
      stub->IsImportAllowed(&c1, Tee(v1::SELLER_KIND_CROSS_BORDER), &deny)
          .ok());
  EXPECT_FALSE(deny.decision().allowed());
  EXPECT_EQ(deny.decision().rule_id(), "id-2021-cross-border-textiles-apparel");
  EXPECT_EQ(deny.bundle().name(), "marketplace-id");

  v1::IsImportAllowedResponse allow;
  grpc::ClientContext c2;
  ASSERT_TRUE(
      stub->IsImportAllowed(&c2, Tee(v1::SELLER_KIND_DOMESTIC), &allow).ok());
  EXPECT_TRUE(allow.decision().allowed());
}

TEST_F(ServerBinaryTest, BadRequestIsInvalidArgumentNamingTheField) {
  auto stub = v1::ImportPolicyService::NewStub(channel_);
  v1::IsImportAllowedRequest request = Tee(v1::SELLER_KIND_CROSS_BORDER);
  request.set_destination_country("Indonesia");
  v1::IsImportAllowedResponse response;
  grpc::ClientContext context;
  grpc::Status s = stub->IsImportAllowed(&context, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::StartsWith("destination_country:"));
}

TEST_F(ServerBinaryTest, HealthIsServing) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->Check(&context, {}, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ServerBinaryTest, ReflectionListsAndDescribesTheServices) {
  using grpc::reflection::v1alpha::ServerReflection;
  using grpc::reflection::v1alpha::ServerReflectionRequest;
  using grpc::reflection::v1alpha::ServerReflectionResponse;
  auto stub = ServerReflection::NewStub(channel_);
  grpc::ClientContext context;
  auto stream = stub->ServerReflectionInfo(&context);

  ServerReflectionRequest list;
  list.set_list_services("");
  ASSERT_TRUE(stream->Write(list));
  ServerReflectionResponse listed;
  ASSERT_TRUE(stream->Read(&listed));
  std::vector<std::string> names;
  for (const auto& s : listed.list_services_response().service()) {
    names.push_back(s.name());
  }
  EXPECT_THAT(names,
              ::testing::IsSupersetOf({"importgate.v1.ImportPolicyService",
                                       "importgate.admin.v1.PolicyAdmin",
                                       "grpc.health.v1.Health"}));

  // grpcurl describes a service by asking for the file that defines it.
  for (const char* symbol :
       {"importgate.v1.ImportPolicyService", "grpc.health.v1.Health"}) {
    SCOPED_TRACE(symbol);
    ServerReflectionRequest describe;
    describe.set_file_containing_symbol(symbol);
    ASSERT_TRUE(stream->Write(describe));
    ServerReflectionResponse described;
    ASSERT_TRUE(stream->Read(&described));
    EXPECT_GT(described.file_descriptor_response().file_descriptor_proto_size(),
              0)
        << described.error_response().error_message();
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ServerBinaryTest, AdminStatusAndGracefulStopOnSigterm) {
  auto admin = admin::v1::PolicyAdmin::NewStub(channel_);
  admin::v1::GetStatusResponse status;
  grpc::ClientContext context;
  ASSERT_TRUE(admin->GetStatus(&context, {}, &status).ok());
  EXPECT_TRUE(status.serving());
  EXPECT_EQ(status.active().source(), "policies/default");
  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->output();
  EXPECT_THAT(server_->output(), HasSubstr("stopped"));
}

// The client examples, run as their own processes against the server.
TEST_F(ServerBinaryTest,
       ListingExampleFailsOpenAndCheckoutExampleChecksTheCart) {
  std::string target = absl::StrCat("--target=127.0.0.1:", port_);
  ServerProcess listing({target}, IMPORTGATE_LISTING_EXAMPLE);
  EXPECT_EQ(listing.Stop(0), 0) << listing.output();
  EXPECT_THAT(listing.output(),
              HasSubstr("TEE-CN-1: BLOCKED CROSS_BORDER_CATEGORY_CLOSED"));
  EXPECT_THAT(listing.output(),
              HasSubstr("TEE-ID-1: PUBLISHED (NO_RULE_MATCHED"));
  EXPECT_THAT(listing.output(),
              HasSubstr("TEE-CN-2: BLOCKED CROSS_BORDER_CATEGORY_CLOSED rule="
                        "id-2021-cross-border-textiles-apparel (cache)"));

  ServerProcess checkout({target}, IMPORTGATE_CHECKOUT_EXAMPLE);
  EXPECT_EQ(checkout.Stop(0), 0) << checkout.output();
  EXPECT_THAT(checkout.output(), HasSubstr("LAMP-1: OK revision 1"));
  EXPECT_THAT(checkout.output(),
              HasSubstr("MUG-1: BLOCKED CROSS_BORDER_BELOW_MIN_PRICE"));
  EXPECT_THAT(checkout.output(), HasSubstr("cart: REFUSE PAYMENT"));

  // With the server gone, listing fails open and checkout fails closed.
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  ServerProcess listing_down({target}, IMPORTGATE_LISTING_EXAMPLE);
  EXPECT_EQ(listing_down.Stop(0), 0);
  EXPECT_THAT(
      listing_down.output(),
      HasSubstr("TEE-CN-1: PUBLISHED (IMPORTGATE_UNAVAILABLE_FAIL_OPEN"));
  ServerProcess checkout_down({target}, IMPORTGATE_CHECKOUT_EXAMPLE);
  EXPECT_EQ(checkout_down.Stop(0), 0);
  EXPECT_THAT(
      checkout_down.output(),
      HasSubstr(
          "LAMP-1: BLOCKED IMPORTGATE_UNAVAILABLE_FAIL_CLOSED (fallback)"));
}

// Regression: --verify_key in a form Abseil accepts but the server's own
// scan did not (single dash) used to switch signatures off silently.
// The binary's TLS flags, with certificates the openssl tool makes as the
// README shows: mutual TLS required on a port that is not loopback-only in
// spirit (admin shares it because TLS is on), the admin API for the
// identity --admin_allow_file lists and refused to another, and the flag
// mistakes refused at start naming the flag; the same with the README's
// buf curl commands.
TEST(ServerBinaryTlsTest, MutualTlsAndAdminByIdentity) {
  it::TestPki pki("e2e");
  pki.Issue("server", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth");
  pki.Issue("ops", "ops", "URI:spiffe://example.org/ops", "clientAuth");
  pki.Issue("stranger", "stranger", "URI:spiffe://example.org/stranger",
            "clientAuth");
  std::ofstream(pki.Path("admins.txt")) << "spiffe://example.org/ops\n";
  ServerProcess server({"--listen=127.0.0.1:0", "--shutdown_grace_seconds=1",
                        "--tls_cert_file=" + pki.Path("server.crt"),
                        "--tls_key_file=" + pki.Path("server.key"),
                        "--tls_client_ca_file=" + pki.Path("ca.crt"),
                        "--tls_client_auth=require",
                        "--admin_allow_file=" + pki.Path("admins.txt")});
  std::string line = server.WaitForLine("serving on ");
  ASSERT_FALSE(line.empty()) << server.output();
  const std::string port = line.substr(line.rfind(':') + 1);
  auto channel = [&](const std::string& client) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pki.Read("ca.crt");
    ssl.pem_cert_chain = pki.Read(client + ".crt");
    ssl.pem_private_key = pki.Read(client + ".key");
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                               grpc::SslCredentials(ssl));
  };
  v1::IsImportAllowedResponse response;
  grpc::ClientContext decide;
  ASSERT_TRUE(v1::ImportPolicyService::NewStub(channel("stranger"))
                  ->IsImportAllowed(&decide, it::TeeRequest(), &response)
                  .ok());
  adminv1::GetStatusResponse status;
  grpc::ClientContext ops;
  grpc::Status allowed = adminv1::PolicyAdmin::NewStub(channel("ops"))
                             ->GetStatus(&ops, {}, &status);
  EXPECT_TRUE(allowed.ok()) << allowed.error_message();
  grpc::ClientContext stranger;
  EXPECT_EQ(adminv1::PolicyAdmin::NewStub(channel("stranger"))
                ->GetStatus(&stranger, {}, &status)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // The README's buf curl commands (reflection over TLS, the client
  // certificate from files), at the IP address the certificate holds (a
  // name could resolve to another replica's IPv6 port in a shared test
  // machine).
  auto buf_curl = [&](const std::string& client, const std::string& data,
                      const std::string& method) {
    const std::string command = absl::StrCat(
        IMPORTGATE_BUF, " curl --protocol grpc --cacert ", pki.Path("ca.crt"),
        " --cert ", pki.Path(client + ".crt"), " --key ",
        pki.Path(client + ".key"), data.empty() ? "" : " -d '" + data + "'",
        " https://127.0.0.1:", port, "/", method);
    auto [status, output] = it::RunCommand(command);
    return std::make_pair(status, absl::StrCat(command, "\n", output));
  };
  auto [decided, decision] =
      buf_curl("stranger",
               R"({"item":{"hs_code":"6109.10.00","origin_country":"CN"},)"
               R"("seller":{"kind":"SELLER_KIND_CROSS_BORDER"},)"
               R"("destination_country":"ID","channel":"CHANNEL_CHECKOUT"})",
               "importgate.v1.ImportPolicyService/IsImportAllowed");
  EXPECT_EQ(decided, 0) << decision;
  EXPECT_THAT(decision, HasSubstr("\"effect\": \"EFFECT_DENY\""));
  auto [granted, granted_output] =
      buf_curl("ops", "", "importgate.admin.v1.PolicyAdmin/GetStatus");
  EXPECT_EQ(granted, 0) << granted_output;
  EXPECT_THAT(granted_output, HasSubstr("\"marketplace-id\""));
  auto [refused, refused_output] =
      buf_curl("stranger", "", "importgate.admin.v1.PolicyAdmin/GetStatus");
  EXPECT_NE(refused, 0) << refused_output;
  EXPECT_THAT(refused_output, HasSubstr("permission_denied"));
  EXPECT_THAT(refused_output, HasSubstr("is not listed in --admin_allow_file"));
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  EXPECT_THAT(server.output(), HasSubstr("TLS on: certificate "));
  EXPECT_THAT(
      server.output(),
      HasSubstr("admin GetStatus by spiffe://example.org/ops: allowed"));
  EXPECT_THAT(
      server.output(),
      HasSubstr("admin GetStatus by spiffe://example.org/stranger: refused"));

  // Mistakes in the flags stop the server at start, naming the flag.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"--tls_key_file=" + pki.Path("server.key")},
           {"--admin_allow_file=" + pki.Path("admins.txt")},
           {"--tls_cert_file=" + pki.Path("server.crt"),
            "--tls_key_file=" + pki.Path("ops.key")},
           {"--tls_cert_file=" + pki.Path("server.crt"),
            "--tls_key_file=" + pki.Path("server.key"),
            "--tls_client_auth=sometimes"}}) {
    std::vector<std::string> full = {"--listen=127.0.0.1:0"};
    full.insert(full.end(), args.begin(), args.end());
    ServerProcess bad(full);
    EXPECT_EQ(bad.Stop(0), 1) << bad.output();
    EXPECT_THAT(bad.output(), HasSubstr("cannot start: --"));
  }
}

// A registry's flags with a source that is not a registry stop the
// server at start, naming the flag, rather than being ignored.
TEST(ServerBinaryFlagsTest, RegistryFlagsNeedARegistry) {
  for (const std::string& flag :
       {std::string("--bundle_plain_http"),
        std::string("--bundle_registry_auth_file=/etc/importgate/auth.json")}) {
    ServerProcess bad({"--listen=127.0.0.1:0", flag});
    EXPECT_EQ(bad.Stop(0), 1) << bad.output();
    EXPECT_THAT(
        bad.output(),
        HasSubstr(absl::StrCat("cannot start: ", flag.substr(0, flag.find('=')),
                               ": only for an oci:// --bundle")));
  }
}

// The flag names `--help` lists (absl's "    --name (meaning); default").
std::set<std::string> HelpFlags(const std::string& help) {
  std::set<std::string> names;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (!absl::ConsumePrefix(&line, "    --")) continue;
    names.emplace(line.substr(0, line.find(' ')));
  }
  return names;
}

// Both binaries list every flag with its default and meaning, and the
// README's flag table names exactly the server's flags.
TEST(ServerBinaryHelpTest, HelpListsEveryFlagAndTheReadmeTableMatches) {
  ServerProcess server({"--help"});
  server.Stop(0);
  const std::set<std::string> flags = HelpFlags(server.output());
  for (const char* flag : {"listen", "bundle", "tls_cert_file",
                           "admin_allow_file", "max_batch_items", "check"}) {
    EXPECT_TRUE(flags.contains(flag)) << flag << "\n" << server.output();
  }
  EXPECT_THAT(server.output(), HasSubstr("default: \"127.0.0.1:50051\""));

  // README "The server's flags": the first column's `--name` entries.
  std::ifstream readme(std::string(IMPORTGATE_SOURCE_DIR) + "/README.md");
  std::string line;
  bool in_table = false;
  std::set<std::string> documented;
  while (std::getline(readme, line)) {
    if (line == "The server's flags:") in_table = true;
    if (!in_table) continue;
    if (absl::StartsWith(line, "| `--")) {
      absl::string_view first = absl::string_view(line).substr(2);
      first = first.substr(0, first.find(" |"));
      for (absl::string_view part : absl::StrSplit(first, " / ")) {
        absl::ConsumePrefix(&part, "`--");
        absl::ConsumeSuffix(&part, "`");
        documented.emplace(part);
      }
    } else if (!documented.empty() && !absl::StartsWith(line, "|")) {
      break;
    }
  }
  EXPECT_EQ(documented, flags);

  ServerProcess tool({"--help"}, IMPORTGATE_TOOL_BINARY);
  tool.Stop(0);
  EXPECT_THAT(tool.output(), Not(HasSubstr("needs a value")));
  EXPECT_EQ(HelpFlags(tool.output()),
            (std::set<std::string>{"allow_unsigned",
                                   "bundle_ca_file",
                                   "bundle_plain_http",
                                   "bundle_registry_auth_file",
                                   "decision_id",
                                   "follow",
                                   "from",
                                   "from_sequence",
                                   "iso_codes_dir",
                                   "key",
                                   "limit",
                                   "mask_key_file",
                                   "out",
                                   "outcome",
                                   "private",
                                   "public",
                                   "rule",
                                   "seller",
                                   "sku",
                                   "until"}));
  EXPECT_THAT(tool.output(), HasSubstr("importgate bundle build DIR -o FILE"));
}

// --log_format=json: every line on stderr is one JSON object with time,
// level and message; the activation carries bundle, revision and digest,
// and an admin call its peer, outcome and the caller's traceparent.
TEST(ServerBinaryLogTest, JsonLogsOneObjectPerLineWithFields) {
  ServerProcess server({"--listen=127.0.0.1:0", "--shutdown_grace_seconds=1",
                        "--log_format=json"});
  std::string line = server.WaitForLine("serving on ");
  ASSERT_FALSE(line.empty()) << server.output();
  const size_t colon = line.rfind(':');
  const std::string port =
      line.substr(colon + 1, line.find('"', colon) - colon - 1);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  grpc::ClientContext context;
  const std::string traceparent =
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  context.AddMetadata("traceparent", traceparent);
  adminv1::GetStatusResponse status;
  ASSERT_TRUE(adminv1::PolicyAdmin::NewStub(channel)
                  ->GetStatus(&context, {}, &status)
                  .ok());
  EXPECT_EQ(server.Stop(SIGTERM), 0);

  int records = 0;
  bool activation = false, admin = false;
  for (absl::string_view record : absl::StrSplit(server.output(), '\n')) {
    if (record.empty()) continue;
    google::protobuf::Struct json;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(std::string(record), &json)
            .ok())
        << record;
    ++records;
    const auto& f = json.fields();
    ASSERT_TRUE(f.contains("time") && f.contains("level") &&
                f.contains("message"))
        << record;
    const std::string message = f.at("message").string_value();
    if (absl::StartsWith(message, "activated bundle marketplace-id")) {
      activation = true;
      EXPECT_EQ(f.at("bundle").string_value(), "marketplace-id");
      EXPECT_EQ(f.at("revision").string_value(), "1");
      EXPECT_TRUE(absl::StartsWith(f.at("digest").string_value(), "sha256:"));
    }
    if (absl::StartsWith(message, "admin GetStatus")) {
      admin = true;
      EXPECT_EQ(f.at("outcome").string_value(), "allowed");
      EXPECT_EQ(f.at("traceparent").string_value(), traceparent);
      EXPECT_TRUE(absl::StrContains(f.at("peer").string_value(), "127.0.0.1"));
    }
  }
  EXPECT_GE(records, 4);
  EXPECT_TRUE(activation) << server.output();
  EXPECT_TRUE(admin) << server.output();
}

TEST(ServerBinaryRefusalTest, VerifyKeyInAnyFlagFormRequiresSignatures) {
  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() / absl::StrCat("importgate-key-", getpid());
  fs::create_directories(dir);
  ServerProcess keygen(
      {"key", "generate", "--private", (dir / "k.pem").string(), "--public",
       (dir / "p.pem").string()},
      IMPORTGATE_TOOL_BINARY);
  ASSERT_EQ(keygen.Stop(0), 0) << keygen.output();
  // The default bundle is a source directory: unsigned by nature.
  ServerProcess server(
      {"--listen=127.0.0.1:0", "-verify_key=" + (dir / "p.pem").string()});
  EXPECT_EQ(server.Stop(0), 1);
  EXPECT_THAT(server.output(), HasSubstr("signatures required"));
  EXPECT_THAT(server.output(), HasSubstr("cannot be signed"));
  fs::remove_all(dir);
}

TEST(ServerBinaryRefusalTest, RefusesABundleWhoseTestsFail) {
  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() / absl::StrCat("importgate-e2e-", getpid());
  fs::remove_all(dir);
  fs::copy(fs::path(IMPORTGATE_SOURCE_DIR) / "policies/default", dir,
           fs::copy_options::recursive);
  // Flip one expectation: the cross-border closure no longer "passes".
  {
    std::ofstream bad(dir / "tests/zz_wrong.textproto");
    bad << R"pb(cases {
                  name: "deliberately wrong"
                  at: "2024-01-01T00:00:00+07:00"
                  request {
                    item {
                      hs_code: "6109"
                      origin_country: "CN"
                      unit_price { currency_code: "USD" units: 500 }
                    }
                    seller { kind: SELLER_KIND_CROSS_BORDER }
                    destination_country: "ID"
                    channel: CHANNEL_CHECKOUT
                  }
                  expect_effect: EFFECT_ALLOW
                })pb";
  }
  ServerProcess server({"--listen=127.0.0.1:0", "--bundle=" + dir.string()});
  EXPECT_EQ(server.Stop(0), 1);
  EXPECT_THAT(server.output(), HasSubstr("refused"));
  EXPECT_THAT(server.output(), HasSubstr("tests/zz_wrong.textproto:1"));
  EXPECT_THAT(server.output(), HasSubstr("deliberately wrong"));
  EXPECT_THAT(server.output(), Not(HasSubstr("serving on")));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace importgate
