// KeepAliveConnection: one persistent HTTP/1.1 connection to 127.0.0.1:port
// for load generators: requests go one after another on the same socket
// (reconnecting after a close or an error), plain POSIX sockets with poll()
// deadlines, so that a client thread costs little CPU next to the servers it
// loads. Responses must carry Content-Length or chunked encoding (agentgate's
// and agentgate-mock's do).
//
//   KeepAliveConnection c(port);
//   HttpResult r = c.request("POST", "/v1/chat/completions", body, {{"X-User-Id", "u"}});
//
// Transport failures are values (status 0, `error` set), as in http_client.h.
// Thread-safety: none; one connection per thread. Ownership: owns its socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "integration/support/http_client.h"

namespace agentgate::test {

class KeepAliveConnection {
 public:
  explicit KeepAliveConnection(uint16_t port) : port_(port) {}
  ~KeepAliveConnection() { close(); }
  KeepAliveConnection(const KeepAliveConnection&) = delete;
  KeepAliveConnection& operator=(const KeepAliveConnection&) = delete;

  // request: sends one request (Content-Type: application/json when a body is
  // given) and reads the whole response within `timeout`.
  HttpResult request(std::string_view method, std::string_view target, std::string_view body = {},
                     const TestHeaders& headers = {},
                     std::chrono::milliseconds timeout = kDefaultRequestTimeout);

  uint16_t port() const { return port_; }
  // connects: TCP connections opened so far (1 when keep-alive held throughout).
  uint64_t connects() const { return connects_; }

 private:
  bool connect(std::string& error);
  void close();

  const uint16_t port_;
  int fd_ = -1;
  std::string buffer_;  // bytes read past the last response
  uint64_t connects_ = 0;
};

}  // namespace agentgate::test
