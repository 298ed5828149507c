// A child process (importgate-server, the importgate tool, or a real
// server a test runs against: nginx, Prometheus) with its stdout and
// stderr captured. Header-only; an including test that defines
// IMPORTGATE_SERVER_BINARY gets it as the default binary, and one that
// defines IMPORTGATE_SOURCE_DIR runs children there.
#ifndef IMPORTGATE_TESTS_TESTING_SERVER_PROCESS_H_
#define IMPORTGATE_TESTS_TESTING_SERVER_PROCESS_H_

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace importgate::testing {

// A loopback TCP port that was free a moment ago, for a server that
// cannot pick its own.
inline int UnusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), size);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

// Whether something accepts TCP connections on loopback `port` within
// `timeout`.
inline bool WaitUntilListening(int port,
                               absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool up = connect(fd, reinterpret_cast<sockaddr*>(&address),
                            sizeof(address)) == 0;
    close(fd);
    if (up) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

// One child process with its stdout and stderr captured.
class ServerProcess {
 public:
  // Runs `binary` (default: the importgate-server under test) with `args`
  // (in the repository root, when the test knows it).
#ifdef IMPORTGATE_SERVER_BINARY
  explicit ServerProcess(std::vector<std::string> args,
                         std::string binary = IMPORTGATE_SERVER_BINARY) {
#else
  ServerProcess(std::vector<std::string> args, std::string binary) {
#endif
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDERR_FILENO);
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      argv.push_back(binary.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
#ifdef IMPORTGATE_SOURCE_DIR
      if (chdir(IMPORTGATE_SOURCE_DIR) != 0) _exit(126);
#endif
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    stderr_fd_ = fds[0];
  }

  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(stderr_fd_);
  }

  // Reads stderr until a line contains `needle` (returned) or the process
  // ends or `timeout` passes (returns "").
  std::string WaitForLine(absl::string_view needle,
                          absl::Duration timeout = absl::Seconds(30)) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      size_t newline;
      while ((newline = output_.find('\n', scanned_)) != std::string::npos) {
        std::string line = output_.substr(scanned_, newline - scanned_);
        scanned_ = newline + 1;
        if (absl::StrContains(line, needle)) return line;
      }
      pollfd p{stderr_fd_, POLLIN, 0};
      int ms =
          static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (poll(&p, 1, ms < 0 ? 0 : ms) <= 0) break;
      char buf[4096];
      ssize_t n = read(stderr_fd_, buf, sizeof(buf));
      if (n <= 0) break;
      output_.append(buf, static_cast<size_t>(n));
    }
    return "";
  }

  // Sends `signal_number` and returns at once.
  void Signal(int signal_number) { kill(pid_, signal_number); }
  pid_t pid() const { return pid_; }

  // Sends `signal_number` (if > 0), waits, and returns the exit status.
  int Stop(int signal_number) {
    if (signal_number > 0) kill(pid_, signal_number);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    WaitForLine("\x01", absl::Seconds(1));  // drain what is left
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::string output_;
  size_t scanned_ = 0;
};

#ifdef IMPORTGATE_TOOL_BINARY
// Runs the importgate tool to its end: its exit status, and its output
// (stdout and stderr) in `*output` when given.
inline int RunTool(std::vector<std::string> args,
                   std::string* output = nullptr) {
  ServerProcess tool(std::move(args), IMPORTGATE_TOOL_BINARY);
  const int status = tool.Stop(0);
  if (output != nullptr) *output = tool.output();
  return status;
}
#endif

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_SERVER_PROCESS_H_
