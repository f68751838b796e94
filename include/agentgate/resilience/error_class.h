// Error classification: what a failed call says about retrying it.
//
//   TRANSIENT    the exchange broke on the way (connection refused or reset,
//                timeout): retry at once, then back off.
//   RECOVERABLE  the dependency answered it is overloaded or failing (429,
//                500, 502, 503, 504): retry with backoff.
//   PERMANENT    the request itself is wrong (400, 404, 422, other 4xx):
//                never retry; it would fail the same way.
//   CRITICAL     our credentials are refused (401, 403): never retry; log at
//                error level and raise an alert, an operator must act.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "agentgate/core/status.h"

namespace agentgate {

enum class ErrorClass : uint8_t {
  kTransient,    // the exchange broke: retry at once, then back off
  kRecoverable,  // the dependency is struggling: retry with backoff
  kPermanent,    // the request is wrong: never retry
  kCritical,     // credentials refused: never retry, alert
};

// ErrorClassName: "TRANSIENT", "RECOVERABLE", "PERMANENT", "CRITICAL".
std::string_view ErrorClassName(ErrorClass c);

// ClassifyHttpStatus: the class of an HTTP error answer (status >= 400).
// 408 is TRANSIENT; 429 and 5xx other than 501 and 505 RECOVERABLE; 401 and
// 403 CRITICAL; every other 4xx, 501 and 505 PERMANENT.
ErrorClass ClassifyHttpStatus(int status);

// ClassifyStatus: the class of a call that got no HTTP answer.
// kUnavailable (could not connect, reset) and kDeadlineExceeded are
// TRANSIENT; kBadGateway (a broken answer) and kResourceExhausted
// RECOVERABLE; kUnauthenticated and kPermissionDenied CRITICAL; the rest
// PERMANENT. REQUIRES: !s.ok().
ErrorClass ClassifyStatus(const Status& s);

// IsRetryable: TRANSIENT or RECOVERABLE.
inline bool IsRetryable(ErrorClass c) {
  return c == ErrorClass::kTransient || c == ErrorClass::kRecoverable;
}

}  // namespace agentgate
