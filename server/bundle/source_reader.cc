#include "server/bundle/source_reader.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/bundle/artifact.h"

namespace importgate::bundle {
namespace {

namespace fs = std::filesystem;

absl::Status FsError(const fs::path& path, const std::error_code& ec) {
  return absl::InternalError(absl::StrCat(path.string(), ": ", ec.message()));
}

}  // namespace

std::string ResolveDataDirectory(const std::string& directory) {
  std::error_code ec;
  const fs::path data = fs::path(directory) / kDataLink;
  if (!fs::is_symlink(fs::symlink_status(data, ec)) ||
      !fs::is_directory(data, ec)) {
    return directory;
  }
  fs::path target = fs::canonical(data, ec);
  return ec ? directory : target.string();
}

absl::StatusOr<std::vector<policy::SourceFile>> ReadSourceDirectory(
    absl::string_view directory) {
  std::error_code ec;
  fs::file_status root_status = fs::status(std::string(directory), ec);
  if (ec || !fs::exists(root_status)) {
    return absl::NotFoundError(
        absl::StrCat("bundle directory ", directory, " does not exist"));
  }
  if (!fs::is_directory(root_status)) {
    return absl::InvalidArgumentError(
        absl::StrCat(directory, " is not a directory"));
  }
  // Resolve a symlinked root (and a Kubernetes volume's ..data) once, so
  // that a symlink swap during the read cannot mix two revisions' files.
  const fs::path root =
      fs::canonical(ResolveDataDirectory(std::string(directory)), ec);
  if (ec) return FsError(std::string(directory), ec);
  std::vector<policy::SourceFile> files;
  std::vector<std::string> misplaced;
  size_t total = 0;
  auto options = fs::directory_options::follow_directory_symlink;
  fs::recursive_directory_iterator it(root, options, ec), end;
  if (ec) return FsError(root, ec);
  for (; it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    std::string name = path.filename().string();
    const bool is_directory = it->is_directory(ec);
    if (absl::StartsWith(name, ".")) {
      if (is_directory) it.disable_recursion_pending();
      continue;
    }
    // Names inside the bundle are lexical: a rules/ symlink into another
    // directory (as a ConfigMap volume has) still holds rules/ files.
    const std::string relative = path.lexically_relative(root).generic_string();
    if (is_directory || !it->is_regular_file(ec)) {
      absl::Status layout = policy::CheckLayoutPath(relative, is_directory);
      if (!is_directory && layout.ok()) {
        layout = absl::InvalidArgumentError(
            absl::StrCat(relative, ": not a regular file (or a broken link)"));
      }
      if (!layout.ok()) {
        misplaced.emplace_back(layout.message());
        if (is_directory) it.disable_recursion_pending();
      }
      continue;
    }
    if (absl::Status layout = policy::CheckLayoutPath(relative, false);
        !layout.ok()) {
      misplaced.emplace_back(layout.message());
      continue;
    }
    uintmax_t size = it->file_size(ec);
    if (ec) return FsError(path, ec);
    if (size > kMaxSourceFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path.string(), ": ", size, " bytes exceeds the ",
                       kMaxSourceFileBytes, "-byte limit per file"));
    }
    total += size;
    if (total > kMaxSourceBundleBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          directory, ": bundle exceeds ", kMaxSourceBundleBytes, " bytes"));
    }
    auto content = ReadWholeFile(path.string(), kMaxSourceFileBytes);
    if (!content.ok()) return content.status();
    files.push_back({relative, *std::move(content)});
  }
  // A failed increment ends the loop as if the walk were complete: a
  // partial read must not pass for the whole bundle.
  if (ec) return FsError(root, ec);
  if (!misplaced.empty()) {
    std::sort(misplaced.begin(), misplaced.end());
    return absl::InvalidArgumentError(absl::StrJoin(misplaced, "\n"));
  }
  std::sort(files.begin(), files.end(),
            [](const policy::SourceFile& a, const policy::SourceFile& b) {
              return a.path < b.path;
            });
  return files;
}

std::string ContentDigest(absl::Span<const policy::SourceFile> files) {
  std::vector<const policy::SourceFile*> sorted;
  for (const auto& f : files) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->path < b->path; });
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  for (const auto* f : sorted) {
    std::string header = absl::StrCat(f->path, std::string(1, '\0'),
                                      f->content.size(), std::string(1, '\0'));
    EVP_DigestUpdate(ctx.get(), header.data(), header.size());
    EVP_DigestUpdate(ctx.get(), f->content.data(), f->content.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return absl::StrCat("sha256:", absl::BytesToHexString(absl::string_view(
                                     reinterpret_cast<const char*>(md), len)));
}

}  // namespace importgate::bundle
