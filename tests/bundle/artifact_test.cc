#include "server/bundle/artifact.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "gtest/gtest.h"
#include "importgate/policy/v1/artifact.pb.h"
#include "server/bundle/source_reader.h"
#include "tests/testing/test_bundles.h"

namespace importgate::bundle {
namespace {

namespace it = ::importgate::testing;
namespace pv1 = ::importgate::policy::v1;
using ::testing::HasSubstr;

const absl::Time kCreatedAt =
    absl::FromUnixSeconds(1'700'000'000) + absl::Nanoseconds(123);

std::vector<policy::SourceFile> Files(uint64_t revision) {
  return it::SmallBundle(revision);
}

std::string Pack(const std::vector<policy::SourceFile>& files,
                 uint64_t revision) {
  return PackArtifact(files, "test", revision, kCreatedAt, "builder-1.2.3");
}

using FileList = std::vector<std::pair<std::string, std::string>>;

FileList Pairs(const std::vector<policy::SourceFile>& files) {
  FileList out;
  for (const auto& f : files) out.emplace_back(f.path, f.content);
  return out;
}

// The message inside packed bytes, for tests that tamper with it.
pv1::BundleArtifact Parse(const std::string& packed) {
  pv1::BundleArtifact artifact;
  EXPECT_TRUE(absl::StartsWith(packed, kArtifactMagic));
  EXPECT_TRUE(artifact.ParseFromString(packed.substr(kArtifactMagic.size())));
  return artifact;
}

std::string Repack(const pv1::BundleArtifact& artifact) {
  return absl::StrCat(kArtifactMagic, artifact.SerializeAsString());
}

// A fresh temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() : path_(it::WriteBundleDirectory({})) {}
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const {
    return absl::StrCat(path_, "/", name);
  }
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

 private:
  std::string path_;
};

TEST(Sha256HexTest, KnownValues) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(PackArtifactTest, RoundTripKeepsFilesAndDescribesThem) {
  auto files = Files(3);
  // Packing does not depend on the order the files are given in.
  std::vector<policy::SourceFile> reversed(files.rbegin(), files.rend());
  std::string packed = Pack(reversed, 3);
  EXPECT_TRUE(absl::StartsWith(packed, "IGBUNDL1"));
  EXPECT_EQ(packed, Pack(files, 3));

  auto unpacked = UnpackArtifact(packed);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  // BundleFiles gives the files in path order already.
  EXPECT_EQ(Pairs(unpacked->files), Pairs(files));

  const pv1::ArtifactManifest& m = unpacked->manifest;
  EXPECT_EQ(m.format_version(), 1u);
  EXPECT_EQ(m.name(), "test");
  EXPECT_EQ(m.revision(), 3u);
  EXPECT_EQ(m.builder_version(), "builder-1.2.3");
  EXPECT_EQ(m.created_at().seconds(), 1'700'000'000);
  EXPECT_EQ(m.created_at().nanos(), 123);
  ASSERT_EQ(m.files_size(), 3);
  for (int i = 0; i < m.files_size(); ++i) {
    const auto& f = files[static_cast<size_t>(i)];
    SCOPED_TRACE(f.path);
    EXPECT_EQ(m.files(i).path(), f.path);
    EXPECT_EQ(m.files(i).size(), f.content.size());
    EXPECT_EQ(m.files(i).sha256(), Sha256Hex(f.content));
    EXPECT_EQ(m.files(i).sha256().size(), 64u);
  }
  EXPECT_EQ(m.content_digest(), ContentDigest(files));
}

TEST(PackArtifactTest, ContentDigestEqualsTheSourceDirectorys) {
  auto files = Files(5);
  std::string dir = it::WriteBundleDirectory(files);
  auto from_disk = ReadSourceDirectory(dir);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(from_disk.ok()) << from_disk.status();

  auto unpacked = UnpackArtifact(Pack(*from_disk, 5));
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_EQ(unpacked->manifest.content_digest(), ContentDigest(*from_disk));
  EXPECT_EQ(unpacked->manifest.content_digest(), ContentDigest(files));
  EXPECT_EQ(ContentDigest(unpacked->files), ContentDigest(files));
}

TEST(PackArtifactTest, EmptyFileRoundTrips) {
  std::vector<policy::SourceFile> files = {{"manifest.textproto", "x"},
                                           {"rules/empty.textproto", ""}};
  auto unpacked = UnpackArtifact(Pack(files, 1));
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_EQ(Pairs(unpacked->files), Pairs(files));
  ASSERT_EQ(unpacked->manifest.files_size(), 2);
  EXPECT_EQ(unpacked->manifest.files(1).size(), 0u);
  EXPECT_EQ(unpacked->manifest.files(1).sha256(), Sha256Hex(""));
}

TEST(UnpackArtifactTest, WrongMagicIsRefused) {
  std::string packed = Pack(Files(1), 1);
  std::string wrong = packed;
  wrong[0] = 'X';
  for (const std::string& bytes :
       {wrong, std::string(), std::string("IGBUNDL"), std::string("IGBUNDL2"),
        it::TestManifest(1)}) {
    SCOPED_TRACE(bytes.substr(0, 16));
    auto unpacked = UnpackArtifact(bytes);
    ASSERT_FALSE(unpacked.ok());
    EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(unpacked.status().message(), HasSubstr("bad magic"));
  }
}

// The manifest alone, read from the front of the file: what a directory of
// packed bundles is ordered by. Any file that does not start with the
// magic and a whole manifest is refused, naming it; a file torn after its
// manifest still gives it (the full unpack refuses it later).
TEST(ReadArtifactManifestTest, ReadsTheManifestAloneOrNamesTheFile) {
  const std::string dir = it::WriteBundleDirectory({});
  const std::string packed = Pack(Files(7), 7);
  const pv1::BundleArtifact artifact = Parse(packed);
  const size_t manifest_bytes = artifact.manifest().ByteSizeLong();
  const size_t manifest_end =
      kArtifactMagic.size() + 1 +
      google::protobuf::io::CodedOutputStream::VarintSize64(manifest_bytes) +
      manifest_bytes;
  auto write = [&](const std::string& name, const std::string& bytes) {
    const std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  };
  struct Case {
    std::string name, bytes;
    bool ok;
  } cases[] = {
      {"whole.igb", packed, true},
      {"torn-after-manifest.igb", packed.substr(0, manifest_end + 3), true},
      {"just-the-manifest.igb", packed.substr(0, manifest_end), true},
      {"torn-in-manifest.igb", packed.substr(0, manifest_end - 1), false},
      {"magic-only.igb", std::string(kArtifactMagic), false},
      {"empty.igb", "", false},
      {"bad-magic.igb", "IGBUNDL2" + packed.substr(8), false},
      {"files-first.igb",
       std::string(kArtifactMagic) + "\x12\x00" + packed.substr(8), false},
      {"huge-length.igb",
       std::string(kArtifactMagic) + "\x0a\xff\xff\xff\xff\x0f", false},
      {"endless-varint.igb",
       std::string(kArtifactMagic) + "\x0a" + std::string(12, '\xff'), false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto manifest = ReadArtifactManifest(write(c.name, c.bytes));
    ASSERT_EQ(manifest.ok(), c.ok) << manifest.status();
    if (c.ok) {
      EXPECT_EQ(manifest->revision(), 7u);
      EXPECT_EQ(manifest->name(), "test");
      EXPECT_EQ(manifest->content_digest(), ContentDigest(Files(7)));
    } else {
      EXPECT_EQ(manifest.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(manifest.status().message(), HasSubstr(c.name));
    }
  }
  EXPECT_EQ(ReadArtifactManifest(dir + "/absent.igb").status().code(),
            absl::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(UnpackArtifactTest, EveryTruncationIsRefused) {
  std::string packed = Pack(Files(1), 1);
  ASSERT_TRUE(UnpackArtifact(packed).ok());
  // The cuts the brief cares about most, then every other prefix.
  std::vector<size_t> cuts = {packed.size() / 2, packed.size() - 1,
                              kArtifactMagic.size(), 0u};
  for (size_t n = 1; n < packed.size(); ++n) cuts.push_back(n);
  for (size_t n : cuts) {
    auto unpacked = UnpackArtifact(absl::string_view(packed).substr(0, n));
    ASSERT_FALSE(unpacked.ok()) << "cut at " << n << " of " << packed.size();
    EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument)
        << "cut at " << n << ": " << unpacked.status();
  }
}

TEST(UnpackArtifactTest, FlippedContentByteIsRefused) {
  std::string packed = Pack(Files(1), 1);
  // The rule id appears only in file contents (rules and tests), never in
  // the manifest, and the rules file comes first.
  size_t pos = packed.find("deny-tees");
  ASSERT_NE(pos, std::string::npos);
  packed[pos] = 'D';
  auto unpacked = UnpackArtifact(packed);
  ASSERT_FALSE(unpacked.ok());
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unpacked.status().message(),
              HasSubstr("rules/r.textproto: content does not match the "
                        "manifest's SHA-256"));
}

TEST(UnpackArtifactTest, TamperedManifestsAreRefused) {
  const std::string packed = Pack(Files(1), 1);
  struct Case {
    const char* name;
    void (*tamper)(pv1::BundleArtifact*);
    const char* expected;
  } cases[] = {
      {"sha256 of a file differs",
       [](pv1::BundleArtifact* a) {
         a->mutable_manifest()->mutable_files(1)->set_sha256(Sha256Hex("x"));
       },
       "rules/r.textproto: content does not match the manifest's SHA-256"},
      {"size of a file differs",
       [](pv1::BundleArtifact* a) {
         auto* entry = a->mutable_manifest()->mutable_files(1);
         entry->set_size(entry->size() + 1);
       },
       "rules/r.textproto: content does not match the manifest's SHA-256"},
      {"content differs from its sha256",
       [](pv1::BundleArtifact* a) {
         a->mutable_files(1)->mutable_content()->append("\n");
       },
       "rules/r.textproto: content does not match the manifest's SHA-256"},
      {"a file is not in the manifest",
       [](pv1::BundleArtifact* a) {
         a->mutable_manifest()->mutable_files(1)->set_path(
             "rules/other.textproto");
       },
       "rules/r.textproto: not listed in the manifest"},
      {"an extra file with no manifest entry",
       [](pv1::BundleArtifact* a) {
         auto* extra = a->add_files();
         extra->set_path("rules/extra.textproto");
         extra->set_content("");
       },
       "manifest lists 3 files, the artifact holds 4"},
      {"the manifest lists a file that is not present",
       [](pv1::BundleArtifact* a) {
         auto* entry = a->mutable_manifest()->add_files();
         entry->set_path("rules/missing.textproto");
         entry->set_size(0);
         entry->set_sha256(Sha256Hex(""));
       },
       "manifest lists 4 files, the artifact holds 3"},
      {"a file was dropped",
       [](pv1::BundleArtifact* a) { a->mutable_files()->RemoveLast(); },
       "manifest lists 3 files, the artifact holds 2"},
      {"content digest differs",
       [](pv1::BundleArtifact* a) {
         a->mutable_manifest()->set_content_digest(ContentDigest(Files(2)));
       },
       "does not match the manifest's sha256:"},
      {"no content digest",
       [](pv1::BundleArtifact* a) {
         a->mutable_manifest()->clear_content_digest();
       },
       "does not match the manifest's"},
      {"format version 2",
       [](pv1::BundleArtifact* a) {
         a->mutable_manifest()->set_format_version(2);
       },
       "manifest.format_version: 2 is not supported"},
      {"no manifest at all",
       [](pv1::BundleArtifact* a) { a->clear_manifest(); },
       "manifest.format_version: 0 is not supported"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    pv1::BundleArtifact artifact = Parse(packed);
    c.tamper(&artifact);
    auto unpacked = UnpackArtifact(Repack(artifact));
    ASSERT_FALSE(unpacked.ok());
    EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(unpacked.status().message(), HasSubstr(c.expected));
  }
}

TEST(UnpackArtifactTest, RepackingAnUntamperedMessageStillUnpacks) {
  // Guards the tamper tests above: Parse + Repack alone changes nothing.
  const std::string packed = Pack(Files(1), 1);
  auto unpacked = UnpackArtifact(Repack(Parse(packed)));
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_EQ(unpacked->manifest.content_digest(), ContentDigest(Files(1)));
}

// Regression: files used to be matched to manifest entries by path with
// only the counts compared, so an artifact holding one listed file twice and
// another not at all was accepted.
TEST(UnpackArtifactTest, DuplicatedFileInPlaceOfAListedOneIsRefused) {
  pv1::BundleArtifact artifact = Parse(Pack(Files(1), 1));
  ASSERT_EQ(artifact.files_size(), 3);
  // tests/t.textproto is replaced by a second copy of rules/r.textproto.
  *artifact.mutable_files(2) = artifact.files(1);
  std::vector<policy::SourceFile> held;
  for (const auto& f : artifact.files())
    held.push_back({f.path(), f.content()});
  artifact.mutable_manifest()->set_content_digest(ContentDigest(held));
  auto unpacked = UnpackArtifact(Repack(artifact));
  ASSERT_FALSE(unpacked.ok());
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unpacked.status().message(), HasSubstr("tests/t.textproto"));
}

TEST(WriteFileAtomicallyTest, WritesThenReplacesAndLeavesNoTemporaries) {
  TempDir dir;
  const std::string path = dir.File("bundle.igb");
  ASSERT_TRUE(WriteFileAtomically(path, "first version").ok());
  auto first = ReadWholeFile(path, 1024);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "first version");

  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  auto second = ReadWholeFile(path, 1024);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, "second");

  // Binary content survives, NUL bytes included.
  const std::string binary("a\0b\xff", 4);
  ASSERT_TRUE(WriteFileAtomically(path, binary).ok());
  auto third = ReadWholeFile(path, 1024);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(*third, binary);

  ASSERT_TRUE(WriteFileAtomically(dir.File("empty"), "").ok());
  auto empty = ReadWholeFile(dir.File("empty"), 1024);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, "");

  EXPECT_THAT(dir.Entries(),
              ::testing::UnorderedElementsAre("bundle.igb", "empty"));
  for (const std::string& name : dir.Entries()) {
    EXPECT_THAT(name, ::testing::Not(HasSubstr(".tmp.")));
  }
}

TEST(WriteFileAtomicallyTest, MissingDirectoryIsInternalAndNamesThePath) {
  const std::string path = "/nonexistent/importgate/dir/bundle.igb";
  absl::Status s = WriteFileAtomically(path, "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr(path));
}

TEST(ReadWholeFileTest, MissingFileIsNotFound) {
  TempDir dir;
  const std::string path = dir.File("missing.igb");
  auto content = ReadWholeFile(path, 1024);
  ASSERT_FALSE(content.ok());
  EXPECT_EQ(content.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(content.status().message(), HasSubstr(path));
}

TEST(ReadWholeFileTest, LargerThanTheLimitIsInvalidArgument) {
  TempDir dir;
  const std::string path = dir.File("ten");
  ASSERT_TRUE(WriteFileAtomically(path, "0123456789").ok());

  auto too_big = ReadWholeFile(path, 9);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_big.status().message(), HasSubstr(path));
  EXPECT_THAT(too_big.status().message(), HasSubstr("exceeds"));

  auto exact = ReadWholeFile(path, 10);
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(*exact, "0123456789");
}

TEST(ReadWholeFileTest, ReadsWhatAnotherWriterWrote) {
  TempDir dir;
  const std::string path = dir.File("plain");
  std::ofstream(path, std::ios::binary) << "written by ofstream";
  auto content = ReadWholeFile(path, 1024);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, "written by ofstream");
}

}  // namespace
}  // namespace importgate::bundle
