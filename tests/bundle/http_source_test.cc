// Remote bundle sources over HTTP(S), against a real nginx on loopback
// (tests/testing/nginx.h): conditional polling, the signature beside the
// bundle, every kind of failure keeping the active bundle, TLS with a test
// CA, and the manager finding an unchanged source without loading it.
#include "server/bundle/http_source.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "server/bundle/artifact.h"
#include "server/bundle/manager.h"
#include "server/bundle/signing.h"
#include "server/bundle/source.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/nginx.h"
#include "tests/testing/test_bundles.h"
#include "tests/testing/test_pki.h"

namespace importgate::bundle {
namespace {

namespace fs = std::filesystem;
namespace it = ::importgate::testing;
namespace pv1 = ::importgate::policy::v1;
using ::testing::HasSubstr;
using Outcome = ReloadResult::Outcome;

// A directory served by nginx, where the test publishes files.
class HttpSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = it::WriteBundleDirectory({});
    root_ = dir_ + "/www";
    fs::create_directories(root_ + "/bundles");
    nginx_ = std::make_unique<it::Nginx>(dir_ + "/nginx", root_);
    ASSERT_NE(nginx_->port(), 0);
    url_ = nginx_->Url("/bundles/marketplace-id.igb");
  }
  void TearDown() override {
    nginx_.reset();
    fs::remove_all(dir_);
  }

  // Publishes `bytes` at `name` under /bundles/, with a modification time
  // a counter's seconds ahead, so that each publication has an ETag of its
  // own (nginx's ETag is the mtime in seconds and the size).
  void Publish(const std::string& name, const std::string& bytes) {
    const std::string path = absl::StrCat(root_, "/bundles/", name);
    ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
    fs::last_write_time(path, fs::file_time_type::clock::now() +
                                  std::chrono::seconds(++mtime_));
  }
  void Publish(uint64_t revision) {
    Publish("marketplace-id.igb", it::PackedSmallBundle(revision));
  }

  std::unique_ptr<HttpFetcher> Fetcher(RemoteOptions options = {}) {
    auto fetcher = HttpFetcher::Create(url_, std::move(options));
    EXPECT_TRUE(fetcher.ok()) << fetcher.status();
    return fetcher.ok() ? *std::move(fetcher) : nullptr;
  }

  std::string dir_, root_, url_;
  int mtime_ = 0;
  std::unique_ptr<it::Nginx> nginx_;
};

TEST_F(HttpSourceTest, AnUnchangedBundleIsAnswered304UntilItChanges) {
  Publish(1);
  auto fetcher = Fetcher();
  auto first = fetcher->FetchIfChanged();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->artifact, it::PackedSmallBundle(1));
  EXPECT_EQ((*first)->signatures, "");  // none published
  EXPECT_EQ((*first)->url, url_);

  for (int poll = 0; poll < 3; ++poll) {
    auto again = fetcher->FetchIfChanged();
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_FALSE(again->has_value());
  }
  EXPECT_EQ(nginx_->Requests("/bundles/marketplace-id.igb", 304), 3);
  EXPECT_EQ(nginx_->Requests("/bundles/marketplace-id.igb", 200), 1);

  Publish(2);
  auto changed = fetcher->FetchIfChanged();
  ASSERT_TRUE(changed.ok()) << changed.status();
  ASSERT_TRUE(changed->has_value());
  EXPECT_EQ((*changed)->artifact, it::PackedSmallBundle(2));
}

// nginx's ETag is the modification time in seconds and the size: a file
// replaced within the same second by one of the same size answers 304.
// A whole fetch after full_fetch_interval finds the change anyway.
TEST_F(HttpSourceTest, ASameSecondReplacementIsFoundByAWholeFetch) {
  const std::string path = root_ + "/bundles/marketplace-id.igb";
  Publish(1);
  const auto mtime = fs::last_write_time(path);
  RemoteOptions trusting;  // the default: validators believed for 10 min
  RemoteOptions doubting;
  doubting.full_fetch_interval = absl::Nanoseconds(1);
  auto believer = Fetcher(trusting);
  auto doubter = Fetcher(doubting);
  for (HttpFetcher* fetcher : {believer.get(), doubter.get()}) {
    ASSERT_TRUE(fetcher->FetchIfChanged().ok());
  }
  const std::string two = it::PackedSmallBundle(2);
  ASSERT_EQ(two.size(), it::PackedSmallBundle(1).size());
  ASSERT_TRUE(WriteFileAtomically(path, two).ok());
  fs::last_write_time(path, mtime);
  auto missed = believer->FetchIfChanged();
  ASSERT_TRUE(missed.ok());
  EXPECT_FALSE(missed->has_value());
  auto found = doubter->FetchIfChanged();
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->artifact, two);
}

TEST_F(HttpSourceTest, ForgetAndCancel) {
  Publish(1);
  auto fetcher = Fetcher();
  ASSERT_TRUE(fetcher->FetchIfChanged().ok());
  auto unchanged = fetcher->FetchIfChanged();
  ASSERT_TRUE(unchanged.ok());
  EXPECT_FALSE(unchanged->has_value());
  fetcher->Forget();
  auto forgotten = fetcher->FetchIfChanged();
  ASSERT_TRUE(forgotten.ok());
  EXPECT_TRUE(forgotten->has_value());
  fetcher->Cancel();
  auto cancelled = fetcher->FetchIfChanged();
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled);
}

// A signature published after its bundle is a change of the pair: both
// are fetched, the bundle although it answered 304.
TEST_F(HttpSourceTest, ASignatureChangingAloneFetchesThePair) {
  Publish(1);
  auto fetcher = Fetcher();
  ASSERT_TRUE(fetcher->FetchIfChanged().ok());
  Publish("marketplace-id.igb.sig", "signatures { key_id: \"k\" }\n");
  auto changed = fetcher->FetchIfChanged();
  ASSERT_TRUE(changed.ok()) << changed.status();
  ASSERT_TRUE(changed->has_value());
  EXPECT_EQ((*changed)->artifact, it::PackedSmallBundle(1));
  EXPECT_EQ((*changed)->signatures, "signatures { key_id: \"k\" }\n");
  auto unchanged = fetcher->FetchIfChanged();
  ASSERT_TRUE(unchanged.ok());
  EXPECT_FALSE(unchanged->has_value());
  // Removed again: a change too.
  fs::remove(root_ + "/bundles/marketplace-id.igb.sig");
  auto removed = fetcher->FetchIfChanged();
  ASSERT_TRUE(removed.ok());
  ASSERT_TRUE(removed->has_value());
  EXPECT_EQ((*removed)->signatures, "");
  // The bundle changing while the signature stays absent: one request
  // each, the absent signature not asked for again.
  const int signature_requests =
      nginx_->Requests("/bundles/marketplace-id.igb.sig", 404);
  Publish(2);
  auto two = fetcher->FetchIfChanged();
  ASSERT_TRUE(two.ok());
  ASSERT_TRUE(two->has_value());
  EXPECT_EQ((*two)->signatures, "");
  EXPECT_EQ(nginx_->Requests("/bundles/marketplace-id.igb.sig", 404),
            signature_requests + 1);
}

// A server that accepts connections and then says nothing, or sends less
// than its Content-Length and hangs up: what nginx cannot be made to do.
class BrokenServer {
 public:
  explicit BrokenServer(bool truncate) : truncate_(truncate) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), size), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    if (truncate_) {
      thread_ = std::thread([this] {
        while (true) {
          const int client = accept(fd_, nullptr, nullptr);
          if (client < 0 || stop_) {
            if (client >= 0) close(client);
            return;
          }
          char request[4096];
          (void)!read(client, request, sizeof(request));
          const std::string reply =
              "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nIGBUNDL1 short";
          (void)!write(client, reply.data(), reply.size());
          close(client);
        }
      });
    }
  }
  ~BrokenServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  std::string Url() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/b/marketplace-id.igb");
  }

 private:
  const bool truncate_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(HttpSourceTest, EveryFailureIsAnErrorNamingTheUrl) {
  Publish(1);
  Publish("huge.igb", std::string(4096, 'x'));
  BrokenServer silent(/*truncate=*/false);
  BrokenServer truncating(/*truncate=*/true);
  const int closed_port = it::UnusedPort();
  struct Case {
    const char* name;
    std::string url;
    absl::StatusCode code;
    const char* why;
  } cases[] = {
      {"404", nginx_->Url("/bundles/missing.igb"), absl::StatusCode::kNotFound,
       "HTTP 404"},
      {"503", nginx_->Url("/unavailable/marketplace-id.igb"),
       absl::StatusCode::kUnavailable, "HTTP 503"},
      {"403", nginx_->Url("/forbidden/marketplace-id.igb"),
       absl::StatusCode::kPermissionDenied, "HTTP 403"},
      {"connection refused",
       absl::StrCat("http://127.0.0.1:", closed_port, "/b/marketplace-id.igb"),
       absl::StatusCode::kUnavailable, "onnect"},
      {"timeout", silent.Url(), absl::StatusCode::kDeadlineExceeded,
       "timed out"},
      {"truncated body", truncating.Url(), absl::StatusCode::kDataLoss,
       "cut short"},
      {"over the size limit", nginx_->Url("/bundles/huge.igb"),
       absl::StatusCode::kInvalidArgument, "1024-byte limit"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RemoteOptions options;
    options.timeout = absl::Milliseconds(500);
    options.max_bytes = 1024;
    auto fetcher = HttpFetcher::Create(c.url, options);
    ASSERT_TRUE(fetcher.ok()) << fetcher.status();
    auto fetched = (*fetcher)->FetchIfChanged();
    ASSERT_FALSE(fetched.ok());
    EXPECT_EQ(fetched.status().code(), c.code) << fetched.status();
    EXPECT_THAT(fetched.status().message(), HasSubstr(c.why));
    EXPECT_THAT(fetched.status().message(), HasSubstr("GET http://127.0.0.1:"));
  }
}

TEST(HttpFetcherTest, MalformedUrlsAndCaFilesAreRefusedNamingTheFlag) {
  for (const char* url :
       {"ftp://host/b.igb", "http://", "http:///b.igb", "https://host",
        "https://host/", "https://host/dir/"}) {
    SCOPED_TRACE(url);
    auto fetcher = HttpFetcher::Create(url, {});
    ASSERT_FALSE(fetcher.ok());
    EXPECT_EQ(fetcher.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(fetcher.status().message(), HasSubstr("--bundle"));
  }
  RemoteOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  auto fetcher = HttpFetcher::Create("https://host/b.igb", options);
  ASSERT_FALSE(fetcher.ok());
  EXPECT_THAT(fetcher.status().message(), HasSubstr("--bundle_ca_file"));
  // What OpenSource takes for a path, and what it refuses.
  EXPECT_TRUE(OpenSource("policies/default").ok());
  EXPECT_TRUE(OpenSource("/srv/bundles/a.igb").ok());
  auto oci = OpenSource("s3://bucket/a.igb");
  ASSERT_FALSE(oci.ok());
  EXPECT_THAT(oci.status().message(), HasSubstr("--bundle"));
  // The scheme in any case is a URL.
  EXPECT_TRUE(HttpFetcher::Create("HTTPS://host/b.igb", {}).ok());
  // Credentials, queries and fragments would leak into status and logs,
  // or put the signature at the wrong URL.
  for (const char* url :
       {"https://user:secret@host/b.igb", "https://host/b.igb?token=secret",
        "https://host/b.igb#part"}) {
    SCOPED_TRACE(url);
    auto refused = HttpFetcher::Create(url, {});
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(refused.status().message(), HasSubstr("--bundle"));
    EXPECT_THAT(refused.status().message(),
                ::testing::Not(HasSubstr("secret")));
  }
  RemoteOptions instant;
  instant.timeout = absl::Microseconds(500);
  auto too_short = HttpFetcher::Create("https://host/b.igb", instant);
  ASSERT_FALSE(too_short.ok());
  EXPECT_THAT(too_short.status().message(), HasSubstr("--bundle_timeout"));
}

// TLS: nginx with a certificate from a test CA. The CA given is trusted;
// without it (the system's roots) or with another CA, the fetch fails.
TEST_F(HttpSourceTest, HttpsNeedsTheConfiguredCa) {
  it::TestPki pki("http-source");
  pki.Issue("server", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth");
  it::TestPki other("http-source-other");
  Publish(1);
  it::Nginx tls(dir_ + "/nginx-tls", root_, pki.Path("server.crt"),
                pki.Path("server.key"), nginx_->port());
  ASSERT_NE(tls.port(), 0);
  const std::string url = tls.Url("/bundles/marketplace-id.igb", true);

  RemoteOptions trusted;
  trusted.ca_file = pki.Path("ca.crt");
  auto fetcher = HttpFetcher::Create(url, trusted);
  ASSERT_TRUE(fetcher.ok()) << fetcher.status();
  auto fetched = (*fetcher)->FetchIfChanged();
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  ASSERT_TRUE(fetched->has_value());
  EXPECT_EQ((*fetched)->artifact, it::PackedSmallBundle(1));

  RemoteOptions wrong_ca;
  wrong_ca.ca_file = other.Path("ca.crt");
  for (const RemoteOptions& options : {RemoteOptions{}, wrong_ca}) {
    auto untrusting = HttpFetcher::Create(url, options);
    ASSERT_TRUE(untrusting.ok());
    auto refused = (*untrusting)->FetchIfChanged();
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable)
        << refused.status();
  }
  // An https source never follows a redirect to http (nginx answers 302
  // to the plain server's copy).
  auto redirected = HttpFetcher::Create(
      tls.Url("/to-http/marketplace-id.igb", true), trusted);
  ASSERT_TRUE(redirected.ok());
  auto downgraded = (*redirected)->FetchIfChanged();
  ASSERT_FALSE(downgraded.ok());
  EXPECT_EQ(downgraded.status().code(), absl::StatusCode::kUnavailable)
      << downgraded.status();
  // The same redirect from an http source is followed.
  auto plain_redirect =
      HttpFetcher::Create(nginx_->Url("/to-http/marketplace-id.igb"), {});
  ASSERT_TRUE(plain_redirect.ok());
  auto followed = (*plain_redirect)->FetchIfChanged();
  ASSERT_TRUE(followed.ok()) << followed.status();
  EXPECT_TRUE(followed->has_value());
}

// The manager over an HTTP source.
class HttpManagerTest : public HttpSourceTest {
 protected:
  void SetUp() override {
    HttpSourceTest::SetUp();
    NewReplica();
  }
  void NewReplica(std::shared_ptr<const TrustedKeys> keys = nullptr,
                  absl::Duration full_fetch_interval = absl::Minutes(10),
                  bool allow_rollback = false) {
    manager_.reset();
    store_ = std::make_unique<PolicyStore>(&clock_);
    ManagerOptions options;
    options.source = url_;
    options.state_dir = dir_ + "/state";
    options.source_options.iso_codes = it::RealIsoCodes();
    options.source_options.trusted_keys = std::move(keys);
    options.remote.timeout = absl::Seconds(5);
    options.remote.full_fetch_interval = full_fetch_interval;
    options.allow_rollback = allow_rollback;
    manager_ = std::make_unique<BundleManager>(store_.get(), &clock_, options);
  }
  uint64_t ActiveRevision() {
    auto current = store_->Current();
    return current == nullptr ? 0 : current->snapshot->revision;
  }

  it::FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::unique_ptr<PolicyStore> store_;
  std::unique_ptr<BundleManager> manager_;
};

TEST_F(HttpManagerTest, AnUnchangedSourceIsFoundSoWithoutLoadingIt) {
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(ActiveRevision(), 1u);
  for (int poll = 0; poll < 3; ++poll) {
    ReloadResult r = manager_->Reload();
    EXPECT_EQ(r.outcome, Outcome::kUnchanged) << r.message;
    EXPECT_EQ(r.revision, 1u);
  }
  EXPECT_EQ(store_->Status().loads.unchanged, 3u);
  EXPECT_TRUE(store_->Status().last_source_success.has_value());
  EXPECT_EQ(nginx_->Requests("/bundles/marketplace-id.igb", 304), 3);
  Publish(2);
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kActivated);
  EXPECT_EQ(ActiveRevision(), 2u);
}

// Whole fetches of the same bytes (a server without validators, or the
// full_fetch_interval passing) are found unchanged by their digest.
TEST_F(HttpManagerTest, TheSameBytesFetchedWholeAreUnchanged) {
  NewReplica(nullptr, absl::Nanoseconds(1));
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  for (int poll = 0; poll < 2; ++poll) {
    EXPECT_EQ(manager_->Reload().outcome, Outcome::kUnchanged);
  }
  EXPECT_EQ(nginx_->Requests("/bundles/marketplace-id.igb", 200), 3);
  EXPECT_EQ(store_->Status().loads.activated, 1u);
}

// Every bad candidate keeps the active bundle and is reported, and stays
// refused at the next poll (never found "unchanged" by its 304); a source
// that is down is reported the same way.
TEST_F(HttpManagerTest, BadCandidatesAndOutagesKeepTheActiveBundle) {
  Publish(2);
  ASSERT_TRUE(manager_->Start().ok());
  for (const it::BadBundle& c : it::BadBundles(2)) {
    SCOPED_TRACE(c.name);
    Publish("marketplace-id.igb", c.bytes);
    const int downloads = nginx_->Requests("/bundles/marketplace-id.igb", 200);
    for (int poll = 0; poll < 3; ++poll) {
      ReloadResult r = manager_->Reload();
      EXPECT_EQ(r.outcome, Outcome::kRefused);
      EXPECT_THAT(r.message, HasSubstr(c.why));
      EXPECT_EQ(ActiveRevision(), 2u);
      StoreStatus status = store_->Status();
      ASSERT_TRUE(status.failing_since.has_value());
      EXPECT_THAT(status.last_attempt->error, HasSubstr(c.why));
    }
    // Downloaded and checked once; the same refusal after, from a 304.
    EXPECT_EQ(nginx_->Requests("/bundles/marketplace-id.igb", 200),
              downloads + 1);
  }
  fs::remove(root_ + "/bundles/marketplace-id.igb");
  ReloadResult gone = manager_->Reload();
  EXPECT_EQ(gone.outcome, Outcome::kRefused);
  EXPECT_THAT(gone.message, HasSubstr("HTTP 404"));
  nginx_.reset();  // the server down
  ReloadResult down = manager_->Reload();
  EXPECT_EQ(down.outcome, Outcome::kRefused);
  EXPECT_THAT(down.message, HasSubstr(url_));
  EXPECT_EQ(ActiveRevision(), 2u);
}

// A replica restarted while the server is down comes back on its last
// known good revision; a rollback makes the source's revision refused
// again rather than "unchanged".
TEST_F(HttpManagerTest, LastKnownGoodAndRollbackWithARemoteSource) {
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  Publish(2);
  ASSERT_EQ(manager_->Reload().outcome, Outcome::kActivated);
  auto rolled = manager_->Rollback(1);
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  EXPECT_EQ(ActiveRevision(), 1u);
  ReloadResult r = manager_->Reload();
  EXPECT_EQ(r.outcome, Outcome::kRefused);
  EXPECT_THAT(r.message, HasSubstr("rolled back"));

  nginx_.reset();
  NewReplica();
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(ActiveRevision(), 1u);
  EXPECT_TRUE(store_->Status().serving_last_known_good);
}

// The first load from a slow server holds the source lock only: status
// (Pending) answers while Start() is still waiting for the server.
TEST_F(HttpManagerTest, StartDoesNotHoldUpStatusWhileTheServerIsSlow) {
  BrokenServer silent(/*truncate=*/false);
  store_ = std::make_unique<PolicyStore>(&clock_);
  ManagerOptions options;
  options.source = silent.Url();
  options.source_options.iso_codes = it::RealIsoCodes();
  options.remote.timeout = absl::Seconds(3);
  manager_ = std::make_unique<BundleManager>(store_.get(), &clock_, options);
  std::atomic<bool> started{false};
  std::thread start([&] {
    EXPECT_FALSE(manager_->Start().ok());  // times out: nothing to serve
    started = true;
  });
  absl::SleepFor(absl::Milliseconds(200));  // Start() is in its fetch
  EXPECT_FALSE(manager_->Pending().has_value());
  EXPECT_FALSE(started.load()) << "status waited for the fetch";
  start.join();
}

// --allow_rollback lets a reload go back in revisions; it does not undo
// an explicit rollback at the next poll.
TEST_F(HttpManagerTest, AllowRollbackDoesNotUndoARollback) {
  NewReplica(nullptr, absl::Minutes(10), /*allow_rollback=*/true);
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  Publish(2);
  ASSERT_EQ(manager_->Reload().outcome, Outcome::kActivated);
  ASSERT_TRUE(manager_->Rollback(1).ok());
  for (int poll = 0; poll < 2; ++poll) {
    ReloadResult r = manager_->Reload();
    EXPECT_EQ(r.outcome, Outcome::kRefused);
    EXPECT_THAT(r.message, HasSubstr("rolled back"));
  }
  EXPECT_EQ(ActiveRevision(), 1u);
  Publish(3);
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kActivated);
}

// With trusted keys, a remote bundle loads only with a valid signature
// beside it; one published later is picked up at the next poll.
TEST_F(HttpManagerTest, SignaturesAreFetchedBesideTheBundle) {
  const std::string private_key = dir_ + "/k.key.pem";
  const std::string public_key = dir_ + "/k.pub.pem";
  ASSERT_TRUE(GenerateKeyPair(private_key, public_key).ok());
  auto key = SigningKey::FromPemFile(private_key);
  ASSERT_TRUE(key.ok()) << key.status();
  auto trusted = TrustedKeys::FromPemFiles({public_key});
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  NewReplica(std::make_shared<const TrustedKeys>(*std::move(trusted)));

  auto sign = [&](const std::string& artifact) {
    return it::SignatureText(*key, artifact);
  };
  const std::string one = it::PackedSmallBundle(1);
  Publish("marketplace-id.igb", one);
  Publish("marketplace-id.igb.sig", sign(one));
  ASSERT_TRUE(manager_->Start().ok());

  const std::string two = it::PackedSmallBundle(2);
  Publish("marketplace-id.igb", two);  // the old signature still beside it
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kRefused);
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kRefused);
  Publish("marketplace-id.igb.sig", sign(two));
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kActivated);
  EXPECT_EQ(ActiveRevision(), 2u);
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kUnchanged);
}

}  // namespace
}  // namespace importgate::bundle
