// Ed25519 signatures over bundles (OpenSSL EVP). A signature covers the
// bundle's name, revision and content digest, so neither the content nor the
// revision of a signed bundle can be changed without the key.
//
// Keys are PEM files: a private key ("BEGIN PRIVATE KEY") to sign, public
// keys ("BEGIN PUBLIC KEY") to verify. `importgate key generate` writes a
// pair; `openssl genpkey -algorithm ed25519` works too.
//
// Thread safety: SigningKey and TrustedKeys are immutable after creation
// and safe to use from several threads.
#ifndef IMPORTGATE_SERVER_BUNDLE_SIGNING_H_
#define IMPORTGATE_SERVER_BUNDLE_SIGNING_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "importgate/policy/v1/artifact.pb.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace importgate::bundle {

// The bytes a signature covers.
std::string SignedMessage(absl::string_view name, uint64_t revision,
                          absl::string_view content_digest);

// Writes a new Ed25519 key pair as PEM (the private key with mode 0600).
absl::Status GenerateKeyPair(const std::string& private_pem_path,
                             const std::string& public_pem_path);

class SigningKey {
 public:
  // Reads an Ed25519 private key. INVALID_ARGUMENT when the file is not
  // one; NOT_FOUND when it does not exist.
  static absl::StatusOr<SigningKey> FromPemFile(const std::string& path);

  // "sha256:<hex>" of the raw public key.
  const std::string& key_id() const { return key_id_; }

  // Signs a bundle; returns the signature record for a .sig file.
  absl::StatusOr<importgate::policy::v1::BundleSignature> Sign(
      absl::string_view name, uint64_t revision,
      absl::string_view content_digest) const;

 private:
  std::shared_ptr<EVP_PKEY> key_;
  std::string key_id_;
};

class TrustedKeys {
 public:
  // Reads Ed25519 public keys (several, for rotation).
  static absl::StatusOr<TrustedKeys> FromPemFiles(
      const std::vector<std::string>& paths);

  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }

  // OK when one signature in `signatures` is by a trusted key, covers
  // exactly (name, revision, content_digest) and verifies. Otherwise
  // PERMISSION_DENIED saying why (no signature, unknown key, mismatch,
  // bad signature).
  absl::Status Verify(
      const importgate::policy::v1::BundleSignatures& signatures,
      absl::string_view name, uint64_t revision,
      absl::string_view content_digest) const;

 private:
  struct Key {
    std::shared_ptr<EVP_PKEY> key;
    std::string key_id;
  };
  std::vector<Key> keys_;
};

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_SIGNING_H_
