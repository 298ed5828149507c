#include "server/metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace importgate::metrics {
namespace {

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<double> BootTime() {
  std::optional<std::string> text = ReadSmallFile("/proc/stat");
  if (!text.has_value()) return std::nullopt;
  absl::StatusOr<double> boot = ParseBootTime(*text);
  if (!boot.ok()) return std::nullopt;
  return *boot;
}

prometheus::MetricFamily One(std::string name, std::string help,
                             prometheus::MetricType type, double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return {std::move(name), std::move(help), type, {std::move(metric)}};
}

}  // namespace

absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text,
                                       double ticks_per_second,
                                       double page_bytes) {
  const size_t close = text.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "/proc stat: no ')' after the command name");
  }
  // After the name: field 3 (state) onwards.
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(text.substr(close + 1)), ' ',
                     absl::SkipEmpty());
  // Index in `fields` of stat field N (1-based, see proc(5)): N - 3.
  auto field = [&](int n, absl::string_view name) -> absl::StatusOr<double> {
    uint64_t value = 0;
    const size_t i = static_cast<size_t>(n - 3);
    if (i >= fields.size() || !absl::SimpleAtoi(fields[i], &value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "/proc stat: field ", n, " (", name, ") is missing or not a number"));
    }
    return static_cast<double>(value);
  };
  ProcStat stat;
  absl::StatusOr<double> utime = field(14, "utime");
  absl::StatusOr<double> stime = field(15, "stime");
  absl::StatusOr<double> start = field(22, "starttime");
  absl::StatusOr<double> vsize = field(23, "vsize");
  absl::StatusOr<double> rss = field(24, "rss");
  for (const auto* v : {&utime, &stime, &start, &vsize, &rss}) {
    if (!v->ok()) return v->status();
  }
  stat.cpu_seconds = (*utime + *stime) / ticks_per_second;
  stat.start_seconds = *start / ticks_per_second;
  stat.virtual_bytes = *vsize;
  stat.resident_bytes = *rss * page_bytes;
  return stat;
}

absl::StatusOr<double> ParseBootTime(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    uint64_t seconds = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &seconds)) break;
    return static_cast<double>(seconds);
  }
  return absl::InvalidArgumentError("/proc/stat: no valid btime line");
}

ProcessMetrics::ProcessMetrics()
    : ticks_per_second_(static_cast<double>(sysconf(_SC_CLK_TCK))),
      page_bytes_(static_cast<double>(sysconf(_SC_PAGESIZE))),
      boot_time_(BootTime()) {}

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  std::optional<std::string> text = ReadSmallFile("/proc/self/stat");
  absl::StatusOr<ProcStat> stat =
      text.has_value()
          ? ParseProcStat(*text, ticks_per_second_, page_bytes_)
          : absl::StatusOr<ProcStat>(absl::NotFoundError("no stat"));
  if (stat.ok()) {
    families.push_back(One("process_cpu_seconds_total",
                           "Total user and system CPU time spent in seconds.",
                           MetricType::Counter, stat->cpu_seconds));
    families.push_back(One("process_resident_memory_bytes",
                           "Resident memory size in bytes.", MetricType::Gauge,
                           stat->resident_bytes));
    families.push_back(One("process_virtual_memory_bytes",
                           "Virtual memory size in bytes.", MetricType::Gauge,
                           stat->virtual_bytes));
    if (boot_time_.has_value()) {
      families.push_back(
          One("process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.",
              MetricType::Gauge, *boot_time_ + stat->start_seconds));
    }
  }
  std::error_code error;
  size_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end;
       !error && it != end; it.increment(error)) {
    ++fds;
  }
  if (!error) {
    // Not the listing's own descriptor.
    if (fds > 0) --fds;
    families.push_back(One("process_open_fds",
                           "Number of open file descriptors.",
                           MetricType::Gauge, static_cast<double>(fds)));
  }
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(
        One("process_max_fds", "Maximum number of open file descriptors.",
            MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  return families;
}

}  // namespace importgate::metrics
