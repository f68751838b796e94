// The one place where a Status becomes an HTTP status and the OpenAI error
// shape: {"error": {"message", "type", "param", "code"}}.
#pragma once

#include <string>
#include <string_view>

#include "agentgate/core/status.h"
#include "server/http_types.h"

namespace agentgate {

struct HttpErrorKind {
  int http_status;
  std::string_view type;  // OpenAI "type", e.g. "invalid_request_error"
  std::string_view code;  // OpenAI "code", e.g. "invalid_api_key"
};

// HttpErrorKindFor: the HTTP status, type and code for a StatusCode.
HttpErrorKind HttpErrorKindFor(StatusCode code);

// ErrorBody: the JSON error document.
std::string ErrorBody(std::string_view message, std::string_view type, std::string_view code);

// SetError: makes `res` an error response for `status` (REQUIRES !status.ok()).
void SetError(HttpResponse& res, const Status& status);
// SetError: an error with an explicit HTTP status, type and code.
void SetError(HttpResponse& res, int http_status, std::string_view type, std::string_view code,
              std::string_view message);

}  // namespace agentgate
