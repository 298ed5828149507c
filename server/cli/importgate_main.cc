// importgate: the policy team's tool for bundles, keys and decision logs.
//
//   importgate bundle build DIR -o FILE
//   importgate bundle inspect FILE
//   importgate bundle sign FILE --key KEY.pem
//   importgate bundle verify FILE [--key PUB.pem ...]
//   importgate key generate --private KEY.pem --public PUB.pem
//   importgate log verify DIR
//   importgate log query DIR [--decision_id ID] [--sku ...] ...
//   importgate log tail DIR [--from_sequence N] [--follow]
//
// Every command that reads a bundle runs the same checks as the server
// (parse, compile, the bundle's own tests), so a bundle that builds here
// activates there. Flags are Abseil flags (`importgate --help` lists them).
// Exit status 0 on success, 1 on a refused bundle or I/O error (and, from
// Abseil, after --help or on an unknown flag), 2 on a wrong command.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "importgate/decisionlog/v1/decision_log.pb.h"
#include "server/bundle/artifact.h"
#include "server/bundle/loader.h"
#include "server/bundle/oci_registry.h"
#include "server/bundle/signing.h"
#include "server/bundle/source.h"
#include "server/bundle/source_reader.h"
#include "server/common/flags.h"
#include "server/common/version.h"
#include "server/decisionlog/follower.h"
#include "server/decisionlog/query.h"
#include "server/decisionlog/record_policy.h"
#include "server/decisionlog/verify.h"
#include "server/refdata/iso_codes.h"

ABSL_FLAG(std::string, out, "",
          "bundle build: the packed bundle file to write (-o is the same)");
ABSL_FLAG(std::vector<std::string>, key, {},
          "bundle sign: the private key (PEM); bundle verify: trusted public "
          "keys (PEM), the flag repeated or a comma-separated list");
ABSL_FLAG(std::string, private, "",
          "key generate: where to write the new Ed25519 private key (PEM)");
ABSL_FLAG(std::string, public, "",
          "key generate: where to write its public key (PEM)");
ABSL_FLAG(std::string, decision_id, "",
          "log query: the record of this decision id (a UUIDv7 from an "
          "answer's decision_id or the importgate-decision-id trailer)");
ABSL_FLAG(std::string, sku, "", "log query: records of this item.sku");
ABSL_FLAG(std::string, seller, "",
          "log query: records of this seller.id (as logged: a masked id as "
          "masked, or pass --mask_key_file to hash this one the same way)");
ABSL_FLAG(std::string, mask_key_file, "",
          "log query: with --seller, hash the id under this key, as a server "
          "with --decision_log_seller_id=hash and the same "
          "--decision_log_mask_key_file recorded it");
ABSL_FLAG(std::string, rule, "",
          "log query: records this rule decided or matched");
ABSL_FLAG(std::string, outcome, "",
          "log query: ALLOW, DENY or ERROR (a refused request)");
ABSL_FLAG(std::string, from, "",
          "log query: records at or after this RFC 3339 time, e.g. "
          "2026-03-01T00:00:00Z");
ABSL_FLAG(std::string, until, "",
          "log query: records before this RFC 3339 time");
ABSL_FLAG(int64_t, limit, 0, "log query: print at most this many (0: all)");
ABSL_FLAG(uint64_t, from_sequence, 1,
          "log tail: the first entry to print (its sequence number)");
ABSL_FLAG(bool, follow, false,
          "log tail: keep printing entries as the server appends them, until "
          "SIGINT or SIGTERM");
ABSL_FLAG(bool, allow_unsigned, false,
          "bundle push: publish a bundle that has no FILE.sig");
ABSL_FLAG(std::string, bundle_registry_auth_file, "",
          "bundle push: an oci:// registry's credentials: a Docker config.json "
          "(\"auths\": {\"HOST:PORT\": {\"auth\": base64 of user:password}}), "
          "e.g. a kubernetes.io/dockerconfigjson Secret; used when the "
          "registry asks (Basic, or a Bearer token from its realm)");
ABSL_FLAG(bool, bundle_plain_http, false,
          "bundle push: reach the registry over plain HTTP rather than HTTPS "
          "(a registry on loopback, for tests)");
ABSL_FLAG(std::string, bundle_ca_file, "",
          "bundle push: PEM roots the registry's certificate must chain to; "
          "empty: the system's");
ABSL_FLAG(std::string, iso_codes_dir,
          std::string(importgate::IsoCodes::kDebianDirectory),
          "Debian iso-codes JSON directory (ISO 3166-1, ISO 4217)");

namespace importgate {
namespace {

namespace pv1 = importgate::policy::v1;

constexpr char kUsage[] =
    "usage:\n"
    "  importgate bundle build DIR -o FILE\n"
    "  importgate bundle inspect FILE\n"
    "  importgate bundle sign FILE --key KEY.pem\n"
    "  importgate bundle verify FILE [--key PUB.pem ...]\n"
    "  importgate bundle push FILE oci://REGISTRY/REPOSITORY:TAG\n"
    "      [--key PUB.pem ...] [--allow_unsigned] [--bundle_plain_http]\n"
    "      [--bundle_registry_auth_file CONFIG.json]\n"
    "      [--bundle_ca_file CA.pem]   (checks FILE, then publishes it and\n"
    "      FILE.sig as an OCI artifact)\n"
    "  importgate key generate --private KEY.pem --public PUB.pem\n"
    "  importgate log verify DIR   (a decision log: chain and sequence)\n"
    "  importgate log query DIR [--decision_id ID] [--sku SKU] [--seller ID\n"
    "      [--mask_key_file KEY]]\n"
    "      [--rule ID] [--outcome ALLOW|DENY|ERROR] [--from T] [--until T]\n"
    "      [--limit N]   (matching records as JSON lines)\n"
    "  importgate log tail DIR [--from_sequence N] [--follow]   (every entry\n"
    "      as a JSON line with its sequence and chain, for a log shipper)\n"
    "  importgate --help   (every flag, with its default)\n";

struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> keys;
  std::string out;
  std::string private_key;
  std::string public_key;
  std::string iso_codes_dir;
};

int Fail(const absl::Status& status) {
  std::cerr << "importgate: " << status.message() << "\n";
  return 1;
}

int Build(const Args& args) {
  if (args.positional.size() != 3 || args.out.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  auto iso = IsoCodes::LoadFromDirectory(args.iso_codes_dir);
  if (!iso.ok()) return Fail(iso.status());
  const std::string& dir = args.positional[2];
  auto files = bundle::ReadSourceDirectory(dir);
  if (!files.ok()) return Fail(files.status());
  auto loaded = bundle::LoadBundle(dir, *files, *iso);
  if (!loaded.ok()) return Fail(loaded.status());
  const auto& snapshot = *(*loaded)->snapshot;
  std::string artifact = bundle::PackArtifact(
      *files, snapshot.name, snapshot.revision, absl::Now(),
      absl::StrCat("importgate ", ImportgateVersion()));
  if (absl::Status s = bundle::WriteFileAtomically(args.out, artifact);
      !s.ok()) {
    return Fail(s);
  }
  std::cout << "built " << args.out << ": " << bundle::DescribeBundle(**loaded)
            << "\n";
  return 0;
}

int Inspect(const Args& args) {
  if (args.positional.size() != 3) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string& path = args.positional[2];
  auto bytes = bundle::ReadWholeFile(path, bundle::kMaxArtifactBytes);
  if (!bytes.ok()) return Fail(bytes.status());
  auto unpacked = bundle::UnpackArtifact(*bytes);
  if (!unpacked.ok()) return Fail(unpacked.status());
  std::string text;
  google::protobuf::TextFormat::PrintToString(unpacked->manifest, &text);
  std::cout << "# " << path << "\n" << text;
  auto sig = bundle::ReadWholeFile(path + bundle::kSignatureSuffix, 1 << 20);
  if (sig.ok()) {
    std::cout << "# signatures (" << path << bundle::kSignatureSuffix << ")\n"
              << *sig;
  } else {
    std::cout << "# unsigned\n";
  }
  return 0;
}

int Sign(const Args& args) {
  if (args.positional.size() != 3 || args.keys.size() != 1) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string& path = args.positional[2];
  auto key = bundle::SigningKey::FromPemFile(args.keys[0]);
  if (!key.ok()) return Fail(key.status());
  auto bytes = bundle::ReadWholeFile(path, bundle::kMaxArtifactBytes);
  if (!bytes.ok()) return Fail(bytes.status());
  auto unpacked = bundle::UnpackArtifact(*bytes);
  if (!unpacked.ok()) return Fail(unpacked.status());
  const pv1::ArtifactManifest& m = unpacked->manifest;
  auto signature = key->Sign(m.name(), m.revision(), m.content_digest());
  if (!signature.ok()) return Fail(signature.status());

  // Keep other keys' signatures (several signers, key rotation); replace
  // this key's.
  const std::string sig_path = path + bundle::kSignatureSuffix;
  pv1::BundleSignatures signatures;
  auto existing = bundle::ReadWholeFile(sig_path, 1 << 20);
  if (existing.ok()) {
    pv1::BundleSignatures old;
    if (google::protobuf::TextFormat::ParseFromString(*existing, &old)) {
      for (const auto& s : old.signatures()) {
        if (s.key_id() != key->key_id() &&
            s.content_digest() == m.content_digest()) {
          *signatures.add_signatures() = s;
        }
      }
    }
  }
  *signatures.add_signatures() = *signature;
  std::string text;
  google::protobuf::TextFormat::PrintToString(signatures, &text);
  if (absl::Status s = bundle::WriteFileAtomically(sig_path, text); !s.ok()) {
    return Fail(s);
  }
  std::cout << "signed " << path << " (" << m.name() << " revision "
            << m.revision() << ") with key " << key->key_id() << " -> "
            << sig_path << "\n";
  return 0;
}

// Loads packed bundle `path` with every check a server makes: its tests,
// and its signature against --key when keys are given.
absl::StatusOr<bundle::Candidate> CheckAsAServerWould(const Args& args,
                                                      const std::string& path) {
  auto iso = IsoCodes::LoadFromDirectory(args.iso_codes_dir);
  if (!iso.ok()) return iso.status();
  bundle::SourceOptions options;
  options.iso_codes = *iso;
  if (!args.keys.empty()) {
    auto keys = bundle::TrustedKeys::FromPemFiles(args.keys);
    if (!keys.ok()) return keys.status();
    options.trusted_keys =
        std::make_shared<const bundle::TrustedKeys>(*std::move(keys));
  }
  return bundle::LoadArtifactFile(path, options);
}

int Verify(const Args& args) {
  if (args.positional.size() != 3) {
    std::cerr << kUsage;
    return 2;
  }
  auto candidate = CheckAsAServerWould(args, args.positional[2]);
  if (!candidate.ok()) return Fail(candidate.status());
  std::cout << "ok: " << bundle::DescribeBundle(*candidate->bundle) << "; "
            << (args.keys.empty() ? "signature not checked: no --key"
                                  : "signature verified")
            << "\n";
  return 0;
}

// Checks FILE as a server would (its tests, and its signature against
// --key when given), then publishes it and FILE.sig to a registry.
int Push(const Args& args) {
  if (args.positional.size() != 4) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string& path = args.positional[2];
  auto reference = bundle::ParseOciReference(args.positional[3], "push");
  if (!reference.ok()) return Fail(reference.status());
  const bool has_signature =
      std::filesystem::exists(path + bundle::kSignatureSuffix);
  if (has_signature && args.keys.empty()) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "push: pass --key PUB.pem to check ", path, bundle::kSignatureSuffix,
        " before publishing it (a signature no server trusts would be "
        "refused by every replica)")));
  }
  if (!absl::GetFlag(FLAGS_allow_unsigned) && !has_signature) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        path, bundle::kSignatureSuffix,
        ": missing, and servers refuse an unsigned remote bundle; sign it "
        "first (importgate bundle sign), or push with --allow_unsigned")));
  }
  auto candidate = CheckAsAServerWould(args, path);
  if (!candidate.ok()) return Fail(candidate.status());
  const auto& snapshot = *candidate->bundle->snapshot;
  bundle::OciPush push;
  push.artifact = std::move(candidate->artifact);
  push.signatures = std::move(candidate->signatures);
  push.title = std::filesystem::path(path).filename().string();
  push.annotations = {
      {"org.opencontainers.image.title", push.title},
      {"org.opencontainers.image.version", absl::StrCat(snapshot.revision)},
      {"io.importgate.bundle.name", snapshot.name},
      {"io.importgate.bundle.revision", absl::StrCat(snapshot.revision)},
  };
  bundle::RemoteOptions remote;
  remote.plain_http = absl::GetFlag(FLAGS_bundle_plain_http);
  remote.registry_auth_file = absl::GetFlag(FLAGS_bundle_registry_auth_file);
  remote.ca_file = absl::GetFlag(FLAGS_bundle_ca_file);
  auto digest = bundle::PushBundle(*reference, push, remote);
  if (!digest.ok()) return Fail(digest.status());
  bundle::OciReference pinned = *reference;
  pinned.tag.clear();
  pinned.digest = *digest;
  std::cout << "pushed " << path << " ("
            << bundle::DescribeBundle(*candidate->bundle) << "; "
            << (push.signatures.empty() ? "unsigned" : "signed") << ") to "
            << reference->ToString() << "\n  manifest " << *digest
            << "\n  pin it with --bundle=" << pinned.ToString() << "\n";
  return 0;
}

int Generate(const Args& args) {
  if (args.private_key.empty() || args.public_key.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  if (absl::Status s =
          bundle::GenerateKeyPair(args.private_key, args.public_key);
      !s.ok()) {
    return Fail(s);
  }
  std::cout << "wrote " << args.private_key << " (keep secret) and "
            << args.public_key << "\n";
  return 0;
}

// Checks a decision log directory's chain; exit 1 naming the first place
// it breaks.
int LogVerify(const Args& args) {
  if (args.positional.size() != 3) {
    std::cerr << kUsage;
    return 2;
  }
  auto report = decisionlog::VerifyDirectory(args.positional[2]);
  if (!report.ok()) return Fail(report.status());
  if (report->problem.has_value()) {
    std::cerr << "importgate: decision log does NOT verify: "
              << *report->problem << "\n";
    return 1;
  }
  std::cout << "decision log verifies: " << report->segments
            << " segment(s), sequences " << report->first_sequence << " to "
            << report->last_sequence << ", " << report->decisions
            << " decision record(s), " << report->events
            << " event(s); head sha256:" << decisionlog::ChainHex(report->head)
            << "\n";
  return 0;
}

// An RFC 3339 time flag; `fallback` when empty.
absl::StatusOr<absl::Time> TimeFlag(absl::string_view name,
                                    const std::string& text,
                                    absl::Time fallback) {
  if (text.empty()) return fallback;
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": \"", text,
                     "\" is not an RFC 3339 time such as "
                     "2026-03-01T00:00:00Z (",
                     error, ")"));
  }
  return t;
}

// Prints the records of a decision log that match the flags, one JSON
// line each; exit 1 when a segment could not be searched (after printing
// what was found), or when --decision_id is not found.
int LogQuery(const Args& args) {
  if (args.positional.size() != 3) {
    std::cerr << kUsage;
    return 2;
  }
  decisionlog::DecisionQuery query;
  query.decision_id = absl::GetFlag(FLAGS_decision_id);
  query.sku = absl::GetFlag(FLAGS_sku);
  query.seller_id = absl::GetFlag(FLAGS_seller);
  if (const std::string key_file = absl::GetFlag(FLAGS_mask_key_file);
      !key_file.empty() && !query.seller_id.empty()) {
    auto key = decisionlog::ReadMaskKey(key_file);
    if (!key.ok()) return Fail(key.status());
    query.seller_id = decisionlog::HashSellerId(*key, query.seller_id);
  }
  query.rule_id = absl::GetFlag(FLAGS_rule);
  query.outcome = absl::GetFlag(FLAGS_outcome);
  auto from = TimeFlag("from", absl::GetFlag(FLAGS_from), absl::InfinitePast());
  if (!from.ok()) return Fail(from.status());
  auto until =
      TimeFlag("until", absl::GetFlag(FLAGS_until), absl::InfiniteFuture());
  if (!until.ok()) return Fail(until.status());
  query.from = *from;
  query.until = *until;
  const int64_t limit = absl::GetFlag(FLAGS_limit);
  if (limit < 0) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--limit: ", limit, " is negative")));
  }
  query.limit = static_cast<size_t>(limit);
  auto stats = decisionlog::QueryDirectory(
      args.positional[2], query,
      [](const importgate::decisionlog::v1::DecisionRecord& record) {
        std::cout << decisionlog::RecordJson(record) << "\n";
        return true;
      });
  std::cout.flush();
  if (!stats.ok()) return Fail(stats.status());
  for (const std::string& problem : stats->problems) {
    std::cerr << "importgate: not searched past damage: " << problem << "\n";
  }
  std::cerr << "importgate: " << stats->matched << " record(s) matched of "
            << stats->records_read << " read in " << stats->segments_read
            << " segment(s)\n";
  if (!query.decision_id.empty() && stats->matched == 0) {
    std::cerr << "importgate: decision " << query.decision_id
              << " not found (not yet written, sampled out, removed by "
                 "retention, or not logged here)\n";
    return 1;
  }
  return stats->problems.empty() ? 0 : 1;
}

// Set by SIGINT/SIGTERM: `log tail --follow` stops after its current read.
volatile std::sig_atomic_t stop_tail = 0;

// Prints a decision log's entries from --from_sequence on as JSON lines
// (the LogEntry's protobuf JSON with "chain", the hex SHA-256 chain after
// it), verified as read; with --follow, keeps following the writer. For
// teams without Kafka: a log shipper reads this output (docs/decision-log.md).
int LogTail(const Args& args) {
  if (args.positional.size() != 3) {
    std::cerr << kUsage;
    return 2;
  }
  const uint64_t from =
      std::max<uint64_t>(1, absl::GetFlag(FLAGS_from_sequence));
  const bool follow = absl::GetFlag(FLAGS_follow);
  std::signal(SIGINT, [](int) { stop_tail = 1; });
  std::signal(SIGTERM, [](int) { stop_tail = 1; });
  decisionlog::LogFollower follower(args.positional[2], from);
  importgate::decisionlog::v1::LogEntry entry;
  std::string json;
  while (stop_tail == 0) {
    auto read = follower.Poll(
        [&](const decisionlog::LogFollower::Entry& e) {
          json.clear();
          if (!entry.ParseFromArray(e.bytes.data(),
                                    static_cast<int>(e.bytes.size())) ||
              !google::protobuf::util::MessageToJsonString(entry, &json).ok()) {
            json = absl::StrCat("{\"sequence\":\"", e.sequence, "\"}");
          }
          std::cout << "{\"chain\":\"" << decisionlog::ChainHex(e.chain)
                    << "\"," << absl::string_view(json).substr(1) << "\n";
        },
        size_t{4} << 20);
    std::cout.flush();
    if (!read.ok()) return Fail(read.status());
    if (*read == 0) {
      if (!follow) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  return 0;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(absl::StrCat(
      "importgate: the policy team's tool for bundles, keys and decision "
      "logs.\n",
      kUsage));
  ConfigureFlagUsage("cli/importgate_main.cc",
                     absl::StrCat("importgate ", ImportgateVersion()));
  Args args;
  args.keys = RepeatedFlagValues(argc, argv, "key");
  // "-o FILE" is "--out FILE".
  std::vector<char*> argv_out;
  std::string out_flag = "--out";
  for (int i = 0; i < argc; ++i) {
    argv_out.push_back(std::string_view(argv[i]) == "-o" ? out_flag.data()
                                                         : argv[i]);
  }
  std::vector<char*> positional = absl::ParseCommandLine(
      static_cast<int>(argv_out.size()), argv_out.data());
  for (size_t i = 1; i < positional.size(); ++i) {
    args.positional.emplace_back(positional[i]);
  }
  for (const std::string& key : absl::GetFlag(FLAGS_key)) {
    if (std::find(args.keys.begin(), args.keys.end(), key) == args.keys.end()) {
      args.keys.push_back(key);
    }
  }
  args.out = absl::GetFlag(FLAGS_out);
  args.private_key = absl::GetFlag(FLAGS_private);
  args.public_key = absl::GetFlag(FLAGS_public);
  args.iso_codes_dir = absl::GetFlag(FLAGS_iso_codes_dir);
  const auto& p = args.positional;
  if (p.size() >= 2 && p[0] == "bundle") {
    if (p[1] == "build") return Build(args);
    if (p[1] == "inspect") return Inspect(args);
    if (p[1] == "sign") return Sign(args);
    if (p[1] == "verify") return Verify(args);
    if (p[1] == "push") return Push(args);
  }
  if (p.size() == 2 && p[0] == "key" && p[1] == "generate")
    return Generate(args);
  if (p.size() >= 2 && p[0] == "log" && p[1] == "verify") {
    return LogVerify(args);
  }
  if (p.size() >= 2 && p[0] == "log" && p[1] == "query") return LogQuery(args);
  if (p.size() >= 2 && p[0] == "log" && p[1] == "tail") return LogTail(args);
  std::cerr << kUsage;
  return 2;
}

}  // namespace
}  // namespace importgate

int main(int argc, char** argv) { return importgate::Main(argc, argv); }
