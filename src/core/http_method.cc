#include "agentgate/core/http_method.h"

namespace agentgate {

std::string_view HttpMethodName(HttpMethod m) {
  switch (m) {
    case HttpMethod::kGet: return "GET";
    case HttpMethod::kHead: return "HEAD";
    case HttpMethod::kPost: return "POST";
    case HttpMethod::kPut: return "PUT";
    case HttpMethod::kDelete: return "DELETE";
    case HttpMethod::kPatch: return "PATCH";
    case HttpMethod::kOptions: return "OPTIONS";
    case HttpMethod::kOther: return "OTHER";
  }
  return "OTHER";
}

}  // namespace agentgate
