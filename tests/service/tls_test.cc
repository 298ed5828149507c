// TLS, mutual TLS and admin access by identity, over real sockets with
// certificates made by the openssl tool at test time (tests/testing/
// test_pki.h): the server's wiring (app/tls.h, service/admin_access.h) as
// main() sets it up from the --tls_ flags.
#include "server/app/tls.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "importgate/admin/v1/policy_admin.grpc.pb.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/app/server.h"
#include "server/bundle/loader.h"
#include "server/decisionlog/decision_log.h"
#include "server/decisionlog/query.h"
#include "server/service/admin_access.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/tee_request.h"
#include "tests/testing/test_bundles.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/wire_audit.h"

namespace importgate::app {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;
namespace adminv1 = ::importgate::admin::v1;
using ::testing::HasSubstr;

constexpr char kOps[] = "spiffe://example.org/ops";
constexpr char kStranger[] = "spiffe://example.org/stranger";

// One CA, the server's certificate and three clients: "ops" (listed in
// the allow file), "stranger" (not listed) and "foreign" (issued by
// another CA).
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new it::TestPki("tls");
    pki_->Issue("server", "localhost", "DNS:localhost,IP:127.0.0.1",
                "serverAuth");
    pki_->Issue("ops", "ops",
                absl::StrCat("URI:", kOps, ",email:ops@example.org"),
                "clientAuth");
    pki_->Issue("stranger", "stranger", absl::StrCat("URI:", kStranger),
                "clientAuth");
    other_ca_ = new it::TestPki("tls-other");
    other_ca_->Issue("foreign", "foreign", absl::StrCat("URI:", kOps),
                     "clientAuth");
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete other_ca_;
  }

  void SetUp() override {
    auto bundle = it::LoadDefaultBundle();
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    ASSERT_TRUE(store_.Activate(*bundle).ok());
    allow_file_ = pki_->Path("admin_allow.txt");
    std::ofstream(allow_file_) << "# operators\n" << kOps << "  # ops team\n";
  }

  // Starts the server with TLS on 127.0.0.1 and admin access by identity.
  void Start(ClientAuth client_auth, TlsFiles files = {}) {
    if (files.cert_file.empty()) {
      files.cert_file = pki_->Path("server.crt");
      files.key_file = pki_->Path("server.key");
    }
    if (client_auth != ClientAuth::kNone) {
      files.client_ca_file = pki_->Path("ca.crt");
    }
    files.client_auth = client_auth;
    files.refresh = absl::Seconds(1);
    auto credentials = MakeServerCredentials(files);
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    auto access = service::AdminAccess::FromAllowFile(allow_file_);
    ASSERT_TRUE(access.ok()) << access.status();
    access_ = *std::move(access);
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.credentials = *credentials;
    options.admin_access = access_.get();
    options.interceptor_factories = it::WireAudit::Factories;
    options.decision_log = decision_log_.get();
    auto server = ImportgateServer::Start(options, &store_, &clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // A TLS channel trusting the test CA, presenting `client` (a file stem
  // of `pki`, or "" for no certificate).
  std::shared_ptr<grpc::Channel> Channel(const std::string& client,
                                         const it::TestPki* pki = nullptr) {
    if (pki == nullptr) pki = pki_;
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pki_->Read("ca.crt");
    if (!client.empty()) {
      ssl.pem_cert_chain = pki->Read(client + ".crt");
      ssl.pem_private_key = pki->Read(client + ".key");
    }
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // a fresh connection
    return grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::SslCredentials(ssl),
        args);
  }

  static grpc::Status Decide(const std::shared_ptr<grpc::Channel>& channel,
                             v1::IsImportAllowedResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    return v1::ImportPolicyService::NewStub(channel)->IsImportAllowed(
        &context, it::TeeRequest(), response);
  }

  static grpc::Status Status(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    adminv1::GetStatusResponse response;
    return adminv1::PolicyAdmin::NewStub(channel)->GetStatus(
        &context, adminv1::GetStatusRequest(), &response);
  }

  static it::TestPki* pki_;
  static it::TestPki* other_ca_;
  std::string allow_file_;
  it::FakeClock clock_{absl::FromUnixSeconds(1'705'000'000)};
  bundle::PolicyStore store_{&clock_};
  std::unique_ptr<service::AdminAccess> access_;
  std::unique_ptr<decisionlog::DecisionLog> decision_log_;  // before server_
  std::unique_ptr<ImportgateServer> server_;
};

it::TestPki* TlsTest::pki_ = nullptr;
it::TestPki* TlsTest::other_ca_ = nullptr;

TEST_F(TlsTest, TlsServesDecisionsAndRefusesPlaintext) {
  Start(ClientAuth::kNone);
  v1::IsImportAllowedResponse response;
  grpc::Status s = Decide(Channel(""), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.decision().effect(), v1::EFFECT_DENY);

  auto plaintext =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                          grpc::InsecureChannelCredentials());
  EXPECT_EQ(Decide(plaintext, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, RequireRefusesCallersWithoutAVerifiedCertificate) {
  Start(ClientAuth::kRequire);
  v1::IsImportAllowedResponse response;
  EXPECT_TRUE(Decide(Channel("ops"), &response).ok());
  EXPECT_EQ(Decide(Channel(""), &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // Signed by a CA the server does not trust.
  EXPECT_EQ(Decide(Channel("foreign", other_ca_), &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, RequestAcceptsCallersWithAndWithoutACertificate) {
  Start(ClientAuth::kRequest);
  v1::IsImportAllowedResponse response;
  EXPECT_TRUE(Decide(Channel("ops"), &response).ok());
  EXPECT_TRUE(Decide(Channel(""), &response).ok());
  EXPECT_EQ(Decide(Channel("foreign", other_ca_), &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

// A decision record names a caller by its certificate's identity, and a
// caller without one by its address.
TEST_F(TlsTest, DecisionRecordsNameTheCallersCertificateIdentity) {
  const std::string dir = pki_->Path("decision-log");
  decisionlog::DecisionLogOptions log_options;
  log_options.dir = dir;
  auto log = decisionlog::DecisionLog::Open(log_options, &clock_);
  ASSERT_TRUE(log.ok()) << log.status();
  decision_log_ = *std::move(log);
  Start(ClientAuth::kRequest);
  v1::IsImportAllowedResponse with_certificate, without;
  ASSERT_TRUE(Decide(Channel("ops"), &with_certificate).ok());
  ASSERT_TRUE(Decide(Channel(""), &without).ok());
  server_->Shutdown(absl::Seconds(1));
  decision_log_->Close();
  auto ops = decisionlog::FindDecision(dir, with_certificate.decision_id());
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_EQ(ops->peer(), kOps);
  auto anonymous = decisionlog::FindDecision(dir, without.decision_id());
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_THAT(anonymous->peer(), ::testing::StartsWith("ipv4:127.0.0.1:"));
}

TEST_F(TlsTest, AdminIsForTheIdentitiesTheAllowFileLists) {
  Start(ClientAuth::kRequest);
  grpc::Status ops = Status(Channel("ops"));
  EXPECT_TRUE(ops.ok()) << ops.error_message();

  grpc::Status stranger = Status(Channel("stranger"));
  EXPECT_EQ(stranger.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(stranger.error_message(),
              HasSubstr(absl::StrCat(kStranger,
                                     " is not listed in --admin_allow_file")));
  grpc::Status anonymous = Status(Channel(""));
  EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(anonymous.error_message(), HasSubstr("no identity"));
  // The decision API is for every caller the TLS settings admit.
  v1::IsImportAllowedResponse response;
  EXPECT_TRUE(Decide(Channel("stranger"), &response).ok());
}

TEST_F(TlsTest, AllowFileIsReReadAndABadVersionKeepsTheList) {
  Start(ClientAuth::kRequire);
  EXPECT_EQ(Status(Channel("stranger")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Listed: admitted on the next call.
  std::ofstream(allow_file_) << kOps << "\n" << kStranger << "\n";
  EXPECT_TRUE(Status(Channel("stranger")).ok());
  EXPECT_EQ(access_->LastError(), "");
  // A bad version is reported and the previous list stays in force.
  std::ofstream(allow_file_) << kOps << "\nnot one identity\n";
  EXPECT_TRUE(Status(Channel("stranger")).ok());
  EXPECT_THAT(access_->LastError(), HasSubstr("line 2"));
  std::filesystem::remove(allow_file_);
  EXPECT_TRUE(Status(Channel("stranger")).ok());
  EXPECT_THAT(access_->LastError(), HasSubstr("cannot be read"));
  // A good version again.
  std::ofstream(allow_file_) << kOps << "\n";
  EXPECT_EQ(Status(Channel("stranger")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(access_->LastError(), "");
}

// The server certificate is replaced on disk while calls run, on a kept
// connection and on new ones: no call fails, and new handshakes present
// the new certificate within the refresh interval.
TEST_F(TlsTest, CertificateRotationUnderLoadNeedsNoRestart) {
  // The server reads copies, so that the test can replace them.
  const std::string cert = pki_->Path("live.crt");
  const std::string key = pki_->Path("live.key");
  std::filesystem::copy_file(pki_->Path("server.crt"), cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(pki_->Path("server.key"), key,
                             std::filesystem::copy_options::overwrite_existing);
  TlsFiles files;
  files.cert_file = cert;
  files.key_file = key;
  Start(ClientAuth::kNone, files);
  pki_->Issue("rotated", "localhost", "DNS:localhost,IP:127.0.0.1",
              "serverAuth");

  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, failures{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 2; ++t) {
    load.emplace_back([&, t] {
      std::shared_ptr<grpc::Channel> kept = Channel("");
      while (!stop.load()) {
        // One thread keeps its connection; the other opens new ones.
        std::shared_ptr<grpc::Channel> channel = t == 0 ? kept : Channel("");
        v1::IsImportAllowedResponse response;
        grpc::Status s = Decide(channel, &response);
        ++calls;
        if (!s.ok()) {
          ++failures;
          ADD_FAILURE() << "call failed during rotation: " << s.error_message();
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(300));
  // Rotate: each file replaced by a rename, key first.
  std::filesystem::copy_file(pki_->Path("rotated.key"), key + ".new");
  std::filesystem::rename(key + ".new", key);
  std::filesystem::copy_file(pki_->Path("rotated.crt"), cert + ".new");
  std::filesystem::rename(cert + ".new", cert);

  const std::string want = pki_->Read("rotated.crt");
  bool rotated = false;
  for (absl::Time deadline = absl::Now() + absl::Seconds(15);
       !rotated && absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(100))) {
    grpc::ClientContext context;
    v1::IsImportAllowedResponse response;
    if (v1::ImportPolicyService::NewStub(Channel(""))
            ->IsImportAllowed(&context, it::TeeRequest(), &response)
            .ok()) {
      for (const auto& pem :
           context.auth_context()->FindPropertyValues("x509_pem_cert")) {
        rotated = rotated || std::string(pem.data(), pem.size()) == want;
      }
    }
  }
  absl::SleepFor(absl::Milliseconds(300));
  stop = true;
  for (std::thread& t : load) t.join();
  EXPECT_TRUE(rotated) << "new connections never presented the new certificate";
  EXPECT_GT(calls.load(), 20);
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(TlsTest, BadTlsFilesAreRefusedNamingTheFlag) {
  struct Case {
    const char* name;
    TlsFiles files;
    std::string want;
  };
  auto files = [](std::string cert, std::string key, std::string ca,
                  ClientAuth auth) {
    TlsFiles f;
    f.cert_file = std::move(cert);
    f.key_file = std::move(key);
    f.client_ca_file = std::move(ca);
    f.client_auth = auth;
    return f;
  };
  const std::string crt = pki_->Path("server.crt");
  const std::string key = pki_->Path("server.key");
  const std::string ca = pki_->Path("ca.crt");
  const std::vector<Case> cases = {
      {"no certificate", files("", key, "", ClientAuth::kNone),
       "--tls_cert_file: is required"},
      {"missing certificate file",
       files(pki_->Path("nope.crt"), key, "", ClientAuth::kNone),
       "--tls_cert_file: \""},
      {"a key as the certificate", files(key, key, "", ClientAuth::kNone),
       "holds no PEM certificate"},
      {"the key of another certificate",
       files(crt, pki_->Path("ops.key"), "", ClientAuth::kNone),
       "--tls_key_file: \""},
      {"require without a client CA", files(crt, key, "", ClientAuth::kRequire),
       "--tls_client_ca_file: is required"},
      {"a client CA with client auth none",
       files(crt, key, ca, ClientAuth::kNone), "--tls_client_auth is none"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto credentials = MakeServerCredentials(c.files);
    ASSERT_FALSE(credentials.ok());
    EXPECT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(credentials.status().message()), HasSubstr(c.want));
  }
  EXPECT_FALSE(ParseClientAuth("optional").ok());
  EXPECT_EQ(*ParseClientAuth("require"), ClientAuth::kRequire);
}

TEST(AllowListTest, ParsesOneIdentityPerLineWithComments) {
  auto list = service::ParseAllowList(
      "# admins\n"
      "spiffe://example.org/ops   # the ops team\n"
      "\n"
      "  ops.example.org\n"
      "ops@example.org\n");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 3u);
  EXPECT_TRUE(list->contains("spiffe://example.org/ops"));
  EXPECT_TRUE(list->contains("ops.example.org"));
  EXPECT_TRUE(list->contains("ops@example.org"));
  EXPECT_THAT(
      std::string(service::ParseAllowList("a\nb c\n").status().message()),
      HasSubstr("line 2"));
  EXPECT_FALSE(service::ParseAllowList("caf\xe9\n").ok());
  EXPECT_FALSE(service::ParseAllowList(std::string(2000, 'x') + "\n").ok());
  EXPECT_TRUE(service::ParseAllowList("").ok());
}

}  // namespace
}  // namespace importgate::app
