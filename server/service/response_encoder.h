// Wire encoding of the decision API's responses, written straight from the
// evaluator's Verdict into one buffer.
//
// Why not build the generated messages and serialize them: with protobuf
// 3.21 every string field longer than 15 bytes is a separate heap string,
// even on an arena, and an answer carries several (rule id, reason code,
// message, legal basis, digest, matched rule ids). Under a batch load,
// malloc, free and the arena's string destructors were a quarter of all
// CPU time (perf; docs/performance.md). Here the size of an answer is
// computed first, and then it is written into one growing buffer.
//
// The bytes are exactly what SerializeAsString() of the equivalent
// message gives (fields in number order, proto3 defaults omitted).
// tests/service/response_encoder_test.cc checks that against
// eval::FillDecision for every kind of answer, and fails when a field is
// added to one of these messages until this encoder writes it.
#ifndef IMPORTGATE_SERVER_SERVICE_RESPONSE_ENCODER_H_
#define IMPORTGATE_SERVER_SERVICE_RESPONSE_ENCODER_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/compiler/snapshot.h"
#include "server/eval/evaluator.h"

namespace importgate::service {

// A growing byte buffer that answers are written into, handed to gRPC
// without a copy (Release).
class WireBuffer {
 public:
  explicit WireBuffer(size_t capacity);
  ~WireBuffer();
  WireBuffer(const WireBuffer&) = delete;
  WireBuffer& operator=(const WireBuffer&) = delete;

  // Appends exactly `n` bytes, written by `write(char* at)`, which returns
  // the end of what it wrote. Any other count is a bug in the encoder's
  // sizing: the process aborts rather than answer with corrupt bytes.
  template <typename Writer>
  void Write(size_t n, Writer write) {
    char* at = Reserve(n);
    char* end = write(at);
    if (end != at + n) SizeMismatch(n, static_cast<size_t>(end - at));
    size_ += n;
  }

  absl::string_view view() const { return absl::string_view(data_, size_); }

  // The bytes, now owned by the caller (free them with std::free).
  struct Bytes {
    char* data;
    size_t size;
  };
  Bytes Release();

 private:
  char* Reserve(size_t n);  // room for `n` more bytes
  [[noreturn]] static void SizeMismatch(size_t sized, size_t written);

  char* data_;
  size_t size_ = 0;
  size_t capacity_;
};

// The fields of a BundleRef.
struct BundleRefFields {
  absl::string_view name;
  uint64_t revision = 0;
  absl::string_view digest;
};

// Where an appended IsImportAllowedResponse's decision.message and
// decision.legal_basis fields lie: byte offsets from its first byte, end
// exclusive (begin == end when it has neither). The decision log leaves
// them out of its records by these offsets (decisionlog::RuleTextSpan)
// instead of parsing the answer again.
struct ResponseLayout {
  size_t rule_text_begin = 0;
  size_t rule_text_end = 0;
};

// Appends an encoded IsImportAllowedResponse: the decision `verdict` of
// `snapshot`, the bundle that decided, the echoed sku and the decision log's
// id for it (empty: none). Returns where its rule text lies.
ResponseLayout AppendResponse(const compiler::PolicySnapshot& snapshot,
                              const eval::Verdict& verdict,
                              const BundleRefFields& bundle,
                              absl::string_view sku,
                              absl::string_view decision_id, WireBuffer* out);

// Appends one element of BatchIsImportAllowedResponse.results holding a
// response, as AppendResponse would encode it.
void AppendBatchResponse(const compiler::PolicySnapshot& snapshot,
                         const eval::Verdict& verdict,
                         const BundleRefFields& bundle, absl::string_view sku,
                         absl::string_view decision_id, WireBuffer* out);

// Appends one element of BatchIsImportAllowedResponse.results holding an
// ItemError for `status` (not OK) with the decision log's id for it
// (empty: none).
void AppendBatchError(const absl::Status& status, absl::string_view decision_id,
                      WireBuffer* out);

// Appends BatchIsImportAllowedResponse.bundle.
void AppendBatchBundle(const BundleRefFields& bundle, WireBuffer* out);

}  // namespace importgate::service

#endif  // IMPORTGATE_SERVER_SERVICE_RESPONSE_ENCODER_H_
