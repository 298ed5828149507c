// absl::Status -> grpc::Status. The canonical codes share their numbers.
#ifndef IMPORTGATE_SERVER_SERVICE_GRPC_STATUS_H_
#define IMPORTGATE_SERVER_SERVICE_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace importgate::service {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace importgate::service

#endif  // IMPORTGATE_SERVER_SERVICE_GRPC_STATUS_H_
