// make_fuzz_corpus: writes the seed corpora of the fuzz targets from real
// inputs, so that no committed seed is a hand-made binary blob.
//
//   build-asan/tests/fuzz/make_fuzz_corpus tests/fuzz/corpus
//
// replaces <dir>/request_fuzzer, <dir>/bundle_fuzzer and
// <dir>/artifact_fuzzer with:
//   - request_fuzzer: the README's example calls (the T-shirt deny and
//     allow, the bad destination, the cart batch), requests that reach the
//     attribute, FX and window rules of tests/fuzz/testdata/features_bundle,
//     the edge instants of issue 9 (years 2262 and 9999) and the issue's
//     batch with a long Chinese category; each written in text format
//     below and serialized with the generated messages;
//   - bundle_fuzzer: policies/default and the features bundle, each framed
//     as one input ("=== <path>" per file, see fuzz_support.h), and the
//     features bundle's rule file alone (the unframed form);
//   - artifact_fuzzer: both bundles packed with bundle::PackArtifact (fixed
//     creation time, so the output is reproducible) and signed with the
//     test-only key in tests/fuzz/testdata, and policies/default unsigned.
// Run it again after the bundles or the formats change; the output is the
// same bytes for the same sources.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"
#include "importgate/policy/v1/artifact.pb.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/bundle/artifact.h"
#include "server/bundle/signing.h"
#include "server/bundle/source_reader.h"
#include "tests/fuzz/fuzz_support.h"

namespace importgate::fuzz {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::importgate::v1;

struct TextSeed {
  const char* name;
  bool batch;        // a BatchIsImportAllowedRequest, else one request
  const char* text;  // text format
};

// The README's examples, in text format rather than JSON.
constexpr char kTeeDeny[] = R"pb(
  item {
    sku: "TEE-1"
    hs_code: "6109.10.00"
    category: "fashion/men/t-shirts"
    origin_country: "CN"
    unit_price { currency_code: "USD" units: 12 }
    quantity: 1
  }
  seller { id: "seller-cn-1" kind: SELLER_KIND_CROSS_BORDER country: "CN" }
  destination_country: "ID"
  channel: CHANNEL_CHECKOUT
)pb";

const TextSeed kRequestSeeds[] = {
    {"readme_tee_deny", false, kTeeDeny},
    {"readme_tee_allow", false, R"pb(
       item { sku: "TEE-2" hs_code: "6109.10.00" origin_country: "CN" }
       seller { id: "seller-id-7" kind: SELLER_KIND_DOMESTIC country: "ID" }
       destination_country: "ID"
       channel: CHANNEL_LISTING
     )pb"},
    {"readme_bad_destination", false, R"pb(
       item { sku: "TEE-3" hs_code: "6109.10.00" }
       seller { kind: SELLER_KIND_CROSS_BORDER }
       destination_country: "Indonesia"
       channel: CHANNEL_CHECKOUT
     )pb"},
    {"readme_cart_batch", true, R"pb(
       requests {
         item {
           sku: "MUG-1"
           hs_code: "6912.00"
           category: "home/kitchen/mugs"
           origin_country: "CN"
           unit_price { currency_code: "IDR" units: 1600000 }
         }
         seller { kind: SELLER_KIND_CROSS_BORDER }
         destination_country: "ID"
         channel: CHANNEL_CHECKOUT
         evaluation_time { seconds: 1699585200 }
       }
       requests {
         item {
           sku: "MUG-2"
           hs_code: "6912.00"
           category: "home/kitchen/mugs"
           origin_country: "CN"
           unit_price { currency_code: "IDR" units: 1600000 }
         }
         seller { kind: SELLER_KIND_CROSS_BORDER }
         destination_country: "ID"
         channel: CHANNEL_CHECKOUT
         evaluation_time { seconds: 1760065200 }
       }
       requests {
         item {
           sku: "LAMP-1"
           hs_code: "9405.21"
           origin_country: "CN"
           unit_price { currency_code: "USD" units: 120 }
         }
         seller { kind: SELLER_KIND_CROSS_BORDER }
         destination_country: "ID"
         channel: CHANNEL_CHECKOUT
       }
       requests {
         item { sku: "BAD-1" hs_code: "61O9" }
         seller { kind: SELLER_KIND_CROSS_BORDER }
         destination_country: "ID"
         channel: CHANNEL_CHECKOUT
       }
     )pb"},
    // The features bundle: attributes, FX in JPY, a window edge, an
    // exception by origin.
    {"features_attributes_fx", true, R"pb(
       requests {
         item {
           sku: "SW-1"
           hs_code: "8523.49"
           unit_price { currency_code: "JPY" units: 700 }
         }
         seller { kind: SELLER_KIND_CROSS_BORDER country: "JP" }
         destination_country: "ID"
         channel: CHANNEL_CHECKOUT
         attributes { key: "license" value: "gpl" }
         evaluation_time { seconds: 1709251200 }
       }
       requests {
         item { sku: "FOOD-1" hs_code: "2106.90" category: "food/snacks" }
         seller { kind: SELLER_KIND_DOMESTIC }
         destination_country: "ID"
         channel: CHANNEL_LISTING
         attributes { key: "halal" value: "false" }
         attributes { key: "brand" value: "x" }
       }
       requests {
         item { sku: "TEE-SG" hs_code: "6109.10" origin_country: "SG" }
         seller { kind: SELLER_KIND_CROSS_BORDER }
         destination_country: "MY"
         channel: CHANNEL_LISTING
         evaluation_time { seconds: 1627923600 }
       }
     )pb"},
    {"features_luxury_watch", false, R"pb(
       item {
         sku: "W-1"
         category: "watches/luxury/automatic"
         origin_country: "CH"
         unit_price { currency_code: "USD" units: 2500 nanos: 500000000 }
       }
       seller { kind: SELLER_KIND_DOMESTIC }
       destination_country: "SG"
       channel: CHANNEL_LISTING
       min_bundle_revision: 1
     )pb"},
    // Issue 9, class 1: instants past 2262 (int64 nanoseconds end there).
    {"issue9_time_2262", false, R"pb(
       item { sku: "TEE-1" hs_code: "6109.10.00" origin_country: "CN" }
       seller { kind: SELLER_KIND_CROSS_BORDER country: "CN" }
       destination_country: "ID"
       channel: CHANNEL_CHECKOUT
       evaluation_time { seconds: 9223372800 }
     )pb"},
    {"issue9_time_9999", false, R"pb(
       item { sku: "TEE-1" hs_code: "6109.10.00" origin_country: "CN" }
       seller { kind: SELLER_KIND_CROSS_BORDER country: "CN" }
       destination_country: "ID"
       channel: CHANNEL_CHECKOUT
       evaluation_time { seconds: 253402300799 nanos: 999999999 }
     )pb"},
    // Issue 9, class 3: an error quoting a long multi-byte category.
    {"issue9_long_chinese_category_batch", true, R"pb(
       requests {
         item {
           sku: "LAMP-1"
           hs_code: "9405.21"
           origin_country: "CN"
           unit_price { currency_code: "USD" units: 120 }
         }
         seller { kind: SELLER_KIND_CROSS_BORDER }
         destination_country: "ID"
         channel: CHANNEL_CHECKOUT
       }
       requests {
         item {
           sku: "DRESS-1"
           category: "服装/女装/连衣裙/夏季新款/雪纺碎花长裙/波西米亚风格"
         }
         seller { kind: SELLER_KIND_CROSS_BORDER }
         destination_country: "ID"
         channel: CHANNEL_CHECKOUT
       }
     )pb"},
};

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "make_fuzz_corpus: %s\n", why.c_str());
  std::exit(1);
}

void WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.good()) Die(absl::StrCat("cannot write ", path.string()));
}

std::string Serialized(const TextSeed& seed) {
  v1::IsImportAllowedRequest one;
  v1::BatchIsImportAllowedRequest batch;
  google::protobuf::Message* message =
      seed.batch ? static_cast<google::protobuf::Message*>(&batch) : &one;
  if (!google::protobuf::TextFormat::ParseFromString(seed.text, message)) {
    Die(absl::StrCat("request seed ", seed.name, " does not parse"));
  }
  // Deterministic: map entries (attributes) in key order, so that the same
  // sources always give the same bytes.
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!message->SerializeToCodedStream(&coded)) {
      Die(absl::StrCat("request seed ", seed.name, " does not serialize"));
    }
  }
  return out;
}

std::vector<policy::SourceFile> ReadBundle(const std::string& relative) {
  auto files = bundle::ReadSourceDirectory(SourceDir() + "/" + relative);
  if (!files.ok()) Die(files.status().ToString());
  return *std::move(files);
}

std::string Packed(const std::vector<policy::SourceFile>& files,
                   const bundle::SigningKey* key) {
  auto loaded = bundle::LoadBundle("seed", files, IsoTables());
  if (!loaded.ok()) Die(loaded.status().ToString());
  const compiler::PolicySnapshot& snapshot = *(*loaded)->snapshot;
  std::string packed = bundle::PackArtifact(
      files, snapshot.name, snapshot.revision,
      absl::FromUnixSeconds(1'767'225'600),  // 2026-01-01T00:00:00Z
      "make_fuzz_corpus");
  if (key == nullptr) return packed;
  auto signature =
      key->Sign(snapshot.name, snapshot.revision, (*loaded)->digest);
  if (!signature.ok()) Die(signature.status().ToString());
  importgate::policy::v1::BundleSignatures signatures;
  *signatures.add_signatures() = *signature;
  std::string text;
  google::protobuf::TextFormat::PrintToString(signatures, &text);
  return text + packed;  // the .sig file's text, then the artifact
}

fs::path FreshDirectory(const fs::path& root, const char* name) {
  fs::path dir = root / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

int Main(int argc, char** argv) {
  if (argc != 2) Die("usage: make_fuzz_corpus <corpus directory>");
  const fs::path root = argv[1];

  const fs::path requests = FreshDirectory(root, "request_fuzzer");
  for (const TextSeed& seed : kRequestSeeds) {
    WriteFile(requests / seed.name, Serialized(seed));
  }

  const std::vector<policy::SourceFile> default_files =
      ReadBundle("policies/default");
  const std::vector<policy::SourceFile> features_files =
      ReadBundle("tests/fuzz/testdata/features_bundle");
  const fs::path bundles = FreshDirectory(root, "bundle_fuzzer");
  WriteFile(bundles / "default_bundle", JoinBundleFiles(default_files));
  WriteFile(bundles / "features_bundle", JoinBundleFiles(features_files));
  for (const policy::SourceFile& file : features_files) {
    if (file.path == "rules/features.textproto") {
      WriteFile(bundles / "features_rules_only", file.content);
    }
  }

  auto key = bundle::SigningKey::FromPemFile(TestPrivateKeyPath());
  if (!key.ok()) Die(key.status().ToString());
  const fs::path artifacts = FreshDirectory(root, "artifact_fuzzer");
  WriteFile(artifacts / "default_signed", Packed(default_files, &*key));
  WriteFile(artifacts / "default_unsigned", Packed(default_files, nullptr));
  WriteFile(artifacts / "features_signed", Packed(features_files, &*key));
  return 0;
}

}  // namespace
}  // namespace importgate::fuzz

int main(int argc, char** argv) { return importgate::fuzz::Main(argc, argv); }
