// CacheDirectives: what a request's Cache-Control header asks of the caches.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "server/http_types.h"

namespace agentgate {

struct CacheDirectives {
  bool no_cache = false;  // skip the lookup (the answer is still stored)
  bool no_store = false;  // neither look up nor store
};

// ReadCacheControl: the directives in a Cache-Control value
// (comma-separated, case-insensitive; unknown directives are ignored).
inline CacheDirectives ReadCacheControl(std::string_view value) {
  CacheDirectives d;
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view token = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (EqualsIgnoreCase(token, "no-cache")) d.no_cache = true;
    if (EqualsIgnoreCase(token, "no-store")) d.no_store = true;
  }
  return d;
}

}  // namespace agentgate
