// Fuzz target: the HTTP request path as bytes on a socket, through the real
// server (Beast parser, limits, router, auth, the proxy pipeline to the
// demo upstream). The server must answer or close, never crash, and never
// answer 500: a malformed request is the client's error.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_gateway.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  agentgate::Gateway& gateway = agentgate::fuzz::FuzzGateway();
  const std::string answer = agentgate::fuzz::Exchange(
      gateway.port(), std::string_view(reinterpret_cast<const char*>(data), size));
  if (agentgate::fuzz::StatusOf(answer) == 500) {
    std::fprintf(stderr, "500 for a client's bytes:\n%s\n", answer.c_str());
    std::abort();
  }
  return 0;
}
