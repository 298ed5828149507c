#include "server/metrics/process_metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/metrics/families.h"

namespace importgate::metrics {
namespace {

using ::importgate::metrics::testing::Value;
using ::testing::HasSubstr;

// proc(5): pid (comm) state ppid ... utime(14) stime(15) ... starttime(22)
// vsize(23) rss(24) ...
std::string StatLine(const std::string& comm) {
  return "4242 (" + comm +
         ") S 1 4242 4242 0 -1 4194560 1000 0 0 0 "
         "250 150 0 0 20 0 9 0 12345 104857600 2560 "
         "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n";
}

TEST(ParseProcStatTest, ReadsTheFieldsAfterTheCommandName) {
  // Command names may hold spaces and parentheses, even ") S 1 (".
  for (const std::string comm :
       {"importgate-serv", "a b", "x) S 1 (y", "))", ""}) {
    auto stat = ParseProcStat(StatLine(comm), 100, 4096);
    ASSERT_TRUE(stat.ok()) << comm << ": " << stat.status();
    EXPECT_DOUBLE_EQ(stat->cpu_seconds, 4.0) << comm;  // (250 + 150) / 100
    EXPECT_DOUBLE_EQ(stat->start_seconds, 123.45) << comm;
    EXPECT_DOUBLE_EQ(stat->virtual_bytes, 104857600) << comm;
    EXPECT_DOUBLE_EQ(stat->resident_bytes, 2560.0 * 4096) << comm;
  }
}

TEST(ParseProcStatTest, NamesTheFieldItCannotRead) {
  struct Case {
    std::string text;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {"", "no ')'"},
           {"4242 (x) S 1 2 3", "field 14 (utime)"},
           {"4242 (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 25x 150",
            "field 14 (utime)"},
           {"4242 (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 -1",
            "field 15 (stime)"},
           {"4242 (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 "
            "9 0 12345 104857600",
            "field 24 (rss)"},
       }) {
    auto stat = ParseProcStat(c.text, 100, 4096);
    ASSERT_FALSE(stat.ok()) << c.text;
    EXPECT_EQ(stat.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(stat.status().message(), HasSubstr(c.error)) << c.text;
  }
}

TEST(ParseBootTimeTest, FindsTheBtimeLine) {
  EXPECT_EQ(*ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocs 9\n"),
            1700000000);
  EXPECT_FALSE(ParseBootTime("cpu 1 2 3\n").ok());
  EXPECT_FALSE(ParseBootTime("btime soon\n").ok());
  EXPECT_FALSE(ParseBootTime("xbtime 5\n").ok());
}

TEST(ProcessMetricsTest, DescribesThisProcess) {
  ProcessMetrics metrics;
  auto families = metrics.Collect();
  const double now = static_cast<double>(std::time(nullptr));
  ASSERT_TRUE(Value(families, "process_start_time_seconds").has_value());
  EXPECT_LE(*Value(families, "process_start_time_seconds"), now + 1);
  EXPECT_GT(*Value(families, "process_start_time_seconds"), now - 3600);
  EXPECT_GT(*Value(families, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(*Value(families, "process_virtual_memory_bytes"),
            *Value(families, "process_resident_memory_bytes"));
  EXPECT_GE(*Value(families, "process_cpu_seconds_total"), 0);
  EXPECT_GT(*Value(families, "process_max_fds"), 0);

  const double fds = *Value(families, "process_open_fds");
  EXPECT_GE(fds, 3);  // stdin, stdout, stderr
  std::vector<int> opened;
  for (int i = 0; i < 5; ++i) opened.push_back(open("/dev/null", O_RDONLY));
  EXPECT_EQ(*Value(metrics.Collect(), "process_open_fds"), fds + 5);
  for (int fd : opened) close(fd);
  EXPECT_EQ(*Value(metrics.Collect(), "process_open_fds"), fds);

  // CPU time grows with work.
  const double cpu = *Value(families, "process_cpu_seconds_total");
  volatile double sink = 0;
  const std::clock_t until = std::clock() + CLOCKS_PER_SEC / 5;
  while (std::clock() < until) sink = sink + 1;
  EXPECT_GT(*Value(metrics.Collect(), "process_cpu_seconds_total"), cpu);
}

}  // namespace
}  // namespace importgate::metrics
