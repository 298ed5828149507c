// absl::Status -> grpc::Status. The canonical codes share their numbers.
#ifndef IMPORTGATE_SERVER_SERVICE_GRPC_STATUS_H_
#define IMPORTGATE_SERVER_SERVICE_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "server/common/utf8.h"

namespace importgate::service {

// The message goes out as grpc-message, which gRPC defines as UTF-8; one
// that is not (it should not happen: values are quoted through
// QuoteForMessage) is repaired rather than sent.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      IsValidUtf8(status.message())
                          ? std::string(status.message())
                          : ToValidUtf8(status.message()));
}

}  // namespace importgate::service

#endif  // IMPORTGATE_SERVER_SERVICE_GRPC_STATUS_H_
