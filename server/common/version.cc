#include "server/common/version.h"

#ifndef IMPORTGATE_VERSION
#define IMPORTGATE_VERSION "dev"
#endif

namespace importgate {

const char* ImportgateVersion() { return IMPORTGATE_VERSION; }

}  // namespace importgate
