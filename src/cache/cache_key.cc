#include "agentgate/cache/cache_key.h"

#include <cmath>

#include "agentgate/core/hash.h"
#include "agentgate/core/json.h"

namespace agentgate {

namespace {

// Canonicalize: integral floats become integers, recursively. Object keys
// are already sorted: nlohmann::json keeps objects in a std::map.
void Canonicalize(Json& j) {
  if (j.is_object() || j.is_array()) {
    for (Json& v : j) Canonicalize(v);
  } else if (j.is_number_float()) {
    const double d = j.get<double>();
    constexpr double kExact = 9007199254740992.0;  // 2^53
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < kExact) {
      j = static_cast<int64_t>(d);
    }
  }
}

}  // namespace

Result<std::string> CanonicalRequest(std::string_view tenant, std::string_view endpoint,
                                     std::string_view body) {
  Result<Json> parsed = ParseJsonObject(body);
  if (!parsed.ok()) return parsed.status();
  Json& j = *parsed;
  for (std::string_view field : kCacheKeyExcludedFields) j.erase(std::string(field));
  Canonicalize(j);
  Json canonical = Json::object();
  canonical["tenant"] = std::string(tenant);
  canonical["endpoint"] = std::string(endpoint);
  canonical["body"] = std::move(j);
  return DumpJson(canonical);
}

Result<std::string> ResponseCacheKey(std::string_view tenant, std::string_view endpoint,
                                     std::string_view body) {
  Result<std::string> canonical = CanonicalRequest(tenant, endpoint, body);
  if (!canonical.ok()) return canonical.status();
  return Sha256Hex(*canonical);
}

Result<std::string> CacheKeyMemo::key(std::string_view tenant, std::string_view endpoint,
                                      std::string_view body) {
  std::string raw;
  raw.reserve(tenant.size() + endpoint.size() + body.size() + 24);
  raw.append(std::to_string(tenant.size())).append(":").append(tenant);
  raw.append(std::to_string(endpoint.size())).append(":").append(endpoint);
  raw.append(body);
  const Sha256Digest d = Sha256(raw);
  std::string digest(reinterpret_cast<const char*>(d.data()), d.size());
  if (std::optional<std::string> known = memo_.get(digest)) return std::move(*known);
  Result<std::string> k = ResponseCacheKey(tenant, endpoint, body);
  if (k.ok()) (void)memo_.set(digest, *k);
  return k;
}

}  // namespace agentgate
