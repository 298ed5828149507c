// Early-return helpers for absl::Status, in the style of cel-cpp's
// internal/status_macros.h. Abseil 20220623 has no ABSL_RETURN_IF_ERROR.
#ifndef IMPORTGATE_SERVER_COMMON_STATUS_MACROS_H_
#define IMPORTGATE_SERVER_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns `expr` from the enclosing function when it is not OK.
#define IMPORTGATE_RETURN_IF_ERROR(expr)                     \
  do {                                                       \
    ::absl::Status importgate_status_ = (expr);              \
    if (!importgate_status_.ok()) return importgate_status_; \
  } while (false)

#define IMPORTGATE_STATUS_CONCAT_INNER_(a, b) a##b
#define IMPORTGATE_STATUS_CONCAT_(a, b) IMPORTGATE_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when it is not
// OK, else moves its value into `lhs` (which may be a declaration).
#define IMPORTGATE_ASSIGN_OR_RETURN(lhs, rexpr) \
  IMPORTGATE_ASSIGN_OR_RETURN_IMPL_(            \
      IMPORTGATE_STATUS_CONCAT_(importgate_statusor_, __LINE__), lhs, rexpr)

#define IMPORTGATE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                      \
  if (!statusor.ok()) return std::move(statusor).status();      \
  lhs = std::move(statusor).value()

#endif  // IMPORTGATE_SERVER_COMMON_STATUS_MACROS_H_
