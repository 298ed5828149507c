// Runs a shell command, as a test calls promtool, buf or the importgate
// tool: its exit status (as pclose returns it: 0 on success) and its
// output, stdout and stderr together.
#ifndef IMPORTGATE_TESTS_TESTING_RUN_COMMAND_H_
#define IMPORTGATE_TESTS_TESTING_RUN_COMMAND_H_

#include <cstdio>
#include <string>
#include <utility>

namespace importgate::testing {

// `command` runs under /bin/sh with 2>&1 appended; -1 and no output when
// it cannot be started.
inline std::pair<int, std::string> RunCommand(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), p)) > 0;) {
    output.append(buffer, n);
  }
  return {pclose(p), output};
}

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_RUN_COMMAND_H_
