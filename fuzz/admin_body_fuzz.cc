// Fuzz target: the bodies of the admin API (and of the proxy routes), sent
// as well-formed HTTP requests with the admin key through the real server.
// The first byte picks the route; the rest is the body. Any body must get
// an answer other than 500 (bad input is a 400 naming what is wrong).
#include <cstddef>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_gateway.h"

namespace {

struct Route {
  const char* method;
  const char* path;
};

// The routes that read a body (and a few that read only the path).
constexpr Route kRoutes[] = {
    {"POST", "/api/v1/keys"},
    {"POST", "/api/v1/ratelimit/tier"},
    {"POST", "/api/v1/ratelimit/custom-limit"},
    {"POST", "/api/v1/ratelimit/reset/fuzz-user"},
    {"POST", "/api/v1/circuit-breakers/demo/reset"},
    {"DELETE", "/api/v1/cache/clear"},
    {"POST", "/api/v1/dlq/1/replay"},
    {"POST", "/v1/chat/completions"},
    {"POST", "/v1/completions"},
    {"POST", "/v1/embeddings"},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Route& route = kRoutes[data[0] % (sizeof(kRoutes) / sizeof(kRoutes[0]))];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string request = std::string(route.method) + " " + route.path +
                        " HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer fuzz-admin\r\n"
                        "Content-Type: application/json\r\nConnection: close\r\n"
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  request.append(body);
  agentgate::Gateway& gateway = agentgate::fuzz::FuzzGateway();
  const auto t0 = std::chrono::steady_clock::now();
  const std::string answer = agentgate::fuzz::Exchange(gateway.port(), request);
  const int status = agentgate::fuzz::StatusOf(answer);
  if (status == 500 || status == 0) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "%s %s answered %d after %lld ms (%zu bytes, errno %d, %d fds):\n%s\n",
                 route.method, route.path, status, static_cast<long long>(ms), answer.size(),
                 errno, agentgate::fuzz::OpenFds(), answer.c_str());
    std::abort();
  }
  return 0;
}
