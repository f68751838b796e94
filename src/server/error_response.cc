#include "server/error_response.h"

#include <nlohmann/json.hpp>

namespace agentgate {

HttpErrorKind HttpErrorKindFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return {200, "", ""};
    case StatusCode::kInvalidArgument: return {400, "invalid_request_error", "invalid_request"};
    case StatusCode::kUnauthenticated: return {401, "authentication_error", "invalid_api_key"};
    case StatusCode::kPermissionDenied: return {403, "permission_error", "permission_denied"};
    case StatusCode::kNotFound: return {404, "not_found_error", "not_found"};
    case StatusCode::kMethodNotAllowed:
      return {405, "invalid_request_error", "method_not_allowed"};
    case StatusCode::kAlreadyExists: return {409, "conflict_error", "conflict"};
    case StatusCode::kPayloadTooLarge:
      return {413, "invalid_request_error", "request_too_large"};
    case StatusCode::kHeadersTooLarge:
      return {431, "invalid_request_error", "headers_too_large"};
    case StatusCode::kResourceExhausted: return {429, "rate_limit_error", "rate_limit_exceeded"};
    case StatusCode::kInternal: return {500, "server_error", "internal_error"};
    case StatusCode::kBadGateway: return {502, "upstream_error", "bad_gateway"};
    case StatusCode::kUnavailable: return {503, "service_unavailable", "service_unavailable"};
    case StatusCode::kDeadlineExceeded: return {504, "timeout_error", "upstream_timeout"};
  }
  return {500, "server_error", "internal_error"};
}

std::string ErrorBody(std::string_view message, std::string_view type, std::string_view code) {
  nlohmann::json j = {{"error",
                       {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void SetError(HttpResponse& res, const Status& status) {
  HttpErrorKind kind = HttpErrorKindFor(status.code());
  SetError(res, kind.http_status, kind.type, kind.code, status.message());
}

void SetError(HttpResponse& res, int http_status, std::string_view type, std::string_view code,
              std::string_view message) {
  res.status = http_status;
  res.content_type = "application/json";
  res.body = ErrorBody(message, type, code);
}

}  // namespace agentgate
