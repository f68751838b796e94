// Fuzz target: the proxy's request parsing (simdjson) and the cache key's
// canonicalisation (nlohmann-json) of an arbitrary body. Properties checked:
//   - a body ParseProxyRequest accepts can have its model rewritten, and the
//     rewritten body parses again with exactly the new model;
//   - canonicalisation is idempotent: canonicalising the canonical body
//     gives the same text (and so the same key).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agentgate/cache/cache_key.h"
#include "agentgate/core/json.h"
#include "gateway/proxy_request.h"

using agentgate::ProxyEndpoint;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const ProxyEndpoint endpoint = static_cast<ProxyEndpoint>(data[0] % 3);
  const std::string original(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string body = original;
  auto info = agentgate::ParseProxyRequest(endpoint, body);
  if (body != original) std::abort();  // never changes the contents
  if (info.ok()) {
    const std::string model = "fuzz/\"model\"\\\xc3\xa9";
    agentgate::RewriteModel(body, *info, model);
    auto again = agentgate::ParseProxyRequest(endpoint, body);
    if (!again.ok() || again->model != model) std::abort();
  }

  const std::string path(agentgate::ProxyEndpointPath(endpoint));
  auto canonical = agentgate::CanonicalRequest("tenant", path, original);
  if (canonical.ok()) {
    agentgate::Json j = agentgate::Json::parse(*canonical, nullptr, false);
    if (j.is_discarded() || !j.contains("body")) std::abort();
    auto twice = agentgate::CanonicalRequest("tenant", path, j["body"].dump());
    if (!twice.ok() || *twice != *canonical) std::abort();
  }
  return 0;
}
