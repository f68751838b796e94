// Cache keys: the SHA-256 of a canonical form of an OpenAI request, so that
// requests that must get the same answer get the same key and any request
// that could get another answer gets another key.
//
//   Result<std::string> key = ResponseCacheKey("tenant-a", "/v1/chat/completions", body);
//
// Canonical form. The body is parsed as JSON and written back compactly with
// object keys sorted (at every depth), so key order and insignificant
// whitespace do not matter; a float with an integral value below 2^53 is
// written as that integer (`1.0` and `1` are the same temperature). Array
// order is kept (message order matters). The fields in kCacheKeyExcludedFields
// are dropped at the top level: they identify the caller, not the question;
// the tenant, which isolates callers, is part of the key instead.
// Everything else is kept, including `model`, every sampling parameter,
// `stream` and `stream_options` (a streamed and a non-streamed request get
// separate entries: the stored answer is replayed in the form it was
// captured).
//
// Thread-safety: free functions, safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "agentgate/core/clock.h"
#include "agentgate/core/status.h"
#include "agentgate/perf/lru_cache.h"

namespace agentgate {

// kCacheKeyExcludedFields: top-level request fields that do not take part in
// the key.
inline constexpr std::string_view kCacheKeyExcludedFields[] = {"user"};

// CanonicalRequest: the canonical text the key is the hash of: a JSON object
// {"body": <canonical body>, "endpoint": endpoint, "tenant": tenant}.
// kInvalidArgument when `body` is not a JSON object.
[[nodiscard]] Result<std::string> CanonicalRequest(std::string_view tenant,
                                                   std::string_view endpoint,
                                                   std::string_view body);

// ResponseCacheKey: Sha256Hex(CanonicalRequest(...)): 64 hex characters.
[[nodiscard]] Result<std::string> ResponseCacheKey(std::string_view tenant,
                                                   std::string_view endpoint,
                                                   std::string_view body);

// CacheKeyMemo: ResponseCacheKey remembered by the SHA-256 of the raw
// (tenant, endpoint, body), so that a byte-identical request skips parsing
// and canonicalization (the exact-hit fast path). Requests that differ only
// in key order or whitespace still meet at the same key, computed once each.
// Thread-safety: internally synchronized. `clock` must outlive the memo.
class CacheKeyMemo {
 public:
  // max_size: raw forms remembered at most (LRU). 0 disables the memo.
  CacheKeyMemo(size_t max_size, const Clock& clock)
      : memo_({.max_size = max_size}, clock) {}

  [[nodiscard]] Result<std::string> key(std::string_view tenant, std::string_view endpoint,
                                        std::string_view body);

 private:
  LruCache<std::string, std::string> memo_;
};

}  // namespace agentgate
