#include "server/bundle/signing.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "importgate/policy/v1/artifact.pb.h"
#include "tests/testing/test_bundles.h"

namespace importgate::bundle {
namespace {

namespace it = ::importgate::testing;
namespace pv1 = ::importgate::policy::v1;
using ::testing::HasSubstr;

constexpr char kDigest[] =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr char kOtherDigest[] =
    "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

pv1::BundleSignatures Signatures(
    std::initializer_list<pv1::BundleSignature> list) {
  pv1::BundleSignatures out;
  for (const auto& s : list) *out.add_signatures() = s;
  return out;
}

// Two key pairs, "a" and "b", in a temporary directory; trust_a_ trusts a.
class SigningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = it::WriteBundleDirectory({});
    for (const char* name : {"a", "b"}) {
      absl::Status s = GenerateKeyPair(Private(name), Public(name));
      ASSERT_TRUE(s.ok()) << s;
    }
    auto a = SigningKey::FromPemFile(Private("a"));
    ASSERT_TRUE(a.ok()) << a.status();
    key_a_ = *std::move(a);
    auto b = SigningKey::FromPemFile(Private("b"));
    ASSERT_TRUE(b.ok()) << b.status();
    key_b_ = *std::move(b);
    auto trust = TrustedKeys::FromPemFiles({Public("a")});
    ASSERT_TRUE(trust.ok()) << trust.status();
    trust_a_ = *std::move(trust);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(absl::string_view name) const {
    return absl::StrCat(dir_, "/", name);
  }
  std::string Private(absl::string_view name) const {
    return Path(absl::StrCat(name, ".key.pem"));
  }
  std::string Public(absl::string_view name) const {
    return Path(absl::StrCat(name, ".pub.pem"));
  }

  static pv1::BundleSignature MustSign(const SigningKey& key,
                                       absl::string_view name,
                                       uint64_t revision,
                                       absl::string_view digest) {
    auto s = key.Sign(name, revision, digest);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : pv1::BundleSignature();
  }

  std::string dir_;
  SigningKey key_a_;
  SigningKey key_b_;
  TrustedKeys trust_a_;
};

TEST(SignedMessageTest, Format) {
  EXPECT_EQ(SignedMessage("test", 7, "sha256:ab"),
            "importgate-bundle-v1\ntest\n7\nsha256:ab");
  EXPECT_EQ(SignedMessage("", 0, ""), "importgate-bundle-v1\n\n0\n");
  EXPECT_EQ(SignedMessage("n", 18446744073709551615u, "d"),
            "importgate-bundle-v1\nn\n18446744073709551615\nd");
}

TEST_F(SigningTest, GeneratedPrivateKeyIsOwnerOnly) {
  struct stat st;
  ASSERT_EQ(::stat(Private("a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777u, 0600u);
  ASSERT_EQ(::stat(Public("a").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));

  std::ifstream priv(Private("a"));
  std::string first_line;
  std::getline(priv, first_line);
  EXPECT_EQ(first_line, "-----BEGIN PRIVATE KEY-----");
  std::ifstream pub(Public("a"));
  std::getline(pub, first_line);
  EXPECT_EQ(first_line, "-----BEGIN PUBLIC KEY-----");
}

TEST_F(SigningTest, KeyIdIsSha256HexAndStable) {
  const std::string& id = key_a_.key_id();
  ASSERT_TRUE(absl::StartsWith(id, "sha256:")) << id;
  EXPECT_EQ(id.size(), 7u + 64u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 7), std::string::npos)
      << id;

  auto again = SigningKey::FromPemFile(Private("a"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->key_id(), id);
  EXPECT_NE(key_b_.key_id(), id);
}

TEST_F(SigningTest, SignatureRecordDescribesTheBundle) {
  pv1::BundleSignature s = MustSign(key_a_, "test", 3, kDigest);
  EXPECT_EQ(s.algorithm(), "ed25519");
  EXPECT_EQ(s.key_id(), key_a_.key_id());
  EXPECT_EQ(s.name(), "test");
  EXPECT_EQ(s.revision(), 3u);
  EXPECT_EQ(s.content_digest(), kDigest);
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(s.signature(), &raw)) << s.signature();
  EXPECT_EQ(raw.size(), 64u);
  // Ed25519 is deterministic.
  EXPECT_EQ(MustSign(key_a_, "test", 3, kDigest).signature(), s.signature());
}

TEST_F(SigningTest, SignThenVerify) {
  absl::Status s = trust_a_.Verify(
      Signatures({MustSign(key_a_, "test", 3, kDigest)}), "test", 3, kDigest);
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(SigningTest, NoSignaturesIsPermissionDenied) {
  absl::Status s = trust_a_.Verify(Signatures({}), "test", 3, kDigest);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("not signed"));
}

TEST_F(SigningTest, SignatureByAnUntrustedKeyIsPermissionDenied) {
  absl::Status s = trust_a_.Verify(
      Signatures({MustSign(key_b_, "test", 3, kDigest)}), "test", 3, kDigest);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("no signature is by a trusted key"));

  // Claiming a trusted key's id does not help: the bytes are b's.
  pv1::BundleSignature forged = MustSign(key_b_, "test", 3, kDigest);
  forged.set_key_id(key_a_.key_id());
  s = trust_a_.Verify(Signatures({forged}), "test", 3, kDigest);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("does not verify"));
}

TEST_F(SigningTest, NoTrustedKeysTrustsNothing) {
  TrustedKeys none;
  absl::Status s = none.Verify(
      Signatures({MustSign(key_a_, "test", 3, kDigest)}), "test", 3, kDigest);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(SigningTest, SignatureForAnotherBundleIsPermissionDenied) {
  struct Case {
    const char* name;
    const char* signed_name;
    uint64_t signed_revision;
    const char* signed_digest;
  } cases[] = {
      {"another revision", "test", 4, kDigest},
      {"another name", "other", 3, kDigest},
      {"another digest", "test", 3, kOtherDigest},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::Status s = trust_a_.Verify(
        Signatures({MustSign(key_a_, c.signed_name, c.signed_revision,
                             c.signed_digest)}),
        "test", 3, kDigest);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(s.message(), HasSubstr("covers another bundle"));
    EXPECT_THAT(s.message(), HasSubstr(key_a_.key_id()));
  }
}

TEST_F(SigningTest, RelabelledSignatureDoesNotVerify) {
  // Signed for revision 4, the record edited to claim revision 3.
  pv1::BundleSignature s = MustSign(key_a_, "test", 4, kDigest);
  s.set_revision(3);
  absl::Status status = trust_a_.Verify(Signatures({s}), "test", 3, kDigest);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("does not verify"));
}

TEST_F(SigningTest, CorruptedSignaturesArePermissionDenied) {
  const pv1::BundleSignature good = MustSign(key_a_, "test", 3, kDigest);
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(good.signature(), &raw));
  ASSERT_EQ(raw.size(), 64u);

  pv1::BundleSignature base64_char = good;
  std::string text = good.signature();
  text[0] = text[0] == 'A' ? 'B' : 'A';
  base64_char.set_signature(text);

  pv1::BundleSignature flipped_byte = good;
  std::string flipped = raw;
  flipped[10] = static_cast<char>(flipped[10] ^ 0x01);
  flipped_byte.set_signature(absl::Base64Escape(flipped));

  pv1::BundleSignature short_sig = good;
  short_sig.set_signature(absl::Base64Escape(raw.substr(0, 63)));

  for (const auto& [name, sig] :
       {std::pair{"base64 character changed", base64_char},
        std::pair{"signature byte flipped", flipped_byte},
        std::pair{"63 bytes", short_sig}}) {
    SCOPED_TRACE(name);
    absl::Status s = trust_a_.Verify(Signatures({sig}), "test", 3, kDigest);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(s.message(), HasSubstr("does not verify"));
  }

  pv1::BundleSignature not_base64 = good;
  not_base64.set_signature("%%%% not base64 %%%%");
  absl::Status s =
      trust_a_.Verify(Signatures({not_base64}), "test", 3, kDigest);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("not base64"));

  pv1::BundleSignature other_algorithm = good;
  other_algorithm.set_algorithm("rsa");
  s = trust_a_.Verify(Signatures({other_algorithm}), "test", 3, kDigest);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);

  pv1::BundleSignature empty = good;
  empty.clear_signature();
  s = trust_a_.Verify(Signatures({empty}), "test", 3, kDigest);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(SigningTest, KeyRotationAcceptsEitherTrustedKey) {
  auto both = TrustedKeys::FromPemFiles({Public("a"), Public("b")});
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->size(), 2u);
  EXPECT_FALSE(both->empty());
  for (const SigningKey* key : {&key_a_, &key_b_}) {
    SCOPED_TRACE(key->key_id());
    absl::Status s = both->Verify(
        Signatures({MustSign(*key, "test", 3, kDigest)}), "test", 3, kDigest);
    EXPECT_TRUE(s.ok()) << s;
  }
}

TEST_F(SigningTest, AnyGoodSignatureAmongSeveralSuffices) {
  pv1::BundleSignature bad = MustSign(key_a_, "test", 3, kDigest);
  bad.set_signature(absl::Base64Escape(std::string(64, 'x')));
  const pv1::BundleSignatures signatures =
      Signatures({MustSign(key_b_, "test", 3, kDigest), bad,
                  MustSign(key_a_, "test", 3, kDigest)});
  absl::Status s = trust_a_.Verify(signatures, "test", 3, kDigest);
  EXPECT_TRUE(s.ok()) << s;
  // Without the last, good one, nothing verifies.
  pv1::BundleSignatures without_good = signatures;
  without_good.mutable_signatures()->RemoveLast();
  s = trust_a_.Verify(without_good, "test", 3, kDigest);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(SigningTest, FromPemFileErrors) {
  auto missing = SigningKey::FromPemFile(Path("missing.pem"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(Path("missing.pem")));

  auto public_as_private = SigningKey::FromPemFile(Public("a"));
  ASSERT_FALSE(public_as_private.ok());
  EXPECT_EQ(public_as_private.status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(public_as_private.status().message(), HasSubstr(Public("a")));
  EXPECT_THAT(public_as_private.status().message(),
              HasSubstr("not a PEM private key"));

  std::ofstream(Path("junk.pem")) << "this is not a key\n";
  auto junk = SigningKey::FromPemFile(Path("junk.pem"));
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(junk.status().message(), HasSubstr(Path("junk.pem")));

  std::ofstream(Path("empty.pem")) << "";
  auto empty = SigningKey::FromPemFile(Path("empty.pem"));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SigningTest, FromPemFilesErrors) {
  auto none = TrustedKeys::FromPemFiles({});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(none->size(), 0u);

  auto missing = TrustedKeys::FromPemFiles({Public("a"), Path("missing.pem")});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(Path("missing.pem")));

  auto private_as_public = TrustedKeys::FromPemFiles({Private("a")});
  ASSERT_FALSE(private_as_public.ok());
  EXPECT_EQ(private_as_public.status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(private_as_public.status().message(),
              HasSubstr("not a PEM public key"));
}

TEST_F(SigningTest, GenerateKeyPairIntoMissingDirectoryIsInternal) {
  absl::Status s =
      GenerateKeyPair(Path("no/such/dir/k.pem"), Path("no/such/dir/k.pub.pem"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
}

// Regression: GenerateKeyPair relied on umask(077), but fopen("w") on an
// existing file keeps its mode, so regenerating over a world-readable file
// left the new private key world-readable.
TEST_F(SigningTest, RegeneratingOverAReadableFileIsOwnerOnly) {
  const std::string path = Path("existing.key.pem");
  std::ofstream(path) << "old";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  absl::Status s = GenerateKeyPair(path, Path("existing.pub.pem"));
  ASSERT_TRUE(s.ok()) << s;
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777u, 0600u);
}

}  // namespace
}  // namespace importgate::bundle
