// The decision log's segment files: how entries are framed and chained on
// disk, and how a segment is read back.
//
// A directory holds segments named decisions-<first sequence, 20 digits>.log.
// Each segment is
//   header:  "IGDLOG1\n" (8 bytes), the chain value before its first entry
//            (32 bytes; zeros for the directory's first segment), its first
//            sequence number (8 bytes, little-endian)
//   frames:  length L (4 bytes, little-endian, 1 to kMaxEntryBytes),
//            L bytes of a serialized importgate.decisionlog.v1.LogEntry,
//            chain (32 bytes) = SHA-256(previous chain || those L bytes)
// so every frame's chain covers every byte logged before it. Sequence
// numbers run 1, 2, 3, ... across the segments without gaps.
//
// Thread safety: the functions here are thread-compatible; a
// SegmentWriter is used by one thread.
#ifndef IMPORTGATE_SERVER_DECISIONLOG_SEGMENT_H_
#define IMPORTGATE_SERVER_DECISIONLOG_SEGMENT_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace importgate::decisionlog {

using Chain = std::array<unsigned char, 32>;

inline constexpr char kSegmentMagic[] = "IGDLOG1\n";
inline constexpr size_t kSegmentHeaderBytes = 8 + 32 + 8;
inline constexpr size_t kFrameOverheadBytes = 4 + 32;
// The largest entry: a decision record holds one request (at most 24 KiB)
// and one answer (at most 12 KiB); this leaves room to spare.
inline constexpr uint32_t kMaxEntryBytes = 1 << 20;

// SHA-256(prev || entry).
Chain NextChain(const Chain& prev, absl::string_view entry);

// NextChain for many entries: the digest is fetched from OpenSSL and its
// context made once (OpenSSL 3 looks the algorithm up on every
// EVP_DigestInit_ex(EVP_sha256()), which costs as much as hashing a
// record). Thread-compatible; movable.
class ChainHasher {
 public:
  ChainHasher();
  ~ChainHasher();
  ChainHasher(ChainHasher&& other) noexcept;
  ChainHasher& operator=(ChainHasher&& other) noexcept;
  Chain Next(const Chain& prev, absl::string_view entry);

 private:
  struct Impl;
  Impl* impl_;
};
// Lower-case hex, for messages.
std::string ChainHex(const Chain& chain);

// fsyncs directory `dir`, so that a segment created or removed in it stays
// so after a power loss. INTERNAL on failure.
absl::Status SyncDirectory(const std::string& dir);

// "decisions-00000000000000000001.log" for first sequence 1.
std::string SegmentFileName(uint64_t first_sequence);
// The segment files of `dir` in sequence order (full paths), and each
// one's first sequence as its name says. Other files are ignored.
// NOT_FOUND when `dir` does not exist.
absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> ListSegments(
    const std::string& dir);

struct SegmentHeader {
  Chain prev_chain{};
  uint64_t first_sequence = 0;
};

// One frame as read: where it starts, its entry bytes and stored chain.
struct Frame {
  uint64_t offset = 0;
  absl::string_view entry;
  Chain chain{};
};

// What DecodeFrame found at the start of some bytes.
enum class FrameFound {
  kWhole,      // a whole frame: *frame is set (its chain not yet checked)
  kCutShort,   // the bytes end inside the frame (or its 4-byte length)
  kBadLength,  // its length is 0 or over kMaxEntryBytes
};
// Decodes the frame at the start of `bytes` (frame->entry views into
// them); *length is the length the frame gives (0 when cut short before
// it). The caller checks the chain. The one reader of the frame layout:
// ScanSegment, LogFollower and ForEachShippedEntry (kafka_sink.h) all use
// it.
FrameFound DecodeFrame(absl::string_view bytes, Frame* frame, uint64_t* length);
// The bytes a frame of an `entry_bytes`-byte entry takes.
constexpr uint64_t FrameBytes(uint64_t entry_bytes) {
  return 4 + entry_bytes + 32;
}

// What ScanSegment found. `valid_bytes` is the length of the longest
// prefix made of the header and whole frames whose chains verify; when it
// is shorter than the file, `problem` says what is at that offset.
struct SegmentScan {
  SegmentHeader header;
  uint64_t valid_bytes = 0;
  uint64_t frames = 0;
  Chain last_chain{};  // after the last valid frame (header's prev if none)
  std::optional<std::string> problem;
  uint64_t problem_offset = 0;
  // The entry bytes of a whole frame whose chain failed (empty otherwise),
  // so that a caller can say which record it holds.
  std::string problem_entry;
  // The problem is what an interrupted append leaves, and nothing else:
  // the file ends inside a frame (its length, entry or chain cut short), or
  // with zero bytes only (blocks a power loss left unwritten). A torn tail
  // may be cut off; any other problem is damage to be reported.
  bool torn_tail = false;
};

// Reads the segment at `path`, verifying each frame's chain from the
// header's prev_chain, and calls `visit` with each valid frame in order
// (may be null). A frame that is cut short, too long, or whose chain does
// not verify ends the scan with `problem` set; that is a result, not an
// error. Errors: NOT_FOUND or INTERNAL when the file cannot be read;
// DATA_LOSS when the header itself is missing or wrong.
absl::StatusOr<SegmentScan> ScanSegment(
    const std::string& path, const std::function<void(const Frame&)>& visit);

// Appends frames to one segment file.
class SegmentWriter {
 public:
  // Creates `dir`/SegmentFileName(first_sequence) with its header.
  static absl::StatusOr<SegmentWriter> Create(const std::string& dir,
                                              const Chain& prev_chain,
                                              uint64_t first_sequence);
  // Opens an existing segment to append after its first `valid_bytes`
  // (cutting off anything after them), continuing from `last_chain`.
  static absl::StatusOr<SegmentWriter> Reopen(const std::string& path,
                                              uint64_t valid_bytes,
                                              const Chain& last_chain);
  SegmentWriter(SegmentWriter&& other) noexcept;
  SegmentWriter& operator=(SegmentWriter&& other) noexcept;
  ~SegmentWriter();

  // Frames `entry` into the pending buffer and advances the chain.
  // INVALID_ARGUMENT, and nothing added, when it is empty or over
  // kMaxEntryBytes (ScanSegment would refuse it).
  absl::Status Add(absl::string_view entry);
  // Add() for an entry of `size` bytes that `append` appends to the
  // string it is given: the pending buffer itself, so that the entry is
  // encoded in place and hashed where it lies, not built elsewhere and
  // copied in (the decision log's writer frames every record this way).
  // The same errors, before `append` is called; INTERNAL, and what it
  // appended taken back out, when that was not `size` bytes.
  absl::Status AddInPlace(size_t size,
                          absl::FunctionRef<void(std::string*)> append);
  // The bytes a reader finds in the file once the pending frames are
  // written (the header's included).
  bool empty() const { return size_ + pending_.size() <= kSegmentHeaderBytes; }
  // Writes the pending buffer. On failure (e.g. ENOSPC) the file is cut
  // back to what it held before and the pending frames are kept, with the
  // chain after them, for the next Write(): a segment never holds a
  // partial frame the writer made. RESOURCE_EXHAUSTED for a full disk,
  // INTERNAL otherwise.
  absl::Status Write();
  // Write(), then fsync.
  absl::Status Sync();
  // fsyncs what Write() has written, leaving the pending frames pending.
  absl::Status SyncWritten();

  uint64_t size() const { return size_; }  // bytes on disk
  const Chain& chain() const { return chain_; }
  const std::string& path() const { return path_; }
  size_t pending_bytes() const { return pending_.size(); }

 private:
  SegmentWriter(int fd, std::string path, uint64_t size, const Chain& chain);
  int fd_ = -1;
  std::string path_;
  uint64_t size_ = 0;
  Chain chain_{};  // after every frame added, written or not
  std::string pending_;
  ChainHasher hasher_;
};

}  // namespace importgate::decisionlog

#endif  // IMPORTGATE_SERVER_DECISIONLOG_SEGMENT_H_
