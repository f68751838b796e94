// Reading `usage` out of upstream responses: a whole JSON body, or the
// Server-Sent Events of a stream (the chunk that carries usage).
//
// Thread-safety: free functions; each thread uses its own simdjson parser.
#pragma once

#include <string>
#include <string_view>

#include "gateway/request_context.h"

namespace agentgate {

// ValidateAndReadUsage: true when `body` is one valid JSON document; fills
// `usage` from its top-level `usage` object when there is one. May grow the
// body's capacity (padding) without changing its contents.
bool ValidateAndReadUsage(std::string& body, Usage* usage);

// ReadChunkUsage: `usage` from one SSE `data:` payload of a chat/completion
// stream, if that chunk carries a non-null usage. Cheap for chunks without.
void ReadChunkUsage(std::string_view data, Usage* usage);

// IsOpenAiError: `body` is JSON of the shape {"error": {...}}.
bool IsOpenAiError(std::string& body);

}  // namespace agentgate
