// The version of this build of importgate, e.g. "0.1.0".
#ifndef IMPORTGATE_SERVER_COMMON_VERSION_H_
#define IMPORTGATE_SERVER_COMMON_VERSION_H_

namespace importgate {

const char* ImportgateVersion();

}  // namespace importgate

#endif  // IMPORTGATE_SERVER_COMMON_VERSION_H_
