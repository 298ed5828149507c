#include "server/bundle/artifact.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "server/bundle/source_reader.h"

namespace importgate::bundle {
namespace {

namespace pv1 = importgate::policy::v1;

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(md), len));
}

std::string PackArtifact(absl::Span<const policy::SourceFile> files,
                         absl::string_view name, uint64_t revision,
                         absl::Time created_at,
                         absl::string_view builder_version) {
  std::vector<const policy::SourceFile*> sorted;
  for (const auto& f : files) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->path < b->path; });
  pv1::BundleArtifact artifact;
  pv1::ArtifactManifest* m = artifact.mutable_manifest();
  m->set_format_version(1);
  m->set_name(std::string(name));
  m->set_revision(revision);
  *m->mutable_created_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(created_at));
  m->set_builder_version(std::string(builder_version));
  for (const auto* f : sorted) {
    pv1::ArtifactFileEntry* entry = m->add_files();
    entry->set_path(f->path);
    entry->set_size(f->content.size());
    entry->set_sha256(Sha256Hex(f->content));
    pv1::ArtifactFile* file = artifact.add_files();
    file->set_path(f->path);
    file->set_content(f->content);
  }
  m->set_content_digest(ContentDigest(files));
  return absl::StrCat(kArtifactMagic, artifact.SerializeAsString());
}

absl::StatusOr<UnpackedArtifact> UnpackArtifact(absl::string_view bytes) {
  if (bytes.substr(0, kArtifactMagic.size()) != kArtifactMagic) {
    return absl::InvalidArgumentError(
        "not an importgate bundle artifact (bad magic; truncated or another "
        "kind of file)");
  }
  bytes.remove_prefix(kArtifactMagic.size());
  pv1::BundleArtifact artifact;
  if (!artifact.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        "artifact does not parse (truncated or corrupt)");
  }
  const pv1::ArtifactManifest& m = artifact.manifest();
  if (m.format_version() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "manifest.format_version: ", m.format_version(), " is not supported"));
  }
  absl::flat_hash_map<std::string, const pv1::ArtifactFileEntry*> expected;
  for (const auto& entry : m.files()) expected[entry.path()] = &entry;
  if (expected.size() != static_cast<size_t>(artifact.files_size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest lists ", m.files_size(),
                     " files, the artifact holds ", artifact.files_size()));
  }
  absl::flat_hash_map<std::string, int> held;
  for (const auto& file : artifact.files()) {
    if (!expected.contains(file.path())) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.path(), ": not listed in the manifest"));
    }
    ++held[file.path()];
  }
  for (const auto& [path, entry] : expected) {
    if (!held.contains(path)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": listed in the manifest but missing"));
    }
  }
  UnpackedArtifact out;
  for (auto& file : *artifact.mutable_files()) {
    auto it = expected.find(file.path());
    if (it == expected.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.path(), ": held twice"));
    }
    if (it->second->size() != file.content().size() ||
        it->second->sha256() != Sha256Hex(file.content())) {
      return absl::InvalidArgumentError(absl::StrCat(
          file.path(), ": content does not match the manifest's SHA-256"));
    }
    expected.erase(it);  // each listed file exactly once
    out.files.push_back(
        {std::move(*file.mutable_path()), std::move(*file.mutable_content())});
  }
  // The content digest (what signatures sign) is computed here once, and
  // handed on (LoadBundle takes it rather than hash the files again).
  std::string digest = ContentDigest(out.files);
  if (digest != m.content_digest()) {
    return absl::InvalidArgumentError(
        absl::StrCat("content digest ", digest,
                     " does not match the manifest's ", m.content_digest()));
  }
  out.manifest = m;
  return out;
}

absl::StatusOr<pv1::ArtifactManifest> ReadArtifactManifest(
    const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(path, " does not exist"));
    }
    return absl::InternalError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  auto close_fd = absl::MakeCleanup([fd] { ::close(fd); });
  auto not_first = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": not an importgate bundle artifact with its manifest "
                     "first (bad magic, truncated, or another kind of file)"));
  };
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot stat ", path, ": ", std::strerror(errno)));
  }
  const uint64_t file_size = static_cast<uint64_t>(info.st_size);
  // The magic, then BundleArtifact field 1 (manifest), length-delimited:
  // tag 0x0a and the length as a varint (at most 10 bytes). Protobuf writes
  // fields in number order.
  char head[8 + 1 + 10];
  const ssize_t got = ::pread(fd, head, sizeof(head), 0);
  if (got < 0) {
    return absl::InternalError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  const absl::string_view bytes(head, static_cast<size_t>(got));
  if (bytes.size() < kArtifactMagic.size() + 2 ||
      bytes.substr(0, kArtifactMagic.size()) != kArtifactMagic ||
      bytes[kArtifactMagic.size()] != 0x0a) {
    return not_first();
  }
  uint64_t length = 0;
  size_t at = kArtifactMagic.size() + 1;
  for (int shift = 0;; shift += 7, ++at) {
    if (at >= bytes.size() || shift > 63) return not_first();
    const auto byte = static_cast<unsigned char>(bytes[at]);
    length |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  const uint64_t start = at + 1;
  if (length > file_size || start + length > file_size) return not_first();
  std::string manifest_bytes(length, '\0');
  for (uint64_t done = 0; done < length;) {
    const ssize_t n = ::pread(fd, manifest_bytes.data() + done, length - done,
                              static_cast<off_t>(start + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::InternalError(
          absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
    }
    if (n == 0) return not_first();  // cut short since the fstat
    done += static_cast<uint64_t>(n);
  }
  pv1::ArtifactManifest manifest;
  if (!manifest.ParseFromString(manifest_bytes)) return not_first();
  return manifest;
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path,
                                          size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(path, " does not exist"));
    }
    return Errno("cannot open", path);
  }
  std::string content;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = Errno("cannot read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
    if (content.size() > max_bytes) {
      ::close(fd);
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": size exceeds the limit of ", max_bytes, " bytes"));
    }
  }
  ::close(fd);
  return content;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view content) {
  std::string tmp = absl::StrCat(path, ".tmp.XXXXXX");
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Errno("cannot create", tmp);
  auto fail = [&](absl::string_view what) {
    absl::Status s = Errno(what, tmp);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) return fail("cannot chmod");
  if (::fsync(fd) != 0) return fail("cannot sync");
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) return fail("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename");
  // Make the rename itself durable.
  std::string dir = path.substr(
      0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  int dir_fd = ::open(dir.empty() ? "." : dir.c_str(),
                      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace importgate::bundle
