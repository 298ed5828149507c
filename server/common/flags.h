// Command-line helpers shared by the two binaries (importgate-server and
// the importgate tool), for what Abseil's flags do not do alone.
#ifndef IMPORTGATE_SERVER_COMMON_FLAGS_H_
#define IMPORTGATE_SERVER_COMMON_FLAGS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace importgate {

// Every value of the repeatable list flag `name` in argv, in order, in all
// of "--name=v", "--name v", "-name=v" and "-name v", each possibly a
// comma-separated list. Abseil keeps only a list flag's last occurrence;
// a key given twice must not be dropped silently.
std::vector<std::string> RepeatedFlagValues(int argc, char** argv,
                                            absl::string_view name);

// Makes --help (and --helpfull's neighbours) list the flags defined in the
// source files whose path ends with `main_file`, with `version`.
void ConfigureFlagUsage(absl::string_view main_file, absl::string_view version);

}  // namespace importgate

#endif  // IMPORTGATE_SERVER_COMMON_FLAGS_H_
