// importgate: the policy team's tool for bundles and keys.
//
//   importgate bundle build DIR -o FILE
//   importgate bundle inspect FILE
//   importgate bundle sign FILE --key KEY.pem
//   importgate bundle verify FILE [--key PUB.pem ...]
//   importgate key generate --private KEY.pem --public PUB.pem
//
// Every command that reads a bundle runs the same checks as the server
// (parse, compile, the bundle's own tests), so a bundle that builds here
// activates there. Exit status 0 on success, 1 on a refused bundle or I/O
// error, 2 on a usage error.
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/text_format.h"
#include "server/bundle/artifact.h"
#include "server/bundle/loader.h"
#include "server/bundle/signing.h"
#include "server/bundle/source.h"
#include "server/bundle/source_reader.h"
#include "server/common/version.h"
#include "server/refdata/iso_codes.h"

namespace importgate {
namespace {

namespace pv1 = importgate::policy::v1;

constexpr char kUsage[] =
    "usage:\n"
    "  importgate bundle build DIR -o FILE\n"
    "  importgate bundle inspect FILE\n"
    "  importgate bundle sign FILE --key KEY.pem\n"
    "  importgate bundle verify FILE [--key PUB.pem ...]\n"
    "  importgate key generate --private KEY.pem --public PUB.pem\n"
    "options: --iso_codes_dir=DIR (default /usr/share/iso-codes/json)\n";

struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> keys;
  std::string out;
  std::string private_key;
  std::string public_key;
  std::string iso_codes_dir{IsoCodes::kDebianDirectory};
};

// Parses "--name=value", "--name value" and "-o value".
bool ParseArgs(int argc, char** argv, Args* args, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string name, value;
    if (arg.rfind("--", 0) == 0 || arg == "-o") {
      size_t eq = arg.find('=');
      name = arg.substr(0, eq);
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        *error = absl::StrCat(name, " needs a value");
        return false;
      }
      if (name == "--key")
        args->keys.push_back(value);
      else if (name == "-o" || name == "--out")
        args->out = value;
      else if (name == "--private")
        args->private_key = value;
      else if (name == "--public")
        args->public_key = value;
      else if (name == "--iso_codes_dir")
        args->iso_codes_dir = value;
      else {
        *error = absl::StrCat("unknown option ", name);
        return false;
      }
    } else {
      args->positional.push_back(arg);
    }
  }
  return true;
}

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

int Verify(const Args& args) {
  if (args.positional.size() != 3) {
    std::cerr << kUsage;
    return 2;
  }
  auto iso = IsoCodes::LoadFromDirectory(args.iso_codes_dir);
  if (!iso.ok()) return Fail(iso.status());
  bundle::SourceOptions options;
  options.iso_codes = *iso;
  if (!args.keys.empty()) {
    auto keys = bundle::TrustedKeys::FromPemFiles(args.keys);
    if (!keys.ok()) return Fail(keys.status());
    options.trusted_keys =
        std::make_shared<const bundle::TrustedKeys>(*std::move(keys));
  }
  auto candidate = bundle::LoadArtifactFile(args.positional[2], options);
  if (!candidate.ok()) return Fail(candidate.status());
  std::cout << "ok: " << bundle::DescribeBundle(*candidate->bundle) << "; "
            << (args.keys.empty() ? "signature not checked: no --key"
                                  : "signature verified")
            << "\n";
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

int Main(int argc, char** argv) {
  Args args;
  std::string error;
  if (!ParseArgs(argc, argv, &args, &error)) {
    std::cerr << "importgate: " << error << "\n" << kUsage;
    return 2;
  }
  const auto& p = args.positional;
  if (p.size() >= 2 && p[0] == "bundle") {
    if (p[1] == "build") return Build(args);
    if (p[1] == "inspect") return Inspect(args);
    if (p[1] == "sign") return Sign(args);
    if (p[1] == "verify") return Verify(args);
  }
  if (p.size() == 2 && p[0] == "key" && p[1] == "generate")
    return Generate(args);
  std::cerr << kUsage;
  return 2;
}

}  // namespace
}  // namespace importgate

int main(int argc, char** argv) { return importgate::Main(argc, argv); }
