#include "server/common/thread_name.h"

#include <pthread.h>

#include <string>

namespace importgate {

void SetCurrentThreadName(absl::string_view name) {
  // 16 bytes with the terminating NUL (pthread_setname_np(3)).
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace importgate
