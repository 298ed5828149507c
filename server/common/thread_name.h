// SetCurrentThreadName: names the calling thread for the operating system
// (Linux: /proc/PID/task/TID/comm), so that `top -H`, `perf` and a core
// dump tell importgate's own threads apart ("ig-dlog-write", "ig-kafka-sink",
// ...) from gRPC's and librdkafka's.
//
// Thread safety: names only the calling thread.
#ifndef IMPORTGATE_SERVER_COMMON_THREAD_NAME_H_
#define IMPORTGATE_SERVER_COMMON_THREAD_NAME_H_

#include "absl/strings/string_view.h"

namespace importgate {

// Sets the calling thread's name to `name`, cut to the 15 bytes Linux
// keeps. Best effort: a name the system refuses leaves the thread as it
// was (a name is a diagnostic aid, never worth failing for).
void SetCurrentThreadName(absl::string_view name);

}  // namespace importgate

#endif  // IMPORTGATE_SERVER_COMMON_THREAD_NAME_H_
