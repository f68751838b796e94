// ProxyRequest: what the gateway needs to know about an OpenAI request body,
// read in one pass with simdjson (no DOM of the whole body), plus in-place
// rewriting of the `model` value so the rest goes upstream byte for byte.
//
// Thread-safety: free functions; each thread uses its own simdjson parser.
#pragma once

#include <string>
#include <string_view>

#include "agentgate/core/status.h"

namespace agentgate {

enum class ProxyEndpoint {
  kChatCompletions,  // POST /v1/chat/completions
  kCompletions,      // POST /v1/completions
  kEmbeddings,       // POST /v1/embeddings
};

// ProxyEndpointPath: "/v1/chat/completions" etc.
std::string_view ProxyEndpointPath(ProxyEndpoint e);

struct ProxyRequestInfo {
  std::string model;          // the `model` field
  size_t model_offset = 0;    // byte span of the model's JSON string token,
  size_t model_length = 0;    // quotes included, in the body
  bool stream = false;        // `stream: true`
  bool include_usage = false; // `stream_options.include_usage: true`
  std::string user;           // the OpenAI `user` field, if any
};

// ParseProxyRequest: validates `body` for `endpoint` and extracts the fields
// above. kInvalidArgument (naming the field) when the body is not a JSON
// object, lacks `model` (or `messages` / `prompt` / `input`), or has a field
// of the wrong type. May grow body's capacity (simdjson's padding); never
// changes its contents.
Result<ProxyRequestInfo> ParseProxyRequest(ProxyEndpoint endpoint, std::string& body);

// RewriteModel: replaces the model value in `body` with `model` (JSON-escaped)
// and updates `info`'s span and model.
void RewriteModel(std::string& body, ProxyRequestInfo& info, std::string_view model);

// JsonEscape: `s` as the inside of a JSON string literal.
std::string JsonEscape(std::string_view s);

}  // namespace agentgate
