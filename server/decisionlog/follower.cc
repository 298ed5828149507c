#include "server/decisionlog/follower.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"

namespace importgate::decisionlog {
namespace {

// How much one read(2) takes in: many frames per system call, and at least
// the largest frame.
constexpr size_t kChunkBytes = FrameBytes(kMaxEntryBytes);

uint64_t GetLittleEndian(const char* bytes, int n) {
  uint64_t value = 0;
  for (int i = n; i > 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i - 1]);
  }
  return value;
}

// Whether `entry` (a LogEntry) begins with its sequence = 1 field holding
// `sequence`, as the writer puts it first in every entry: the cheap check
// of order for entries whose chains are not recomputed.
bool BeginsWithSequence(absl::string_view entry, uint64_t sequence) {
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(entry.data()),
      static_cast<int>(entry.size()));
  uint64_t value = 0;
  return in.ExpectTag(0x08) &&  // field 1, varint
         in.ReadVarint64(&value) && value == sequence;
}

}  // namespace

LogFollower::LogFollower(std::string dir, uint64_t from_sequence)
    : dir_(std::move(dir)), next_sequence_(from_sequence) {}

LogFollower::~LogFollower() { CloseSegment(); }

LogFollower::LogFollower(LogFollower&& other) noexcept
    : dir_(std::move(other.dir_)),
      next_sequence_(other.next_sequence_),
      last_(other.last_),
      chained_from_(other.chained_from_),
      fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      segment_first_(other.segment_first_),
      offset_(other.offset_),
      file_sequence_(other.file_sequence_),
      chain_(other.chain_),
      buffer_(std::move(other.buffer_)),
      buffered_begin_(std::exchange(other.buffered_begin_, 0)),
      buffered_end_(std::exchange(other.buffered_end_, 0)),
      hasher_(std::move(other.hasher_)) {}

LogFollower& LogFollower::operator=(LogFollower&& other) noexcept {
  if (this != &other) {
    CloseSegment();
    dir_ = std::move(other.dir_);
    next_sequence_ = other.next_sequence_;
    last_ = other.last_;
    chained_from_ = other.chained_from_;
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    segment_first_ = other.segment_first_;
    offset_ = other.offset_;
    file_sequence_ = other.file_sequence_;
    chain_ = other.chain_;
    buffer_ = std::move(other.buffer_);
    buffered_begin_ = std::exchange(other.buffered_begin_, 0);
    buffered_end_ = std::exchange(other.buffered_end_, 0);
    hasher_ = std::move(other.hasher_);
  }
  return *this;
}

void LogFollower::CloseSegment() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  buffered_begin_ = buffered_end_ = 0;
}

absl::StatusOr<bool> LogFollower::OpenSegment() {
  auto segments = ListSegments(dir_);
  if (!segments.ok()) {
    if (absl::IsNotFound(segments.status())) return false;  // not made yet
    return segments.status();
  }
  // The segment holding next_sequence_: the last one starting at or before
  // it, or, after the segment just read, the one starting at it.
  const std::pair<uint64_t, std::string>* found = nullptr;
  for (const auto& segment : *segments) {
    if (segment.first <= next_sequence_) found = &segment;
  }
  if (found == nullptr) {
    if (segments->empty()) return false;
    return absl::DataLossError(
        absl::StrCat(dir_, ": the log starts at sequence ",
                     segments->front().first, "; entries from ", next_sequence_,
                     " on were removed (retention) before they were read"));
  }
  const bool continuing = fd_ >= 0 || file_sequence_ != 0;
  const int fd = open(found->second.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", found->second, ": ",
                                            std::strerror(errno)));
  }
  char header[kSegmentHeaderBytes];
  const ssize_t n = pread(fd, header, sizeof(header), 0);
  if (n < static_cast<ssize_t>(sizeof(header))) {
    close(fd);
    return false;  // being created: its header comes first
  }
  if (std::memcmp(header, kSegmentMagic, 8) != 0 ||
      GetLittleEndian(header + 40, 8) != found->first) {
    close(fd);
    return absl::DataLossError(
        absl::StrCat(found->second, ": not a decision log segment header"));
  }
  Chain prev;
  std::memcpy(prev.data(), header + 8, 32);
  if (continuing && found->first == file_sequence_ && prev != chain_) {
    close(fd);
    return absl::DataLossError(
        absl::StrCat(found->second,
                     ": its header does not continue the chain of the "
                     "segment before it"));
  }
  CloseSegment();
  fd_ = fd;
  path_ = found->second;
  segment_first_ = found->first;
  offset_ = kSegmentHeaderBytes;
  file_sequence_ = found->first;
  chain_ = prev;
  return true;
}

absl::StatusOr<size_t> LogFollower::ReadFrames(
    const std::function<void(const Entry&)>& visit, size_t max_bytes,
    bool* at_end) {
  size_t handed = 0;
  size_t bytes = 0;
  *at_end = false;
  limited_ = false;
  while (bytes < max_bytes) {
    // Whole frames read by an earlier call (which stopped at last_ or at
    // max_bytes) are taken from the buffer; else a chunk is read at
    // offset_.
    bool fresh = false;
    if (buffered_begin_ == buffered_end_) {
      buffer_.resize(kChunkBytes);
      const ssize_t n = pread(fd_, buffer_.data(), buffer_.size(),
                              static_cast<off_t>(offset_));
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(
            absl::StrCat("cannot read ", path_, ": ", std::strerror(errno)));
      }
      buffered_begin_ = 0;
      buffered_end_ = static_cast<size_t>(n);
      fresh = true;
    }
    const absl::string_view chunk(buffer_.data() + buffered_begin_,
                                  buffered_end_ - buffered_begin_);
    size_t at = 0;
    bool stopped = false;  // at last_ or max_bytes, with the rest buffered
    while (at < chunk.size()) {
      Frame frame;
      uint64_t length = 0;
      const FrameFound found = DecodeFrame(chunk.substr(at), &frame, &length);
      if (found == FrameFound::kCutShort) break;  // not whole yet
      if (found == FrameFound::kBadLength) {
        // Zeros (a power loss's unwritten blocks) are a torn tail that the
        // writer cuts when it starts again: wait for it. Anything else is
        // damage.
        if (length == 0) break;
        return absl::DataLossError(absl::StrCat(
            path_, " at offset ", offset_ + at, ": a frame's length ", length,
            " is not 1 to ", kMaxEntryBytes));
      }
      if (file_sequence_ > last_) {  // not to be read yet
        limited_ = true;
        stopped = true;
        break;
      }
      Entry entry;
      entry.sequence = file_sequence_;
      entry.bytes = frame.entry;
      entry.frame = chunk.substr(at, FrameBytes(length));
      entry.prev_chain = chain_;
      entry.chain = frame.chain;
      if (!BeginsWithSequence(entry.bytes, file_sequence_)) {
        return absl::DataLossError(absl::StrCat(
            path_, " at offset ", offset_ + at, ": the entry there is not ",
            "sequence ", file_sequence_,
            " (an entry removed, repeated or moved, or a misframed write)"));
      }
      if (file_sequence_ < chained_from_ &&
          hasher_.Next(chain_, entry.bytes) != entry.chain) {
        return absl::DataLossError(absl::StrCat(
            path_, " at offset ", offset_ + at, " (sequence ", file_sequence_,
            "): a frame's chain does not match its bytes and the chain before "
            "it"));
      }
      chain_ = entry.chain;
      at += FrameBytes(length);
      ++file_sequence_;
      if (entry.sequence >= next_sequence_) {
        visit(entry);
        next_sequence_ = entry.sequence + 1;
        ++handed;
        bytes += length;
        if (bytes >= max_bytes) {
          stopped = true;
          break;
        }
      }
    }
    offset_ += at;
    buffered_begin_ += at;
    if (stopped) break;
    // What is left of the buffer is no whole frame: it is read again from
    // offset_ (a frame not yet whole is never taken from the buffer).
    buffered_begin_ = buffered_end_ = 0;
    if (fresh && at == 0) {
      *at_end = true;  // nothing whole left: at the end for now
      break;
    }
  }
  return handed;
}

absl::StatusOr<size_t> LogFollower::Poll(
    const std::function<void(const Entry&)>& visit, size_t max_bytes) {
  if (fd_ < 0) {
    auto opened = OpenSegment();
    if (!opened.ok()) return opened.status();
    if (!*opened) return 0;
  }
  size_t handed = 0;
  for (;;) {
    bool at_end = false;
    auto read = ReadFrames(visit, max_bytes, &at_end);
    if (!read.ok()) return read.status();
    handed += *read;
    if (!at_end || limited_) return handed;  // at max_bytes, or at last_
    // At the end of what is whole. The writer begins the next segment only
    // after it has written and fsynced this one: if the next exists, this
    // one is complete once read to its end.
    auto segments = ListSegments(dir_);
    if (!segments.ok()) return segments.status();
    // (A segment with no frame yet starts at file_sequence_ itself.)
    bool next_exists = false;
    for (const auto& segment : *segments) {
      next_exists = next_exists || (segment.first == file_sequence_ &&
                                    segment.first != segment_first_);
    }
    if (!next_exists) return handed;
    auto last = ReadFrames(visit, max_bytes, &at_end);
    if (!last.ok()) return last.status();
    handed += *last;
    if (!at_end || limited_) return handed;
    struct stat info;
    if (fstat(fd_, &info) != 0 ||
        static_cast<uint64_t>(info.st_size) != offset_) {
      return absl::DataLossError(absl::StrCat(
          path_, " at offset ", offset_,
          ": bytes that are not a whole frame, and a later segment follows"));
    }
    auto opened = OpenSegment();
    if (!opened.ok()) return opened.status();
    if (!*opened || handed > 0) return handed;
  }
}

}  // namespace importgate::decisionlog
