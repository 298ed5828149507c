// importgate-server: flags -> options -> serve -> activate the bundle ->
// watch the source and reload -> graceful shutdown on SIGTERM/SIGINT.
//
//   importgate-server [--listen=127.0.0.1:50051] [--bundle=policies/default]
//   importgate-server --check --bundle=PATH   # load, verify, self-test, exit
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/app/server.h"
#include "server/app/tls.h"
#include "server/bundle/artifact.h"
#include "server/bundle/manager.h"
#include "server/bundle/policy_store.h"
#include "server/bundle/source.h"
#include "server/bundle/watcher.h"
#include "server/common/clock.h"
#include "server/common/flags.h"
#include "server/common/log.h"
#include "server/decisionlog/decision_log.h"
#include "server/decisionlog/kafka_sink.h"
#include "server/metrics/bundle_metrics.h"
#include "server/metrics/decision_log_metrics.h"
#include "server/metrics/decision_metrics.h"
#include "server/metrics/metrics_endpoint.h"
#include "server/metrics/process_metrics.h"
#include "server/refdata/iso_codes.h"
#include "server/service/admin_access.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "host:port to serve on; port 0 picks a free port");
ABSL_FLAG(std::string, admin_listen, "",
          "host:port for the admin API; empty: on --listen when that is a "
          "loopback address or TLS is on, else not served");
ABSL_FLAG(std::string, bundle, "policies/default",
          "bundle source: a packed bundle file, a source bundle directory, a "
          "directory of packed bundle files (newest valid revision wins), or "
          "an http:// or https:// URL of a packed bundle file (its signature "
          "at URL.sig), or an OCI artifact in a registry "
          "(oci://REGISTRY/REPOSITORY:TAG or @sha256:DIGEST, pushed with "
          "`importgate bundle push`); remote ones polled every --poll_seconds");
ABSL_FLAG(std::string, bundle_ca_file, "",
          "PEM roots an https --bundle's certificate must chain to; empty: "
          "the system's");
ABSL_FLAG(std::string, bundle_registry_auth_file, "",
          "an oci:// registry's credentials: a Docker config.json "
          "(\"auths\": {\"HOST:PORT\": {\"auth\": base64 of user:password}}), "
          "e.g. a kubernetes.io/dockerconfigjson Secret; used when the "
          "registry asks (Basic, or a Bearer token from its realm)");
ABSL_FLAG(bool, bundle_plain_http, false,
          "reach an oci:// --bundle's registry over plain HTTP rather than "
          "HTTPS (a registry on loopback, for tests)");
ABSL_FLAG(absl::Duration, bundle_timeout, absl::Seconds(30),
          "the longest each request to a remote --bundle may take (a poll "
          "makes two, four when the bundle changed); at least 1ms");
ABSL_FLAG(bool, allow_unsigned_remote, false,
          "let a remote --bundle be used without --verify_key (signatures "
          "off); for tests only");
ABSL_FLAG(std::string, state_dir, "",
          "directory to persist activated bundles in (last known good, "
          "rollback); empty: none");
ABSL_FLAG(std::vector<std::string>, verify_key, {},
          "Ed25519 public key (PEM) that bundles must be signed by; repeat "
          "the flag or list several, comma-separated, for key rotation");
ABSL_FLAG(int, poll_seconds, 5,
          "how often to poll the source for changes (inotify notices most "
          "changes at once; a remote source is polled, each wait up to 20% "
          "shorter at random); 0 disables polling");
ABSL_FLAG(bool, watch, true, "reload when the bundle source changes");
ABSL_FLAG(bool, allow_rollback, false,
          "let a reload activate a revision older than the active one");
ABSL_FLAG(int, history, 10, "how many activated revisions status reports");
ABSL_FLAG(std::string, iso_codes_dir,
          std::string(importgate::IsoCodes::kDebianDirectory),
          "directory of the iso-codes JSON files (Debian package iso-codes)");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain of the server; with --tls_key_file turns on "
          "TLS for every port (re-read when it changes)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM roots that client certificates must chain to (mTLS)");
ABSL_FLAG(std::string, tls_client_auth, "none",
          "none | request | require: whether callers must present a "
          "certificate (request and require need --tls_client_ca_file)");
ABSL_FLAG(int, tls_refresh_seconds, 5,
          "how often the TLS files are re-read, so a rotation needs no "
          "restart");
ABSL_FLAG(std::string, admin_allow_file, "",
          "with TLS: identities (certificate SANs: DNS name, URI, e-mail) "
          "allowed to call the admin API, one per line; re-read when it "
          "changes. Unset with TLS: nobody");
ABSL_FLAG(absl::Duration, max_bundle_staleness, absl::ZeroDuration(),
          "when every load attempt has failed for longer than this (e.g. "
          "10m), the server keeps answering but reports the bundle stale "
          "(status, health name importgate.bundle.fresh); 0: only a "
          "restored last known good bundle is reported stale");
ABSL_FLAG(std::string, log_format, "text",
          "text | json: json writes one object per line (time, level, "
          "message, and fields such as bundle, revision, digest, peer, "
          "traceparent, error) for log shippers");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port to serve Prometheus metrics on (HTTP GET /metrics, no "
          "TLS: keep it on loopback or a scrape-only network); port 0 picks "
          "a free port; empty: off");
ABSL_FLAG(std::string, decision_log_dir, "",
          "directory for the decision log: every decision and refusal, "
          "chained by SHA-256 (importgate log verify DIR); empty: off");
ABSL_FLAG(std::string, decision_log_queue_policy, "block",
          "block | drop: when the log's queue is full, a call waits for room "
          "until its deadline (then UNAVAILABLE), or its record is dropped "
          "and counted");
ABSL_FLAG(int, decision_log_queue_mib, 64,
          "the decision log's queue bound, in MiB of records");
ABSL_FLAG(int, decision_log_segment_mib, 64,
          "a decision log segment is closed past this size, in MiB");
ABSL_FLAG(absl::Duration, decision_log_segment_age, absl::Hours(1),
          "a decision log segment is closed past this age");
ABSL_FLAG(int, decision_log_max_mib, 4096,
          "retention: the oldest decision log segments are removed while all "
          "take more than this, in MiB (a logged event says so)");
ABSL_FLAG(std::string, decision_log_seller_id, "keep",
          "keep | drop | hash: the seller.id in recorded requests, as sent, "
          "removed, or replaced by its HMAC-SHA256 under "
          "--decision_log_mask_key_file");
ABSL_FLAG(std::string, decision_log_mask_key_file, "",
          "the secret key (at least 16 bytes) that "
          "--decision_log_seller_id=hash hashes under");
ABSL_FLAG(std::vector<std::string>, decision_log_drop_attributes, {},
          "request attributes left out of records, by name (comma-separated; "
          "* for all)");
ABSL_FLAG(std::string, decision_log_rule_text, "omit",
          "omit | keep: whether recorded answers keep the deciding rule's "
          "message and legal basis (the bundle's text, found again by digest "
          "and rule id; GetDecision fills it back in)");
ABSL_FLAG(double, decision_log_allow_fraction, 1.0,
          "the fraction of ALLOWs recorded, 0 to 1 (DENYs and errors always "
          "are); the choice is a function of the decision id");
ABSL_FLAG(std::string, decision_log_kafka_brokers, "",
          "ship the decision log's entries from its files to Kafka: the "
          "bootstrap servers (host:port,...); empty: no sink");
ABSL_FLAG(std::string, decision_log_kafka_topic, "importgate.decisions",
          "the Kafka topic the decision log is shipped to");
ABSL_FLAG(std::string, decision_log_kafka_key, "",
          "the Kafka message key (one partition per key, in order); empty: "
          "the host name");
ABSL_FLAG(std::string, decision_log_kafka_config, "",
          "a file of further librdkafka properties, name=value per line "
          "(security.protocol, ssl.*, sasl.* ...)");
ABSL_FLAG(int, decision_log_kafka_in_flight_mib, 16,
          "the most decision log bytes handed to Kafka and not yet "
          "acknowledged (the sink's memory bound), in MiB");
ABSL_FLAG(absl::Duration, decision_log_kafka_pace, absl::Seconds(1),
          "hand the entries the decision log made durable together (it "
          "fsyncs about once a second) to Kafka evenly over this long, not "
          "at once, so that the sink's CPU is steady; shipping runs up to "
          "this much later (0: at once; at most 10s)");
ABSL_FLAG(absl::Duration, decision_log_kafka_drain, absl::Seconds(10),
          "at exit, how long the sink keeps shipping what the files hold "
          "(the rest is shipped after the next start)");
ABSL_FLAG(int, max_concurrent_streams, 128,
          "concurrent calls (HTTP/2 streams) per client connection");
ABSL_FLAG(int, keepalive_min_ping_seconds, 10,
          "a client pinging more often than this without calls is "
          "disconnected (too_many_pings)");
ABSL_FLAG(int, max_connection_age_seconds, 600,
          "close each connection after this long (0: never), so that "
          "clients rebalance across replicas");
ABSL_FLAG(int, max_connection_age_grace_seconds, 30,
          "how long calls in flight may finish on a connection being closed "
          "for its age");
ABSL_FLAG(int, max_batch_items, 1000,
          "largest BatchIsImportAllowed request accepted");
ABSL_FLAG(int, shutdown_grace_seconds, 5,
          "on SIGTERM, how long in-flight calls may take to finish");
ABSL_FLAG(bool, check, false,
          "load, verify and self-test --bundle, print the outcome and exit "
          "(0: the bundle would be activated)");

namespace importgate {
namespace {

// TLS for every port, and who may call the admin API, from the flags.
absl::Status ConfigureTls(app::ServerOptions* options,
                          std::unique_ptr<service::AdminAccess>* access) {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert_file);
  const std::string allow = absl::GetFlag(FLAGS_admin_allow_file);
  if (cert.empty()) {
    if (!absl::GetFlag(FLAGS_tls_key_file).empty() ||
        !absl::GetFlag(FLAGS_tls_client_ca_file).empty() ||
        absl::GetFlag(FLAGS_tls_client_auth) != "none") {
      return absl::InvalidArgumentError(
          "--tls_cert_file: is required by the other --tls_ flags");
    }
    if (!allow.empty()) {
      return absl::InvalidArgumentError(
          "--admin_allow_file: needs TLS (--tls_cert_file, and "
          "--tls_client_auth=request or require so that callers present "
          "an identity)");
    }
    // Plaintext: admin on loopback only, every call logged.
    *access = service::AdminAccess::Open();
    options->admin_access = access->get();
    return absl::OkStatus();
  }
  auto client_auth = app::ParseClientAuth(absl::GetFlag(FLAGS_tls_client_auth));
  if (!client_auth.ok()) return client_auth.status();
  app::TlsFiles files;
  files.cert_file = cert;
  files.key_file = absl::GetFlag(FLAGS_tls_key_file);
  files.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  files.client_auth = *client_auth;
  files.refresh =
      absl::Seconds(std::max(1, absl::GetFlag(FLAGS_tls_refresh_seconds)));
  auto credentials = app::MakeServerCredentials(files);
  if (!credentials.ok()) return credentials.status();
  options->credentials = *credentials;
  if (allow.empty()) {
    *access = service::AdminAccess::Closed();
    LogWarning(
        "TLS without --admin_allow_file: the admin API refuses every "
        "caller");
  } else {
    auto from_file = service::AdminAccess::FromAllowFile(allow);
    if (!from_file.ok()) return from_file.status();
    *access = *std::move(from_file);
  }
  options->admin_access = access->get();
  LogInfo(absl::StrCat(
      "TLS on: certificate ", cert, ", client certificates ",
      absl::GetFlag(FLAGS_tls_client_auth),
      allow.empty() ? "" : absl::StrCat(", admin allow file ", allow)));
  return absl::OkStatus();
}

// What decision records leave out, from the flags (validated when the log
// opens).
absl::StatusOr<decisionlog::RecordPolicy> RecordPolicyFromFlags() {
  decisionlog::RecordPolicy policy;
  auto seller_id = decisionlog::ParseSellerIdMask(
      absl::GetFlag(FLAGS_decision_log_seller_id));
  if (!seller_id.ok()) return seller_id.status();
  policy.seller_id = *seller_id;
  const std::string key_file = absl::GetFlag(FLAGS_decision_log_mask_key_file);
  if (!key_file.empty()) {
    auto key = decisionlog::ReadMaskKey(key_file);
    if (!key.ok()) return key.status();
    policy.hash_key = *std::move(key);
  }
  for (const std::string& name :
       absl::GetFlag(FLAGS_decision_log_drop_attributes)) {
    if (!name.empty()) policy.drop_attributes.insert(name);
  }
  policy.allow_fraction = absl::GetFlag(FLAGS_decision_log_allow_fraction);
  auto keep_rule_text = decisionlog::ParseKeepRuleText(
      absl::GetFlag(FLAGS_decision_log_rule_text));
  if (!keep_rule_text.ok()) return keep_rule_text.status();
  policy.keep_rule_text = *keep_rule_text;
  return policy;
}

// The decision log's Kafka sink, from the flags.
absl::StatusOr<std::unique_ptr<decisionlog::KafkaSink>> StartKafkaSink(
    std::shared_ptr<std::atomic<uint64_t>> shipped_through,
    std::shared_ptr<const std::atomic<uint64_t>> durable_through,
    uint64_t chained_from) {
  decisionlog::KafkaSinkOptions options;
  options.dir = absl::GetFlag(FLAGS_decision_log_dir);
  options.brokers = absl::GetFlag(FLAGS_decision_log_kafka_brokers);
  options.topic = absl::GetFlag(FLAGS_decision_log_kafka_topic);
  options.key = absl::GetFlag(FLAGS_decision_log_kafka_key);
  options.shipped_through = std::move(shipped_through);
  options.durable_through = std::move(durable_through);
  options.chained_from = chained_from;
  options.pace = absl::GetFlag(FLAGS_decision_log_kafka_pace);
  options.max_in_flight_bytes =
      static_cast<size_t>(
          std::max(1, absl::GetFlag(FLAGS_decision_log_kafka_in_flight_mib)))
      << 20;
  if (const std::string path = absl::GetFlag(FLAGS_decision_log_kafka_config);
      !path.empty()) {
    auto text = bundle::ReadWholeFile(path, 1 << 20);
    if (!text.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--decision_log_kafka_config: ", text.status().message()));
    }
    auto properties = decisionlog::ParseKafkaConfig(*text);
    if (!properties.ok()) return properties.status();
    options.properties = *std::move(properties);
  }
  auto sink = decisionlog::KafkaSink::Start(std::move(options));
  if (sink.ok()) {
    LogInfo(absl::StrCat("decision log shipped to Kafka topic ",
                         absl::GetFlag(FLAGS_decision_log_kafka_topic), " at ",
                         absl::GetFlag(FLAGS_decision_log_kafka_brokers),
                         " from sequence ", (*sink)->Stats().last_shipped + 1));
  }
  return sink;
}

int Run(const std::vector<std::string>& verify_keys) {
  auto log_format = ParseLogFormat(absl::GetFlag(FLAGS_log_format));
  if (!log_format.ok()) {
    LogError(absl::StrCat("cannot start: ", log_format.status().message()));
    return 1;
  }
  SetLogFormat(*log_format);
  const std::string source = absl::GetFlag(FLAGS_bundle);
  LogInfo(absl::StrCat("importgate-server ", app::ServerVersion(),
                       " starting: listen=", absl::GetFlag(FLAGS_listen),
                       " bundle=", source));
  auto iso = IsoCodes::LoadFromDirectory(absl::GetFlag(FLAGS_iso_codes_dir));
  if (!iso.ok()) {
    LogError(
        absl::StrCat("cannot load ISO code tables: ", iso.status().message()));
    return 1;
  }
  bundle::ManagerOptions manager_options;
  manager_options.source = source;
  manager_options.state_dir = absl::GetFlag(FLAGS_state_dir);
  manager_options.keep_revisions = std::max(1, absl::GetFlag(FLAGS_history));
  manager_options.allow_rollback = absl::GetFlag(FLAGS_allow_rollback);
  manager_options.source_options.iso_codes = *iso;
  manager_options.remote.ca_file = absl::GetFlag(FLAGS_bundle_ca_file);
  manager_options.remote.timeout = absl::GetFlag(FLAGS_bundle_timeout);
  manager_options.remote.connect_timeout =
      std::min(manager_options.remote.timeout, absl::Seconds(5));
  manager_options.remote.plain_http = absl::GetFlag(FLAGS_bundle_plain_http);
  manager_options.remote.registry_auth_file =
      absl::GetFlag(FLAGS_bundle_registry_auth_file);
  const bool remote =
      bundle::IsHttpUrl(source) || bundle::IsOciReference(source);
  if (remote && absl::GetFlag(FLAGS_watch)) {
    manager_options.poll_interval =
        absl::Seconds(std::max(0, absl::GetFlag(FLAGS_poll_seconds)));
  }
  // Registry flags do nothing for any other source: named, not ignored.
  for (const auto& [flag, set] :
       {std::pair<const char*, bool>{"--bundle_plain_http",
                                     manager_options.remote.plain_http},
        {"--bundle_registry_auth_file",
         !manager_options.remote.registry_auth_file.empty()}}) {
    if (set && !bundle::IsOciReference(source)) {
      LogError(absl::StrCat("cannot start: ", flag,
                            ": only for an oci:// --bundle, and --bundle=",
                            source, " is not one"));
      return 1;
    }
  }
  if (remote && verify_keys.empty() &&
      !absl::GetFlag(FLAGS_allow_unsigned_remote)) {
    LogError(absl::StrCat(
        "cannot start: --bundle=", source,
        " is remote, and a remote bundle must be signed: set --verify_key "
        "(or --allow_unsigned_remote, for tests)"));
    return 1;
  }
  auto opened = bundle::OpenSource(source, manager_options.remote);
  if (!opened.ok()) {
    LogError(absl::StrCat("cannot start: ", opened.status().message()));
    return 1;
  }
  if (!verify_keys.empty()) {
    auto keys = bundle::TrustedKeys::FromPemFiles(verify_keys);
    if (!keys.ok()) {
      LogError(absl::StrCat("verify_key: ", keys.status().message()));
      return 1;
    }
    manager_options.source_options.trusted_keys =
        std::make_shared<const bundle::TrustedKeys>(*std::move(keys));
    LogInfo(
        absl::StrCat("signatures required: ", verify_keys.size(),
                     " trusted key(s): ", absl::StrJoin(verify_keys, ", ")));
  } else {
    LogWarning(
        "signatures are off: any bundle that passes its checks is "
        "activated (set --verify_key to require signed bundles)");
  }

  if (absl::GetFlag(FLAGS_check)) {
    auto candidate = (*opened)->Load(manager_options.source_options);
    if (!candidate.ok() || !candidate->has_value()) {
      LogError(absl::StrCat("check failed: ",
                            candidate.ok() ? "the source returned nothing"
                                           : candidate.status().message()));
      return 1;
    }
    LogInfo(absl::StrCat("check passed: ",
                         bundle::DescribeBundle(*(*candidate)->bundle)));
    return 0;
  }
  opened->reset();  // the manager opens its own

  // Block the signals we handle in every thread (gRPC's included); this
  // thread waits for them with sigwait().
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  SystemClock clock;
  bundle::PolicyStore store(
      &clock, static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_history))));
  store.SetMaxStaleness(absl::GetFlag(FLAGS_max_bundle_staleness));
  bundle::BundleManager manager(&store, &clock, manager_options);
  app::ServerOptions options;
  std::unique_ptr<service::AdminAccess> admin_access;
  if (absl::Status s = ConfigureTls(&options, &admin_access); !s.ok()) {
    LogError(absl::StrCat("cannot start: ", s.message()));
    return 1;
  }
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.admin_listen_address = absl::GetFlag(FLAGS_admin_listen);
  options.max_batch_items = absl::GetFlag(FLAGS_max_batch_items);
  options.limits.max_concurrent_streams =
      absl::GetFlag(FLAGS_max_concurrent_streams);
  options.limits.min_ping_interval =
      absl::Seconds(absl::GetFlag(FLAGS_keepalive_min_ping_seconds));
  const int age = absl::GetFlag(FLAGS_max_connection_age_seconds);
  options.limits.max_connection_age =
      age == 0 ? absl::InfiniteDuration() : absl::Seconds(age);
  options.limits.max_connection_age_grace =
      absl::Seconds(absl::GetFlag(FLAGS_max_connection_age_grace_seconds));
  // The decision log before the server, so that its first call is kept;
  // closed after the server, so that every call's record is written.
  std::unique_ptr<decisionlog::DecisionLog> decision_log;
  // With a sink: what it has shipped, and what the log has fsynced.
  std::shared_ptr<std::atomic<uint64_t>> shipped_through;
  std::shared_ptr<std::atomic<uint64_t>> durable_through;
  if (const std::string dir = absl::GetFlag(FLAGS_decision_log_dir);
      !dir.empty()) {
    auto policy = decisionlog::ParseQueuePolicy(
        absl::GetFlag(FLAGS_decision_log_queue_policy));
    if (!policy.ok()) {
      LogError(absl::StrCat("cannot start: ", policy.status().message()));
      return 1;
    }
    decisionlog::DecisionLogOptions log_options;
    log_options.dir = dir;
    log_options.policy = *policy;
    log_options.max_queue_bytes =
        static_cast<size_t>(
            std::max(1, absl::GetFlag(FLAGS_decision_log_queue_mib)))
        << 20;
    log_options.max_segment_bytes =
        static_cast<uint64_t>(
            std::max(1, absl::GetFlag(FLAGS_decision_log_segment_mib)))
        << 20;
    log_options.max_segment_age = absl::GetFlag(FLAGS_decision_log_segment_age);
    log_options.max_total_bytes =
        static_cast<uint64_t>(
            std::max(1, absl::GetFlag(FLAGS_decision_log_max_mib)))
        << 20;
    auto record_policy = RecordPolicyFromFlags();
    if (!record_policy.ok()) {
      LogError(
          absl::StrCat("cannot start: ", record_policy.status().message()));
      return 1;
    }
    log_options.record = *std::move(record_policy);
    if (!absl::GetFlag(FLAGS_decision_log_kafka_brokers).empty()) {
      shipped_through = std::make_shared<std::atomic<uint64_t>>(0);
      durable_through = std::make_shared<std::atomic<uint64_t>>(0);
      log_options.shipped_through = shipped_through;
      log_options.durable_through = durable_through;
    }
    auto opened = decisionlog::DecisionLog::Open(log_options, &clock);
    if (!opened.ok()) {
      LogError(absl::StrCat("cannot start: ", opened.status().message()));
      return 1;
    }
    decision_log = *std::move(opened);
    options.decision_log = decision_log.get();
    LogInfo(absl::StrCat("decision log in ", dir, " (queue ",
                         absl::GetFlag(FLAGS_decision_log_queue_policy),
                         "; seller.id ",
                         absl::GetFlag(FLAGS_decision_log_seller_id), "; ",
                         log_options.record.drop_attributes.size(),
                         " attribute name(s) dropped; ALLOWs recorded: ",
                         log_options.record.allow_fraction, ")"));
  }
  // The Kafka sink ships from the log's files (after Open() repaired them).
  std::unique_ptr<decisionlog::KafkaSink> kafka_sink;
  if (!absl::GetFlag(FLAGS_decision_log_kafka_brokers).empty()) {
    auto sink = StartKafkaSink(
        shipped_through, durable_through,
        decision_log != nullptr ? decision_log->first_sequence() : UINT64_MAX);
    if (!sink.ok()) {
      LogError(absl::StrCat("cannot start: ", sink.status().message()));
      return 1;
    }
    kafka_sink = *std::move(sink);
  }
  // Metrics before the server, so that its first call is counted.
  std::unique_ptr<metrics::MetricsEndpoint> metrics_endpoint;
  std::shared_ptr<metrics::DecisionMetrics> decision_metrics;
  if (const std::string address = absl::GetFlag(FLAGS_metrics_listen);
      !address.empty()) {
    decision_metrics = std::make_shared<metrics::DecisionMetrics>();
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables = {
        decision_metrics, std::make_shared<metrics::BundleMetrics>(&store),
        std::make_shared<metrics::ProcessMetrics>()};
    // The endpoint is destroyed before the log (declared after it).
    if (decision_log != nullptr) {
      collectables.push_back(std::make_shared<metrics::DecisionLogMetrics>(
          decision_log.get(), kafka_sink.get()));
    }
    auto endpoint =
        metrics::MetricsEndpoint::Start(address, std::move(collectables));
    if (!endpoint.ok()) {
      LogError(absl::StrCat("cannot start: ", endpoint.status().message()));
      return 1;
    }
    metrics_endpoint = *std::move(endpoint);
    options.decision_metrics = decision_metrics.get();
    LogInfo(absl::StrCat("metrics on http://",
                         address.substr(0, address.rfind(':')), ":",
                         metrics_endpoint->port(), "/metrics"));
  }
  auto server = app::ImportgateServer::Start(options, &store, &clock, &manager);
  if (!server.ok()) {
    LogError(absl::StrCat("cannot start: ", server.status().message()));
    return 1;
  }
  // Health says NOT_SERVING until this activates a bundle.
  if (absl::Status s = manager.Start(); !s.ok()) {
    LogError("no bundle could be activated; exiting");
    return 1;
  }
  // The one reload thread: polls a remote source, reloads when the
  // watcher, SIGHUP or the admin API asks, and activates a revision whose
  // manifest names a not_before at that instant.
  manager.StartReloadThread();
  std::string host =
      options.listen_address.substr(0, options.listen_address.rfind(':'));
  LogInfo(absl::StrCat("serving on ", host, ":", (*server)->port()));
  if ((*server)->admin_port() == 0) {
    LogWarning(
        "admin API not served: --listen is not loopback and "
        "--admin_listen is unset");
  } else if ((*server)->admin_port() != (*server)->port()) {
    LogInfo(absl::StrCat("admin API on ",
                         options.admin_listen_address.substr(
                             0, options.admin_listen_address.rfind(':')),
                         ":", (*server)->admin_port()));
  }

  std::unique_ptr<bundle::SourceWatcher> watcher;
  if (absl::GetFlag(FLAGS_watch) && !remote) {
    bundle::WatcherOptions watch;
    watch.path = source;
    watch.poll_interval = absl::Seconds(absl::GetFlag(FLAGS_poll_seconds));
    watcher = std::make_unique<bundle::SourceWatcher>(
        watch, [&manager] { manager.RequestReload(); });
    if (absl::Status s = watcher->Start(); !s.ok()) {
      LogWarning(absl::StrCat("cannot watch ", source, ": ", s.message(),
                              "; reload with SIGHUP or the admin API"));
      watcher.reset();
    }
  }

  while (true) {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    if (signal_number == SIGHUP) {
      LogInfo("SIGHUP: checking the bundle source");
      manager.RequestReload();  // never holds up this thread
      continue;
    }
    LogInfo(absl::StrCat("signal ", signal_number, ": shutting down"));
    break;
  }
  // A remote fetch in progress ends now, and later ones at once: an admin
  // Reload waiting on the reload thread is answered within the grace
  // period. Then stop serving (health turns NOT_SERVING at once), then the
  // watcher.
  manager.CancelFetches();
  (*server)->Shutdown(
      absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  if (watcher != nullptr) watcher->Stop();
  if (decision_log != nullptr) {
    // Every call has finished: write what is queued, then stop.
    decision_log->Close();
    const decisionlog::DecisionLogStats stats = decision_log->Stats();
    LogInfo(absl::StrCat("decision log closed: ", stats.records_written,
                         " records written, ", stats.dropped, " dropped, ",
                         stats.sampled_out, " ALLOWs sampled out"));
  }
  if (kafka_sink != nullptr) {
    // After the log's Close(): the files hold every record.
    kafka_sink->Stop(absl::GetFlag(FLAGS_decision_log_kafka_drain));
    const decisionlog::KafkaSinkStats stats = kafka_sink->Stats();
    LogInfo(absl::StrCat(
        "decision log Kafka sink stopped: shipped through "
        "sequence ",
        stats.last_shipped, " (", stats.shipped, " entries this run)"));
  }
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace importgate

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex lock
  // (gRPC takes several per call) also records lock order in a global
  // graph for deadlock detection, a debugging aid that costs about 5% of
  // the server's CPU at load (perf: GraphCycles::GetId, RemoveNode).
  // Builds of Abseil with NDEBUG have it off; the server turns it off
  // before any thread starts. Tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "the importgate policy decision point.\n"
      "  importgate-server [--listen=HOST:PORT] [--bundle=PATH] [flags]\n"
      "  importgate-server --check --bundle=PATH\n"
      "Flags (README \"The server's flags\" has the same list):");
  importgate::ConfigureFlagUsage(
      "server/main.cc",
      absl::StrCat("importgate-server ", importgate::app::ServerVersion()));
  std::vector<std::string> verify_keys =
      importgate::RepeatedFlagValues(argc, argv, "verify_key");
  absl::ParseCommandLine(argc, argv);
  // Also what Abseil parsed (e.g. from --flagfile or -verify_key=...), so a
  // key given in any accepted form is never silently dropped.
  for (const std::string& key : absl::GetFlag(FLAGS_verify_key)) {
    if (std::find(verify_keys.begin(), verify_keys.end(), key) ==
        verify_keys.end()) {
      verify_keys.push_back(key);
    }
  }
  return importgate::Run(verify_keys);
}
