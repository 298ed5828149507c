#include "server/bundle/source.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "importgate/policy/v1/artifact.pb.h"
#include "server/bundle/artifact.h"
#include "server/bundle/signing.h"
#include "server/bundle/source_reader.h"
#include "tests/testing/kubelet_volume.h"
#include "tests/testing/test_bundles.h"

namespace importgate::bundle {
namespace {

namespace it = ::importgate::testing;
namespace pv1 = ::importgate::policy::v1;
using ::testing::HasSubstr;

// A small bundle whose one test case passes.
std::vector<policy::SourceFile> Files(uint64_t revision) {
  return it::BundleFiles(
      it::TestManifest(revision), it::kDenyTeesRules,
      it::TeeTestCase("cross-border tee denied", "SELLER_KIND_CROSS_BORDER",
                      "EFFECT_DENY", "deny-tees"));
}

// The same rules with a test case that expects the wrong answer.
std::vector<policy::SourceFile> FailingFiles(uint64_t revision) {
  return it::BundleFiles(
      it::TestManifest(revision), it::kDenyTeesRules,
      it::TeeTestCase("wrong expectation", "SELLER_KIND_CROSS_BORDER",
                      "EFFECT_ALLOW", ""));
}

std::string Pack(const std::vector<policy::SourceFile>& files,
                 uint64_t revision) {
  return PackArtifact(files, "test", revision, absl::Now(), "test");
}

class SourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = it::WriteBundleDirectory({});
    key_dir_ = it::WriteBundleDirectory({});
    for (const char* name : {"a", "b"}) {
      absl::Status s =
          GenerateKeyPair(KeyPath(name, "key"), KeyPath(name, "pub"));
      ASSERT_TRUE(s.ok()) << s;
    }
    auto a = SigningKey::FromPemFile(KeyPath("a", "key"));
    ASSERT_TRUE(a.ok()) << a.status();
    key_a_ = *std::move(a);
    auto b = SigningKey::FromPemFile(KeyPath("b", "key"));
    ASSERT_TRUE(b.ok()) << b.status();
    key_b_ = *std::move(b);
    auto trust = TrustedKeys::FromPemFiles({KeyPath("a", "pub")});
    ASSERT_TRUE(trust.ok()) << trust.status();
    trust_a_ = std::make_shared<const TrustedKeys>(*std::move(trust));
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(key_dir_);
  }

  std::string KeyPath(absl::string_view name, absl::string_view kind) const {
    return absl::StrCat(key_dir_, "/", name, ".", kind, ".pem");
  }
  std::string Path(absl::string_view name) const {
    return absl::StrCat(dir_, "/", name);
  }

  // Writes `bytes` as dir_/name (making its directory) and returns the
  // path.
  std::string Write(absl::string_view name, absl::string_view bytes) const {
    std::string path = Path(name);
    std::filesystem::create_directories(
        std::filesystem::path(path).parent_path());
    absl::Status s = WriteFileAtomically(path, bytes);
    EXPECT_TRUE(s.ok()) << s;
    return path;
  }

  // Writes path + ".sig" holding `key`'s signature over the artifact at
  // `path` (as `importgate bundle sign` does) and returns the .sig text.
  static std::string SignFile(const std::string& path, const SigningKey& key) {
    auto bytes = ReadWholeFile(path, kMaxArtifactBytes);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    if (!bytes.ok()) return "";
    auto unpacked = UnpackArtifact(*bytes);
    EXPECT_TRUE(unpacked.ok()) << unpacked.status();
    if (!unpacked.ok()) return "";
    const pv1::ArtifactManifest& m = unpacked->manifest;
    auto signature = key.Sign(m.name(), m.revision(), m.content_digest());
    EXPECT_TRUE(signature.ok()) << signature.status();
    if (!signature.ok()) return "";
    pv1::BundleSignatures signatures;
    *signatures.add_signatures() = *signature;
    std::string text;
    EXPECT_TRUE(google::protobuf::TextFormat::PrintToString(signatures, &text));
    absl::Status s =
        WriteFileAtomically(absl::StrCat(path, kSignatureSuffix), text);
    EXPECT_TRUE(s.ok()) << s;
    return text;
  }

  static SourceOptions Unsigned() {
    return SourceOptions{it::RealIsoCodes(), nullptr};
  }
  SourceOptions TrustA() const {
    return SourceOptions{it::RealIsoCodes(), trust_a_};
  }

  std::string dir_;
  std::string key_dir_;
  SigningKey key_a_;
  SigningKey key_b_;
  std::shared_ptr<const TrustedKeys> trust_a_;
};

TEST_F(SourceTest, PackedFileLoads) {
  auto files = Files(3);
  const std::string bytes = Pack(files, 3);
  const std::string path = Write("test-3.igb", bytes);

  for (auto* load : {&LoadArtifactFile, &LoadFromSource}) {
    auto candidate = load(path, Unsigned());
    ASSERT_TRUE(candidate.ok()) << candidate.status();
    ASSERT_NE(candidate->bundle, nullptr);
    EXPECT_EQ(candidate->bundle->snapshot->name, "test");
    EXPECT_EQ(candidate->bundle->snapshot->revision, 3u);
    EXPECT_EQ(candidate->bundle->digest, ContentDigest(files));
    EXPECT_EQ(candidate->bundle->source, path);
    EXPECT_EQ(candidate->bundle->test_case_count, 1u);
    EXPECT_EQ(candidate->artifact, bytes);
    EXPECT_EQ(candidate->signatures, "");
  }
}

// An opened path (OpenSource) checks what it holds once: while its bytes
// stay the same it answers "unchanged" for what was accepted and the same
// refusal for what was refused, without loading again; a change of any
// file, the signature included, loads whole. For a packed file, a source
// directory and a directory of packed files.
TEST_F(SourceTest, AnOpenedPathChecksTheSameBytesOnce) {
  const std::string file = Write("file/test.igb", Pack(Files(1), 1));
  const std::string packed_dir = Path("packed");
  Write("packed/test-1.igb", Pack(Files(1), 1));
  const std::string source_dir = Path("source");
  for (const auto& f : Files(1)) Write("source/" + f.path, f.content);
  // Past the 2 s in which the metadata gate is not trusted: a directory of
  // packed files is answered by its metadata alone.
  absl::SleepFor(absl::Milliseconds(2100));
  for (const std::string& path : {file, packed_dir, source_dir}) {
    SCOPED_TRACE(path);
    auto source = OpenSource(path);
    ASSERT_TRUE(source.ok()) << source.status();
    auto first = (*source)->Load(Unsigned());
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE(first->has_value());
    (*source)->Accept();
    auto again = (*source)->Load(Unsigned());
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_FALSE(again->has_value());
    (*source)->Refuse(absl::FailedPreconditionError("older than active"));
    auto refused = (*source)->Load(Unsigned());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    (*source)->Forget();
    auto forgotten = (*source)->Load(Unsigned());
    ASSERT_TRUE(forgotten.ok());
    EXPECT_TRUE(forgotten->has_value());
    (*source)->Accept();
  }
  // The same bytes written again (a new inode, new times): read and found
  // to be the same by their content digest, before any check.
  for (const std::string& path : {file, source_dir}) {
    SCOPED_TRACE(path);
    auto source = OpenSource(path);
    ASSERT_TRUE((*source)->Load(Unsigned()).ok());
    (*source)->Accept();
    if (path == file) {
      Write("file/test.igb", Pack(Files(1), 1));
    } else {
      for (const auto& f : Files(1)) Write("source/" + f.path, f.content);
    }
    auto same = (*source)->Load(Unsigned());
    ASSERT_TRUE(same.ok()) << same.status();
    EXPECT_FALSE(same->has_value());
  }
  // A signature appearing beside the file is a change.
  auto source = OpenSource(file);
  ASSERT_TRUE((*source)->Load(Unsigned()).ok());
  (*source)->Accept();
  Write("file/test.igb.sig", "signatures {}\n");
  auto signed_now = (*source)->Load(Unsigned());
  ASSERT_TRUE(signed_now.ok()) << signed_now.status();
  EXPECT_TRUE(signed_now->has_value());
  // So is a new revision in the directory of packed files.
  auto directory = OpenSource(packed_dir);
  ASSERT_TRUE((*directory)->Load(Unsigned()).ok());
  (*directory)->Accept();
  Write("packed/test-2.igb", Pack(Files(2), 2));
  auto newer = (*directory)->Load(Unsigned());
  ASSERT_TRUE(newer.ok()) << newer.status();
  ASSERT_TRUE(newer->has_value());
  EXPECT_EQ((*newer)->bundle->snapshot->revision, 2u);
}

// The metadata gate stands for an outcome only while nothing a load would
// read changed, and is not trusted for timestamps under 2 s old (a coarse
// clock can give an in-place rewrite the same ones).
TEST_F(SourceTest, TheMetadataGateNeverKeepsAStaleAnswer) {
  const absl::Duration settle = absl::Milliseconds(2100);
  // A misplaced empty directory is refused; removing it is a change.
  for (const auto& f : Files(1)) Write("source/" + f.path, f.content);
  std::filesystem::create_directories(Path("source/notes"));
  absl::SleepFor(settle);
  auto source = OpenSource(Path("source"));
  ASSERT_TRUE(source.ok());
  auto refused = (*source)->Load(Unsigned());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("notes"));
  auto again = (*source)->Load(Unsigned());  // nothing changed
  EXPECT_EQ(again.status(), refused.status());
  std::filesystem::remove(Path("source/notes"));
  absl::SleepFor(settle);
  auto fixed = (*source)->Load(Unsigned());
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_TRUE(fixed->has_value());
  (*source)->Accept();

  // A dangling link appearing is a change too (refused by the loader).
  std::filesystem::create_symlink(Path("nowhere"),
                                  Path("source/rules/gone.textproto"));
  absl::SleepFor(settle);
  auto dangling = (*source)->Load(Unsigned());
  ASSERT_FALSE(dangling.ok());
  EXPECT_THAT(dangling.status().message(), HasSubstr("gone.textproto"));

  // A packed file rewritten in place (same inode) at the same size, right
  // after a load: read again.
  const std::string file = Write("file/test.igb", Pack(Files(1), 1));
  absl::SleepFor(settle);
  auto packed = OpenSource(file);
  auto first = (*packed)->Load(Unsigned());
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status();
  (*packed)->Accept();
  const std::string two = Pack(Files(2), 2);
  ASSERT_EQ(two.size(), Pack(Files(1), 1).size());
  std::ofstream(file, std::ios::binary | std::ios::trunc) << two;
  auto rewritten = (*packed)->Load(Unsigned());
  ASSERT_TRUE(rewritten.ok()) << rewritten.status();
  ASSERT_TRUE(rewritten->has_value());
  EXPECT_EQ((*rewritten)->bundle->snapshot->revision, 2u);
  (*packed)->Accept();
  // And a refusal kept for bytes is answered again for the same bytes
  // written anew.
  (*packed)->Refuse(absl::FailedPreconditionError("older than active"));
  Write("file/test.igb", two);
  auto same = (*packed)->Load(Unsigned());
  EXPECT_EQ(same.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SourceTest, SymlinkToAPackedFileLoads) {
  const std::string path = Write("test-4.igb", Pack(Files(4), 4));
  const std::string link = Path("current");
  std::filesystem::create_symlink(path, link);
  auto candidate = LoadFromSource(link, Unsigned());
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  EXPECT_EQ(candidate->bundle->snapshot->revision, 4u);
}

TEST_F(SourceTest, SourceDirectoryLoadsAndIsPacked) {
  auto files = Files(5);
  const std::string source = it::WriteBundleDirectory(files);
  auto candidate = LoadFromSource(source, Unsigned());
  std::filesystem::remove_all(source);
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  EXPECT_EQ(candidate->bundle->snapshot->revision, 5u);
  EXPECT_EQ(candidate->bundle->digest, ContentDigest(files));
  EXPECT_EQ(candidate->bundle->source, source);
  EXPECT_EQ(candidate->signatures, "");

  auto unpacked = UnpackArtifact(candidate->artifact);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_EQ(unpacked->manifest.name(), "test");
  EXPECT_EQ(unpacked->manifest.revision(), 5u);
  EXPECT_EQ(unpacked->manifest.content_digest(), ContentDigest(files));
  EXPECT_EQ(ContentDigest(unpacked->files), candidate->bundle->digest);
}

// The issue's failure: a bundle mounted from a ConfigMap. The names inside
// the bundle are lexical ("rules/r.textproto"), not where the kubelet's
// symlinks lead ("..2026_.../rules/r.textproto"); an update swaps "..data"
// and the next load sees exactly the new revision.
TEST_F(SourceTest, ConfigMapVolumeOfSourceFilesLoadsAndFollowsItsUpdates) {
  it::KubeletVolume volume(Path("configmap"));
  volume.Publish(Files(5));
  auto read = ReadSourceDirectory(volume.mount());
  ASSERT_TRUE(read.ok()) << read.status();
  std::vector<std::string> paths;
  for (const auto& f : *read) paths.push_back(f.path);
  EXPECT_EQ(paths,
            (std::vector<std::string>{"manifest.textproto", "rules/r.textproto",
                                      "tests/t.textproto"}));
  auto candidate = LoadFromSource(volume.mount(), Unsigned());
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  EXPECT_EQ(candidate->bundle->snapshot->revision, 5u);
  EXPECT_EQ(candidate->bundle->digest, ContentDigest(Files(5)));

  volume.Publish(Files(6));
  candidate = LoadFromSource(volume.mount(), Unsigned());
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  EXPECT_EQ(candidate->bundle->snapshot->revision, 6u);
  EXPECT_EQ(candidate->bundle->digest, ContentDigest(Files(6)));

  // A stray key in the ConfigMap is refused by its name, as on disk.
  std::vector<policy::SourceFile> stray = Files(7);
  stray.push_back({"notes.txt", "hello"});
  volume.Publish(stray);
  candidate = LoadFromSource(volume.mount(), Unsigned());
  ASSERT_FALSE(candidate.ok());
  EXPECT_THAT(std::string(candidate.status().message()),
              HasSubstr("notes.txt: not part of the bundle layout"));
}

TEST_F(SourceTest, ConfigMapVolumeOfPackedFilesPicksTheNewestRevision) {
  it::KubeletVolume volume(Path("configmap-packed"));
  volume.Publish({{"test-3.igb", Pack(Files(3), 3)}});
  auto candidate = LoadFromSource(volume.mount(), Unsigned());
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  EXPECT_EQ(candidate->bundle->snapshot->revision, 3u);
  // binaryData keys: two revisions side by side, then only the newer.
  volume.Publish(
      {{"test-3.igb", Pack(Files(3), 3)}, {"test-4.igb", Pack(Files(4), 4)}});
  candidate = LoadFromSource(volume.mount(), Unsigned());
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  EXPECT_EQ(candidate->bundle->snapshot->revision, 4u);
  volume.Publish({{"test-4.igb", Pack(Files(4), 4)}});
  candidate = LoadFromSource(volume.mount(), Unsigned());
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  EXPECT_EQ(candidate->bundle->snapshot->revision, 4u);
}

TEST_F(SourceTest, SourceDirectoryWhoseTestsFailIsFailedPrecondition) {
  const std::string source = it::WriteBundleDirectory(FailingFiles(5));
  auto candidate = LoadFromSource(source, Unsigned());
  std::filesystem::remove_all(source);
  ASSERT_FALSE(candidate.ok());
  EXPECT_EQ(candidate.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(candidate.status().message(), HasSubstr("wrong expectation"));
}

TEST_F(SourceTest, DirectoryOfPackedFilesPicksTheNewestRevision) {
  // File names deliberately out of revision order.
  Write("a.igb", Pack(Files(1), 1));
  const std::string newest = Write("b.igb", Pack(Files(3), 3));
  Write("c.igb", Pack(Files(2), 2));
  // Noise that must not count: hidden files, leftovers of an atomic write,
  // signatures, other files.
  Write(".hidden.igb", Pack(Files(9), 9));
  Write("d.igb.tmp.12345", Pack(Files(8), 8));
  Write("notes.txt", "not a bundle");

  auto candidate = LoadFromSource(dir_, Unsigned());
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  EXPECT_EQ(candidate->bundle->snapshot->revision, 3u);
  EXPECT_EQ(candidate->bundle->source, newest);
  auto bytes = ReadWholeFile(newest, kMaxArtifactBytes);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(candidate->artifact, *bytes);
}

TEST_F(SourceTest, TornNewestFileFallsBackToTheNewestValidOne) {
  Write("test-1.igb", Pack(Files(1), 1));
  const std::string valid = Write("test-2.igb", Pack(Files(2), 2));
  const std::string bytes = Pack(Files(9), 9);
  Write("test-9.igb", bytes.substr(0, bytes.size() / 2));
  Write("test-8.igb", "IGB");  // shorter than the magic
  Write("test-7.igb", "");

  auto candidate = LoadFromSource(dir_, Unsigned());
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  EXPECT_EQ(candidate->bundle->snapshot->revision, 2u);
  EXPECT_EQ(candidate->bundle->source, valid);
}

TEST_F(SourceTest, NewestWhoseTestsFailFallsBackToTheNewestValidOne) {
  Write("test-3.igb", Pack(Files(3), 3));
  const std::string valid = Write("test-4.igb", Pack(Files(4), 4));
  Write("test-5.igb", Pack(FailingFiles(5), 5));

  auto candidate = LoadFromSource(dir_, Unsigned());
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  EXPECT_EQ(candidate->bundle->snapshot->revision, 4u);
  EXPECT_EQ(candidate->bundle->source, valid);
}

TEST_F(SourceTest, DirectoryWhereEveryBundleIsRefusedListsEachReason) {
  const std::string bytes = Pack(Files(9), 9);
  Write("torn.igb", bytes.substr(0, bytes.size() / 2));
  const std::string failing = Write("failing.igb", Pack(FailingFiles(5), 5));

  auto candidate = LoadFromSource(dir_, Unsigned());
  ASSERT_FALSE(candidate.ok());
  EXPECT_EQ(candidate.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(candidate.status().message(), HasSubstr(dir_));
  EXPECT_THAT(candidate.status().message(),
              HasSubstr("no bundle in the directory passes every check"));
  EXPECT_THAT(candidate.status().message(), HasSubstr("torn.igb: "));
  EXPECT_THAT(candidate.status().message(), HasSubstr(failing));
  EXPECT_THAT(candidate.status().message(), HasSubstr("wrong expectation"));
}

TEST_F(SourceTest, DirectoryWithNoBundlesIsNotFound) {
  auto empty = LoadFromSource(dir_, Unsigned());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(empty.status().message(), HasSubstr(dir_));

  Write("README.md", "no bundles here");
  Write(".hidden.igb", Pack(Files(1), 1));
  auto noise = LoadFromSource(dir_, Unsigned());
  ASSERT_FALSE(noise.ok());
  EXPECT_EQ(noise.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(noise.status().message(), HasSubstr(dir_));
}

TEST_F(SourceTest, NonexistentPathIsNotFound) {
  const std::string missing = Path("missing.igb");
  for (auto* load : {&LoadArtifactFile, &LoadFromSource}) {
    auto candidate = load(missing, Unsigned());
    ASSERT_FALSE(candidate.ok());
    EXPECT_EQ(candidate.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(candidate.status().message(), HasSubstr(missing));
  }
}

TEST_F(SourceTest, SignedFileLoadsWithTrustedKeys) {
  const std::string path = Write("test-3.igb", Pack(Files(3), 3));
  const std::string sig_text = SignFile(path, key_a_);
  ASSERT_FALSE(sig_text.empty());

  for (auto* load : {&LoadArtifactFile, &LoadFromSource}) {
    auto candidate = load(path, TrustA());
    ASSERT_TRUE(candidate.ok()) << candidate.status();
    EXPECT_EQ(candidate->bundle->snapshot->revision, 3u);
    EXPECT_EQ(candidate->signatures, sig_text);
  }
  // Without trusted keys the signature is carried along, not checked.
  auto unchecked = LoadArtifactFile(path, Unsigned());
  ASSERT_TRUE(unchecked.ok()) << unchecked.status();
  EXPECT_EQ(unchecked->signatures, sig_text);
}

TEST_F(SourceTest, EmptyTrustedKeysCheckNothing) {
  auto none = TrustedKeys::FromPemFiles({});
  ASSERT_TRUE(none.ok()) << none.status();
  SourceOptions options{it::RealIsoCodes(),
                        std::make_shared<const TrustedKeys>(*std::move(none))};
  const std::string path = Write("test-3.igb", Pack(Files(3), 3));
  auto candidate = LoadArtifactFile(path, options);
  EXPECT_TRUE(candidate.ok()) << candidate.status();
}

TEST_F(SourceTest, UnsignedFileIsPermissionDeniedWithTrustedKeys) {
  const std::string path = Write("test-3.igb", Pack(Files(3), 3));
  for (auto* load : {&LoadArtifactFile, &LoadFromSource}) {
    auto candidate = load(path, TrustA());
    ASSERT_FALSE(candidate.ok());
    EXPECT_EQ(candidate.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(candidate.status().message(), HasSubstr(path));
    EXPECT_THAT(candidate.status().message(), HasSubstr("not signed"));
  }
}

TEST_F(SourceTest, SourceDirectoryIsPermissionDeniedWithTrustedKeys) {
  const std::string source = it::WriteBundleDirectory(Files(3));
  auto candidate = LoadFromSource(source, TrustA());
  std::filesystem::remove_all(source);
  ASSERT_FALSE(candidate.ok());
  EXPECT_EQ(candidate.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(candidate.status().message(), HasSubstr(source));
  EXPECT_THAT(candidate.status().message(), HasSubstr("cannot be signed"));
}

TEST_F(SourceTest, SignatureByAnUntrustedKeyIsPermissionDenied) {
  const std::string path = Write("test-3.igb", Pack(Files(3), 3));
  ASSERT_FALSE(SignFile(path, key_b_).empty());
  auto candidate = LoadArtifactFile(path, TrustA());
  ASSERT_FALSE(candidate.ok());
  EXPECT_EQ(candidate.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(candidate.status().message(), HasSubstr(path));
  EXPECT_THAT(candidate.status().message(),
              HasSubstr("no signature is by a trusted key"));
}

TEST_F(SourceTest, SignatureOfAnotherRevisionIsPermissionDenied) {
  const std::string old_path = Write("test-2.igb", Pack(Files(2), 2));
  const std::string sig_text = SignFile(old_path, key_a_);
  const std::string path = Write("test-3.igb", Pack(Files(3), 3));
  Write("test-3.igb.sig", sig_text);
  auto candidate = LoadArtifactFile(path, TrustA());
  ASSERT_FALSE(candidate.ok());
  EXPECT_EQ(candidate.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(candidate.status().message(), HasSubstr(path));
  EXPECT_THAT(candidate.status().message(), HasSubstr("covers another bundle"));
}

TEST_F(SourceTest, UnparsableSignatureFileIsPermissionDenied) {
  const std::string path = Write("test-3.igb", Pack(Files(3), 3));
  Write("test-3.igb.sig", "signatures {");
  auto candidate = LoadArtifactFile(path, TrustA());
  ASSERT_FALSE(candidate.ok());
  EXPECT_EQ(candidate.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(candidate.status().message(), HasSubstr(path + ".sig"));
}

TEST_F(SourceTest, DirectoryWithTrustedKeysSkipsUnsignedNewerBundles) {
  const std::string signed_path = Write("test-2.igb", Pack(Files(2), 2));
  ASSERT_FALSE(SignFile(signed_path, key_a_).empty());
  const std::string by_b = Write("test-3.igb", Pack(Files(3), 3));
  ASSERT_FALSE(SignFile(by_b, key_b_).empty());
  Write("test-4.igb", Pack(Files(4), 4));

  auto candidate = LoadFromSource(dir_, TrustA());
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  EXPECT_EQ(candidate->bundle->snapshot->revision, 2u);
  EXPECT_EQ(candidate->bundle->source, signed_path);
  EXPECT_FALSE(candidate->signatures.empty());
}

// Every way a packed file can be refused, each naming the file.
TEST_F(SourceTest, RefusedPackedFilesNameTheFile) {
  const std::string good = Pack(Files(3), 3);
  std::string flipped = good;
  const size_t pos = flipped.find("deny-tees");
  ASSERT_NE(pos, std::string::npos);
  flipped[pos] = 'D';
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  struct Case {
    const char* name;
    std::string bytes;
    absl::StatusCode code;
    const char* expected;
  } cases[] = {
      {"manifest name and revision disagree",
       PackArtifact(Files(3), "other", 99, absl::Now(), "test"),
       absl::StatusCode::kInvalidArgument, "artifact manifest says other"},
      {"manifest revision disagrees",
       PackArtifact(Files(3), "test", 4, absl::Now(), "test"),
       absl::StatusCode::kInvalidArgument,
       "artifact manifest says test revision 4 but manifest.textproto says "
       "test revision 3"},
      {"bundle tests fail", Pack(FailingFiles(3), 3),
       absl::StatusCode::kFailedPrecondition, "bundle tests failed"},
      {"compile error",
       Pack(it::BundleFiles(it::TestManifest(3), R"pb(rules { id: "x" })pb"),
            3),
       absl::StatusCode::kInvalidArgument, "compile failed"},
      {"syntax error", Pack(it::BundleFiles(it::TestManifest(3), "rules {"), 3),
       absl::StatusCode::kInvalidArgument, "parse failed"},
      {"torn", good.substr(0, good.size() / 2),
       absl::StatusCode::kInvalidArgument, ""},
      {"one byte short", good.substr(0, good.size() - 1),
       absl::StatusCode::kInvalidArgument, ""},
      {"flipped content byte", flipped, absl::StatusCode::kInvalidArgument,
       "content does not match"},
      {"bad magic", bad_magic, absl::StatusCode::kInvalidArgument, "bad magic"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = Write("case.igb", c.bytes);
    auto candidate = LoadArtifactFile(path, Unsigned());
    ASSERT_FALSE(candidate.ok());
    EXPECT_EQ(candidate.status().code(), c.code) << candidate.status();
    EXPECT_THAT(candidate.status().message(), HasSubstr(path));
    EXPECT_THAT(candidate.status().message(), HasSubstr(c.expected));
  }
}

}  // namespace
}  // namespace importgate::bundle
