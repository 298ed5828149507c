#include "server/decisionlog/segment.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace importgate::decisionlog {
namespace {

constexpr absl::string_view kPrefix = "decisions-";
constexpr absl::string_view kSuffix = ".log";

void PutLittleEndian(uint64_t value, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  }
}

uint64_t GetLittleEndian(absl::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = bytes.size(); i > 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i - 1]);
  }
  return value;
}

std::string Header(const Chain& prev, uint64_t first_sequence) {
  std::string header(kSegmentMagic, 8);
  header.append(reinterpret_cast<const char*>(prev.data()), prev.size());
  PutLittleEndian(first_sequence, 8, &header);
  return header;
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  const int error = errno;
  std::string message =
      absl::StrCat(what, " ", path, ": ", std::strerror(error));
  return error == ENOSPC || error == EDQUOT || error == EFBIG
             ? absl::ResourceExhaustedError(message)
             : absl::InternalError(message);
}

}  // namespace

struct ChainHasher::Impl {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() {
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }
};

ChainHasher::ChainHasher() : impl_(new Impl) {}
ChainHasher::~ChainHasher() { delete impl_; }
ChainHasher::ChainHasher(ChainHasher&& other) noexcept
    : impl_(std::exchange(other.impl_, nullptr)) {}
ChainHasher& ChainHasher::operator=(ChainHasher&& other) noexcept {
  if (this != &other) {
    delete impl_;
    impl_ = std::exchange(other.impl_, nullptr);
  }
  return *this;
}

Chain ChainHasher::Next(const Chain& prev, absl::string_view entry) {
  Chain next;
  unsigned int size = 0;
  EVP_DigestInit_ex2(impl_->ctx, impl_->md, nullptr);
  EVP_DigestUpdate(impl_->ctx, prev.data(), prev.size());
  EVP_DigestUpdate(impl_->ctx, entry.data(), entry.size());
  EVP_DigestFinal_ex(impl_->ctx, next.data(), &size);
  return next;
}

Chain NextChain(const Chain& prev, absl::string_view entry) {
  return ChainHasher().Next(prev, entry);
}

std::string ChainHex(const Chain& chain) {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(chain.data()), chain.size()));
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open directory", dir);
  const int synced = fsync(fd);
  close(fd);
  if (synced != 0) return Errno("cannot fsync directory", dir);
  return absl::OkStatus();
}

std::string SegmentFileName(uint64_t first_sequence) {
  return absl::StrFormat("decisions-%020u.log", first_sequence);
}

absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> ListSegments(
    const std::string& dir) {
  std::error_code error;
  std::vector<std::pair<uint64_t, std::string>> segments;
  for (std::filesystem::directory_iterator it(dir, error), end;
       !error && it != end; it.increment(error)) {
    const std::string filename = it->path().filename().native();
    absl::string_view name = filename;
    uint64_t first = 0;
    if (name.size() == kPrefix.size() + 20 + kSuffix.size() &&
        absl::ConsumePrefix(&name, kPrefix) &&
        absl::ConsumeSuffix(&name, kSuffix) && absl::SimpleAtoi(name, &first)) {
      segments.emplace_back(first, it->path().string());
    }
  }
  if (error) {
    return error == std::errc::no_such_file_or_directory
               ? absl::NotFoundError(absl::StrCat(dir, ": no such directory"))
               : absl::InternalError(absl::StrCat(dir, ": ", error.message()));
  }
  std::sort(segments.begin(), segments.end());
  return segments;
}

FrameFound DecodeFrame(absl::string_view bytes, Frame* frame,
                       uint64_t* length) {
  *length = 0;
  if (bytes.size() < 4) return FrameFound::kCutShort;
  *length = GetLittleEndian(bytes.substr(0, 4));
  if (*length == 0 || *length > kMaxEntryBytes) return FrameFound::kBadLength;
  if (bytes.size() < FrameBytes(*length)) return FrameFound::kCutShort;
  frame->entry = bytes.substr(4, *length);
  std::memcpy(frame->chain.data(), bytes.data() + 4 + *length, 32);
  return FrameFound::kWhole;
}

absl::StatusOr<SegmentScan> ScanSegment(
    const std::string& path, const std::function<void(const Frame&)>& visit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  const std::string bytes = text.str();
  if (bytes.size() < kSegmentHeaderBytes ||
      bytes.compare(0, 8, kSegmentMagic) != 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": not a decision log segment (no ",
                     kSegmentHeaderBytes, "-byte IGDLOG1 header)"));
  }
  SegmentScan scan;
  std::memcpy(scan.header.prev_chain.data(), bytes.data() + 8, 32);
  scan.header.first_sequence =
      GetLittleEndian(absl::string_view(bytes).substr(40, 8));
  scan.last_chain = scan.header.prev_chain;
  ChainHasher hasher;
  uint64_t at = kSegmentHeaderBytes;
  while (at < bytes.size()) {
    const uint64_t left = bytes.size() - at;
    auto stop = [&](std::string problem) {
      scan.problem = std::move(problem);
      scan.problem_offset = at;
    };
    if (bytes.find_first_not_of('\0', at) == std::string::npos) {
      stop(absl::StrCat("the file ends in ", left, " zero bytes"));
      scan.torn_tail = true;
      break;
    }
    Frame frame;
    frame.offset = at;
    uint64_t length = 0;
    const FrameFound found =
        DecodeFrame(absl::string_view(bytes).substr(at), &frame, &length);
    if (found == FrameFound::kCutShort) {
      stop(left < 4
               ? absl::StrCat("a frame is cut short: ", left,
                              " bytes where a 4-byte length belongs")
               : absl::StrCat("a frame is cut short: it needs ",
                              FrameBytes(length), " bytes, ", left, " remain"));
      scan.torn_tail = true;
      break;
    }
    if (found == FrameFound::kBadLength) {
      stop(absl::StrCat("a frame's length ", length, " is not 1 to ",
                        kMaxEntryBytes));
      break;
    }
    if (hasher.Next(scan.last_chain, frame.entry) != frame.chain) {
      stop(
          "a frame's chain does not match its bytes and the chain before "
          "it");
      scan.problem_entry = std::string(frame.entry);
      break;
    }
    if (visit) visit(frame);
    scan.last_chain = frame.chain;
    ++scan.frames;
    at += FrameBytes(length);
  }
  scan.valid_bytes = scan.problem.has_value() ? scan.problem_offset : at;
  return scan;
}

SegmentWriter::SegmentWriter(int fd, std::string path, uint64_t size,
                             const Chain& chain)
    : fd_(fd), path_(std::move(path)), size_(size), chain_(chain) {}

SegmentWriter::SegmentWriter(SegmentWriter&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      size_(other.size_),
      chain_(other.chain_),
      pending_(std::move(other.pending_)),
      hasher_(std::move(other.hasher_)) {}

SegmentWriter& SegmentWriter::operator=(SegmentWriter&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    size_ = other.size_;
    chain_ = other.chain_;
    pending_ = std::move(other.pending_);
    hasher_ = std::move(other.hasher_);
  }
  return *this;
}

SegmentWriter::~SegmentWriter() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<SegmentWriter> SegmentWriter::Create(const std::string& dir,
                                                    const Chain& prev_chain,
                                                    uint64_t first_sequence) {
  const std::string path =
      absl::StrCat(dir, "/", SegmentFileName(first_sequence));
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("cannot create", path);
  SegmentWriter writer(fd, path, 0, prev_chain);
  writer.pending_ = Header(prev_chain, first_sequence);
  absl::Status synced = writer.Sync();
  if (synced.ok()) synced = SyncDirectory(dir);
  if (!synced.ok()) {
    unlink(path.c_str());
    return synced;
  }
  return writer;
}

absl::StatusOr<SegmentWriter> SegmentWriter::Reopen(const std::string& path,
                                                    uint64_t valid_bytes,
                                                    const Chain& last_chain) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  if (ftruncate(fd, static_cast<off_t>(valid_bytes)) != 0 ||
      lseek(fd, static_cast<off_t>(valid_bytes), SEEK_SET) < 0) {
    absl::Status status = Errno("cannot cut the torn tail of", path);
    close(fd);
    return status;
  }
  return SegmentWriter(fd, path, valid_bytes, last_chain);
}

absl::Status SegmentWriter::Add(absl::string_view entry) {
  return AddInPlace(entry.size(), [entry](std::string* out) {
    out->append(entry.data(), entry.size());
  });
}

absl::Status SegmentWriter::AddInPlace(
    size_t size, absl::FunctionRef<void(std::string*)> append) {
  if (size == 0 || size > kMaxEntryBytes) {
    return absl::InvalidArgumentError(absl::StrCat("decision log: an entry of ",
                                                   size, " bytes is not 1 to ",
                                                   kMaxEntryBytes));
  }
  const size_t frame = pending_.size();
  PutLittleEndian(size, 4, &pending_);
  append(&pending_);
  if (const size_t appended = pending_.size() - frame - 4; appended != size) {
    pending_.resize(frame);
    return absl::InternalError(absl::StrCat(
        "decision log: an entry said to be ", size, " bytes was ", appended));
  }
  chain_ = hasher_.Next(chain_, absl::string_view(pending_).substr(frame + 4));
  pending_.append(reinterpret_cast<const char*>(chain_.data()), chain_.size());
  return absl::OkStatus();
}

absl::Status SegmentWriter::Write() {
  size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t n =
        write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status status = Errno("cannot write", path_);
      // Leave no partial frame behind: cut back to what was whole.
      if (ftruncate(fd_, static_cast<off_t>(size_)) != 0 ||
          lseek(fd_, static_cast<off_t>(size_), SEEK_SET) < 0) {
        return absl::InternalError(
            absl::StrCat(status.message(), "; and cannot cut ", path_,
                         " back to ", size_, " bytes: ", std::strerror(errno)));
      }
      return status;
    }
    done += static_cast<size_t>(n);
  }
  size_ += pending_.size();
  pending_.clear();
  return absl::OkStatus();
}

absl::Status SegmentWriter::Sync() {
  if (absl::Status s = Write(); !s.ok()) return s;
  return SyncWritten();
}

absl::Status SegmentWriter::SyncWritten() {
  if (fsync(fd_) != 0) return Errno("cannot fsync", path_);
  return absl::OkStatus();
}

}  // namespace importgate::decisionlog
