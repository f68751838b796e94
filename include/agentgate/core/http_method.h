// HttpMethod: the HTTP request methods agentgate distinguishes.
//
// Lives in core so that both the server (requests it receives) and the
// upstream layer (requests it sends) name methods without depending on each
// other. Thread-safety: plain values.
#pragma once

#include <string_view>

namespace agentgate {

enum class HttpMethod { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

// HttpMethodName: "GET", "POST", ...; "OTHER" for kOther.
std::string_view HttpMethodName(HttpMethod m);

}  // namespace agentgate
