#include "agentgate/resilience/error_class.h"

namespace agentgate {

std::string_view ErrorClassName(ErrorClass c) {
  switch (c) {
    case ErrorClass::kTransient: return "TRANSIENT";
    case ErrorClass::kRecoverable: return "RECOVERABLE";
    case ErrorClass::kPermanent: return "PERMANENT";
    case ErrorClass::kCritical: return "CRITICAL";
  }
  return "UNKNOWN";
}

ErrorClass ClassifyHttpStatus(int status) {
  if (status == 401 || status == 403) return ErrorClass::kCritical;
  if (status == 408) return ErrorClass::kTransient;
  if (status == 429) return ErrorClass::kRecoverable;
  if (status >= 500 && status != 501 && status != 505) return ErrorClass::kRecoverable;
  return ErrorClass::kPermanent;
}

ErrorClass ClassifyStatus(const Status& s) {
  switch (s.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded: return ErrorClass::kTransient;
    case StatusCode::kBadGateway:
    case StatusCode::kResourceExhausted: return ErrorClass::kRecoverable;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied: return ErrorClass::kCritical;
    default: return ErrorClass::kPermanent;
  }
}

}  // namespace agentgate
