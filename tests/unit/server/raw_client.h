// RawClient: a blocking loopback TCP client for server tests that need to
// send exact bytes (malformed requests, slow headers) and read raw answers.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace agentgate::testing {

class RawClient {
 public:
  // Connects to 127.0.0.1:port; reads give up after `timeout_s` seconds.
  explicit RawClient(uint16_t port, int timeout_s = 10) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{timeout_s, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // finish_sending: half-closes the connection (sends a FIN); reads go on.
  void finish_sending() { ::shutdown(fd_, SHUT_WR); }

  // read_some: what one recv() returns (after anything already buffered);
  // "" on close or timeout.
  std::string read_some() {
    if (buffer_.empty() && !fill()) return "";
    return Take(buffer_.size());
  }

  // read_response: one HTTP response with a Content-Length or chunked body,
  // or everything until the peer closes. "" if nothing arrived.
  std::string read_response() {
    for (;;) {
      size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buffer_.substr(0, end + 4);
        size_t cl = Find(head, "content-length: ");
        if (cl != std::string::npos) {
          size_t len = std::stoul(head.substr(cl + 16));
          if (buffer_.size() >= end + 4 + len) return Take(end + 4 + len);
        } else if (Find(head, "transfer-encoding: chunked") != std::string::npos) {
          size_t term = buffer_.find("\r\n0\r\n\r\n", end);
          if (term != std::string::npos) return Take(term + 7);
        } else if (head.rfind("HTTP/1.1 1", 0) == 0) {
          return Take(end + 4);  // 1xx: no body
        }
      }
      if (!fill()) return Take(buffer_.size());
    }
  }

  // closed_by_peer: waits (up to the read timeout) for the server to close.
  bool closed_by_peer() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  // closed_within: waits up to `ms` for the server to close; false if open.
  bool closed_within(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return false;
    return closed_by_peer();
  }

 private:
  static size_t Find(const std::string& head, std::string_view needle) {
    std::string lower = head;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return lower.find(needle);
  }
  bool fill() {
    char buf[8192];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }
  std::string Take(size_t n) {
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return out;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

}  // namespace agentgate::testing
