#include "server/bundle/signing.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/bundle/artifact.h"

namespace importgate::bundle {
namespace {

namespace pv1 = importgate::policy::v1;

constexpr char kAlgorithm[] = "ed25519";

int NoPassphrase(char*, int, int, void*) { return -1; }

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> ReadPem(const std::string& path,
                                                  bool is_private) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    std::string why = std::strerror(errno);
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("key ", path, " does not exist"));
    }
    return absl::InternalError(
        absl::StrCat("cannot open key ", path, ": ", why));
  }
  // No passphrase callback may prompt: an encrypted key simply fails.
  EVP_PKEY* key = is_private
                      ? PEM_read_PrivateKey(f, nullptr, NoPassphrase, nullptr)
                      : PEM_read_PUBKEY(f, nullptr, NoPassphrase, nullptr);
  std::fclose(f);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a PEM ", is_private ? "private" : "public", " key"));
  }
  if (EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not an Ed25519 key"));
  }
  return Own(key);
}

std::string KeyId(EVP_PKEY* key) {
  unsigned char raw[32];
  size_t len = sizeof(raw);
  EVP_PKEY_get_raw_public_key(key, raw, &len);
  return absl::StrCat("sha256:", Sha256Hex(absl::string_view(
                                     reinterpret_cast<char*>(raw), len)));
}

}  // namespace

std::string SignedMessage(absl::string_view name, uint64_t revision,
                          absl::string_view content_digest) {
  return absl::StrCat("importgate-bundle-v1\n", name, "\n", revision, "\n",
                      content_digest);
}

absl::Status GenerateKeyPair(const std::string& private_pem_path,
                             const std::string& public_pem_path) {
  EVP_PKEY* raw = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  bool ok = ctx != nullptr && EVP_PKEY_keygen_init(ctx) == 1 &&
            EVP_PKEY_keygen(ctx, &raw) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) return absl::InternalError("Ed25519 key generation failed");
  std::shared_ptr<EVP_PKEY> key = Own(raw);
  // Owner-only from the start, and also when the file already existed.
  int fd = ::open(private_pem_path.c_str(),
                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FILE* priv = nullptr;
  if (fd >= 0 && ::fchmod(fd, 0600) == 0) priv = ::fdopen(fd, "w");
  if (priv == nullptr) {
    if (fd >= 0) ::close(fd);
    return absl::InternalError(absl::StrCat("cannot write ", private_pem_path));
  }
  ok = PEM_write_PrivateKey(priv, key.get(), nullptr, nullptr, 0, nullptr,
                            nullptr) == 1;
  ok = (std::fclose(priv) == 0) && ok;
  FILE* pub = std::fopen(public_pem_path.c_str(), "w");
  if (!ok || pub == nullptr) {
    if (pub != nullptr) std::fclose(pub);
    return absl::InternalError(absl::StrCat(
        "cannot write key files ", private_pem_path, ", ", public_pem_path));
  }
  ok = PEM_write_PUBKEY(pub, key.get()) == 1;
  ok = (std::fclose(pub) == 0) && ok;
  if (!ok)
    return absl::InternalError(absl::StrCat("cannot write ", public_pem_path));
  return absl::OkStatus();
}

absl::StatusOr<SigningKey> SigningKey::FromPemFile(const std::string& path) {
  auto key = ReadPem(path, /*is_private=*/true);
  if (!key.ok()) return key.status();
  SigningKey out;
  out.key_ = *std::move(key);
  out.key_id_ = KeyId(out.key_.get());
  return out;
}

absl::StatusOr<pv1::BundleSignature> SigningKey::Sign(
    absl::string_view name, uint64_t revision,
    absl::string_view content_digest) const {
  std::string message = SignedMessage(name, revision, content_digest);
  unsigned char sig[64];
  size_t sig_len = sizeof(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      ctx != nullptr &&
      EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_.get()) == 1 &&
      EVP_DigestSign(ctx, sig, &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return absl::InternalError("Ed25519 signing failed");
  pv1::BundleSignature out;
  out.set_algorithm(kAlgorithm);
  out.set_key_id(key_id_);
  out.set_name(std::string(name));
  out.set_revision(revision);
  out.set_content_digest(std::string(content_digest));
  out.set_signature(absl::Base64Escape(
      absl::string_view(reinterpret_cast<char*>(sig), sig_len)));
  return out;
}

absl::StatusOr<TrustedKeys> TrustedKeys::FromPemFiles(
    const std::vector<std::string>& paths) {
  TrustedKeys out;
  for (const std::string& path : paths) {
    auto key = ReadPem(path, /*is_private=*/false);
    if (!key.ok()) return key.status();
    std::string id = KeyId(key->get());
    out.keys_.push_back({*std::move(key), std::move(id)});
  }
  return out;
}

absl::Status TrustedKeys::Verify(const pv1::BundleSignatures& signatures,
                                 absl::string_view name, uint64_t revision,
                                 absl::string_view content_digest) const {
  if (signatures.signatures_size() == 0) {
    return absl::PermissionDeniedError("bundle is not signed");
  }
  std::string message = SignedMessage(name, revision, content_digest);
  std::string why = "no signature is by a trusted key";
  for (const pv1::BundleSignature& s : signatures.signatures()) {
    const Key* key = nullptr;
    for (const Key& k : keys_) {
      if (k.key_id == s.key_id()) key = &k;
    }
    if (key == nullptr || s.algorithm() != kAlgorithm) continue;
    if (s.name() != name || s.revision() != revision ||
        s.content_digest() != content_digest) {
      why = absl::StrCat("signature by ", s.key_id(),
                         " covers another bundle (", s.name(), " revision ",
                         s.revision(), " ", s.content_digest(), ")");
      continue;
    }
    std::string raw;
    if (!absl::Base64Unescape(s.signature(), &raw)) {
      why = "signature is not base64";
      continue;
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok =
        ctx != nullptr &&
        EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key->key.get()) ==
            1 &&
        EVP_DigestVerify(
            ctx, reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
            reinterpret_cast<const unsigned char*>(message.data()),
            message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (ok) return absl::OkStatus();
    why = absl::StrCat("signature by ", s.key_id(), " does not verify");
  }
  return absl::PermissionDeniedError(why);
}

}  // namespace importgate::bundle
