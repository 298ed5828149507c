// A Kubernetes ConfigMap (or Secret) volume, laid out exactly as the
// kubelet's AtomicWriter writes it (pkg/volume/util/atomic_writer.go):
//
//   <mount>/..2026_11_30_06_00_00.000000001/   the files of one revision
//   <mount>/..data -> ..2026_11_30_06_00_00.000000001
//   <mount>/manifest.textproto -> ..data/manifest.textproto
//   <mount>/rules -> ..data/rules               (one link per top-level name)
//
// An update writes a new timestamped directory, points "..data_tmp" at it,
// renames "..data_tmp" over "..data" (the atomic step), then adds links for
// new top-level names, removes links for names gone, and deletes the old
// directory. Header-only, for tests.
#ifndef IMPORTGATE_TESTS_TESTING_KUBELET_VOLUME_H_
#define IMPORTGATE_TESTS_TESTING_KUBELET_VOLUME_H_

#include <stdio.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "server/policy/bundle_source.h"

namespace importgate::testing {

class KubeletVolume {
 public:
  // `mount` is created if missing; it is the directory a pod would see.
  explicit KubeletVolume(std::string mount) : mount_(std::move(mount)) {
    std::filesystem::create_directories(mount_);
  }

  const std::string& mount() const { return mount_; }

  // Publishes `files` (paths relative to the mount) as the volume's new
  // content, the way the kubelet does on a ConfigMap update.
  void Publish(const std::vector<policy::SourceFile>& files) {
    namespace fs = std::filesystem;
    const fs::path mount(mount_);
    const std::string stamp =
        absl::StrCat("..2026_11_30_06_00_00.", ++generation_);
    std::set<std::string> top_level;
    for (const policy::SourceFile& f : files) {
      const fs::path path = mount / stamp / f.path;
      fs::create_directories(path.parent_path());
      std::ofstream(path, std::ios::binary) << f.content;
      top_level.insert(std::string(*absl::StrSplit(f.path, '/').begin()));
    }
    std::error_code ec;
    const fs::path data = mount / "..data";
    const fs::path old = fs::is_symlink(fs::symlink_status(data, ec))
                             ? fs::read_symlink(data)
                             : fs::path();
    const fs::path tmp = mount / "..data_tmp";
    fs::remove(tmp, ec);
    fs::create_symlink(stamp, tmp);
    ASSERT_EQ(::rename(tmp.c_str(), data.c_str()), 0) << "swap ..data";
    for (const std::string& name : top_level) {
      const fs::path link = mount / name;
      if (!fs::is_symlink(fs::symlink_status(link, ec))) {
        fs::create_symlink(fs::path("..data") / name, link);
      }
    }
    for (const std::string& name : top_level_) {
      if (top_level.count(name) == 0) fs::remove(mount / name, ec);
    }
    top_level_ = top_level;
    if (!old.empty()) fs::remove_all(mount / old, ec);
  }

 private:
  std::string mount_;
  int generation_ = 0;
  std::set<std::string> top_level_;
};

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_KUBELET_VOLUME_H_
