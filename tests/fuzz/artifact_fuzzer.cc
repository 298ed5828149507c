// artifact_fuzzer: packed bundle bytes -> bundle::UnpackArtifact -> the
// signature check (bundle::TrustedKeys::Verify) -> parse, compile and
// self-test (bundle::LoadBundle): what the server does with every .igb
// file it is handed (bundle::LoadArtifactFile), without the disk.
//
// Input: the detached signature file's text (FILE.igb.sig, a text-format
// BundleSignatures) followed by the artifact, which starts at the first
// occurrence of bundle::kArtifactMagic; with no magic in the input, the
// whole input is the artifact (and is refused). Seeds are made by
// make_fuzz_corpus from real packed bundles, signed with the test-only key
// in tests/fuzz/testdata, which is the one key trusted here.
//
// Errors are expected and fine. What aborts, so that libFuzzer records it:
//   - a crash, a sanitizer report, a hang or an out-of-memory;
//   - an error of a code the functions do not document;
//   - an artifact that unpacks although its files do not hash to its
//     content digest (UnpackArtifact promises to check it);
//   - a fresh signature by the trusted key over the unpacked artifact's
//     name, revision and digest that does not verify, or a signature that
//     verifies for a different name, revision or digest.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/text_format.h"
#include "importgate/policy/v1/artifact.pb.h"
#include "server/bundle/artifact.h"
#include "server/bundle/loader.h"
#include "server/bundle/signing.h"
#include "server/bundle/source_reader.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace fz = ::importgate::fuzz;
namespace ib = ::importgate::bundle;
namespace pv1 = ::importgate::policy::v1;

struct Keys {
  ib::SigningKey signer;
  ib::TrustedKeys trusted;
};

const Keys& GetKeys() {
  static const Keys* keys = [] {
    fz::QuietProtobufLogs();
    auto signer = ib::SigningKey::FromPemFile(fz::TestPrivateKeyPath());
    IMPORTGATE_FUZZ_CHECK(signer.ok(), signer.status().ToString());
    auto trusted = ib::TrustedKeys::FromPemFiles({fz::TestPublicKeyPath()});
    IMPORTGATE_FUZZ_CHECK(trusted.ok(), trusted.status().ToString());
    return new Keys{*std::move(signer), *std::move(trusted)};
  }();
  return *keys;
}

void CheckVerified(const absl::Status& status) {
  IMPORTGATE_FUZZ_CHECK(
      status.ok() || status.code() == absl::StatusCode::kPermissionDenied,
      status.ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Keys& keys = GetKeys();
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  size_t magic = input.find(ib::kArtifactMagic);
  if (magic == absl::string_view::npos) magic = 0;
  const absl::string_view sig_text = input.substr(0, magic);
  const absl::string_view artifact = input.substr(magic);

  auto unpacked = ib::UnpackArtifact(artifact);
  if (!unpacked.ok()) {
    IMPORTGATE_FUZZ_CHECK(
        unpacked.status().code() == absl::StatusCode::kInvalidArgument,
        unpacked.status().ToString());
    return 0;
  }
  const pv1::ArtifactManifest& m = unpacked->manifest;
  IMPORTGATE_FUZZ_CHECK(
      ib::ContentDigest(unpacked->files) == m.content_digest(),
      absl::StrCat("unpacked, but the files hash to ",
                   ib::ContentDigest(unpacked->files), " not ",
                   m.content_digest()));

  // The signatures that came with it, as LoadArtifactFile reads them.
  pv1::BundleSignatures signatures;
  if (google::protobuf::TextFormat::ParseFromString(std::string(sig_text),
                                                    &signatures)) {
    CheckVerified(keys.trusted.Verify(signatures, m.name(), m.revision(),
                                      m.content_digest()));
  }
  // A fresh signature by the trusted key verifies for exactly what it
  // covers.
  auto signed_now =
      keys.signer.Sign(m.name(), m.revision(), m.content_digest());
  IMPORTGATE_FUZZ_CHECK(signed_now.ok(), signed_now.status().ToString());
  pv1::BundleSignatures fresh;
  *fresh.add_signatures() = *signed_now;
  absl::Status verified =
      keys.trusted.Verify(fresh, m.name(), m.revision(), m.content_digest());
  IMPORTGATE_FUZZ_CHECK(verified.ok(), verified.ToString());
  for (const absl::Status& other :
       {keys.trusted.Verify(fresh, m.name(), m.revision() + 1,
                            m.content_digest()),
        keys.trusted.Verify(fresh, absl::StrCat(m.name(), "x"), m.revision(),
                            m.content_digest())}) {
    IMPORTGATE_FUZZ_CHECK(
        other.code() == absl::StatusCode::kPermissionDenied,
        absl::StrCat("a signature checked against another name or revision: ",
                     other.ToString()));
  }

  // Parse, compile and self-test, as the server does next.
  auto loaded = ib::LoadBundle("fuzz.igb", unpacked->files, fz::IsoTables());
  if (!loaded.ok()) {
    IMPORTGATE_FUZZ_CHECK(
        loaded.status().code() == absl::StatusCode::kInvalidArgument ||
            loaded.status().code() == absl::StatusCode::kFailedPrecondition,
        loaded.status().ToString());
    return 0;
  }
  IMPORTGATE_FUZZ_CHECK(
      (*loaded)->digest == m.content_digest(),
      absl::StrCat("loaded digest ", (*loaded)->digest, " vs the manifest's ",
                   m.content_digest()));
  return 0;
}
