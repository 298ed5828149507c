#include "server/common/flags.h"

#include <string>

#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace importgate {

std::vector<std::string> RepeatedFlagValues(int argc, char** argv,
                                            absl::string_view name) {
  std::vector<std::string> values;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;  // the rest are positional
    if (!absl::ConsumePrefix(&arg, "--")) {
      if (!absl::ConsumePrefix(&arg, "-")) continue;
    }
    std::string value;
    if (absl::ConsumePrefix(&arg, name)) {
      if (absl::ConsumePrefix(&arg, "=")) {
        value = std::string(arg);
      } else if (arg.empty() && i + 1 < argc) {
        value = argv[++i];
      } else {
        continue;  // another flag with this prefix
      }
    } else {
      continue;
    }
    for (absl::string_view v : absl::StrSplit(value, ',', absl::SkipEmpty())) {
      values.emplace_back(v);
    }
  }
  return values;
}

void ConfigureFlagUsage(absl::string_view main_file,
                        absl::string_view version) {
  absl::FlagsUsageConfig config;
  const std::string file(main_file);
  config.contains_help_flags = [file](absl::string_view path) {
    return absl::EndsWith(path, file);
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  const std::string version_string = absl::StrCat(version, "\n");
  config.version_string = [version_string] { return version_string; };
  absl::SetFlagsUsageConfig(config);
}

}  // namespace importgate
