// ProcessMetrics: the standard process_* metrics of Prometheus client
// libraries (prometheus-cpp 1.0 has none), read from /proc/self at each
// scrape:
//
//   process_cpu_seconds_total        counter  user + system CPU time
//   process_resident_memory_bytes    gauge
//   process_virtual_memory_bytes     gauge
//   process_open_fds                 gauge
//   process_max_fds                  gauge    RLIMIT_NOFILE (soft)
//   process_start_time_seconds       gauge    since the Unix epoch
//
// Names, types and meaning follow the Prometheus documentation's
// "Process metrics" (the Go and Java clients export the same). A value that
// cannot be read is left out of the scrape rather than failing it.
//
// Thread safety: Collect() is safe from any thread.
#ifndef IMPORTGATE_SERVER_METRICS_PROCESS_METRICS_H_
#define IMPORTGATE_SERVER_METRICS_PROCESS_METRICS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace importgate::metrics {

// The fields of /proc/<pid>/stat that the metrics need.
struct ProcStat {
  double cpu_seconds = 0;     // utime + stime
  double start_seconds = 0;   // since boot
  double virtual_bytes = 0;   // vsize
  double resident_bytes = 0;  // rss pages * page size
};

// Parses the text of /proc/<pid>/stat (the command name may hold spaces and
// parentheses: fields are counted after its last ')'). `ticks_per_second`
// is sysconf(_SC_CLK_TCK); `page_bytes` the page size.
// INVALID_ARGUMENT naming the field when the text is not such a line.
absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text,
                                       double ticks_per_second,
                                       double page_bytes);

// The boot time ("btime" line) from the text of /proc/stat, in seconds
// since the Unix epoch; INVALID_ARGUMENT when it has none.
absl::StatusOr<double> ParseBootTime(absl::string_view text);

class ProcessMetrics final : public prometheus::Collectable {
 public:
  ProcessMetrics();

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const double ticks_per_second_;
  const double page_bytes_;
  // Read once: /proc/stat's btime does not change while the system runs.
  const std::optional<double> boot_time_;
};

}  // namespace importgate::metrics

#endif  // IMPORTGATE_SERVER_METRICS_PROCESS_METRICS_H_
