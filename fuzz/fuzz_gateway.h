// FuzzGateway: one in-process agentgate for the HTTP fuzz targets (demo
// upstream, admin key "fuzz-admin", rate limits off so that every input
// reaches its route), and a blocking loopback client that sends raw bytes
// and reads the answer until the server closes or 2 s pass.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "server/gateway.h"

namespace agentgate::fuzz {

inline Gateway& FuzzGateway() {
  static Gateway* gateway = [] {
    char tmpl[] = "/tmp/agentgate_fuzz_XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    if (dir == nullptr) std::abort();
    Config config;
    config.demo = true;
    config.server.host = "127.0.0.1";
    config.server.port = 0;
    config.server.threads = 1;
    config.server.admin_key = "fuzz-admin";
    config.server.access_log = ServerConfig::AccessLog::kOff;
    config.storage.data_dir = std::string(dir) + "/data";
    config.rate_limit.enabled = false;
    auto* g = new Gateway(config);  // lives for the whole fuzzing run
    if (!g->start().ok()) std::abort();
    return g;
  }();
  return *gateway;
}

// Exchange: sends `bytes` on a new connection, half-closes, and returns
// everything the server answered.
inline std::string Exchange(uint16_t port, std::string_view bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) std::abort();
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // libFuzzer's timers (SIGALRM) interrupt blocking calls: retry on EINTR.
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) std::abort();
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server may close early (a 4xx on a bad head)
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

// OpenFds: file descriptors open in this process (diagnostics).
inline int OpenFds() {
  int n = 0;
  for (int fd = 0; fd < 65536; ++fd) n += ::fcntl(fd, F_GETFD) != -1 ? 1 : 0;
  return n;
}

// StatusOf: the status code of the first response in `answer`, 0 if none.
inline int StatusOf(std::string_view answer) {
  if (answer.size() < 12 || answer.substr(0, 5) != "HTTP/") return 0;
  return std::atoi(std::string(answer.substr(9, 3)).c_str());
}

}  // namespace agentgate::fuzz
