#include "integration/support/keepalive_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/http_types.h"

namespace agentgate::test {

namespace {

using Steady = std::chrono::steady_clock;

int RemainingMs(Steady::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// ReadMore: appends what the socket has to `buf`; false on EOF, error or deadline.
bool ReadMore(int fd, std::string& buf, Steady::time_point deadline, std::string& error) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, RemainingMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n == 0 ? "timeout" : std::string("poll: ") + std::strerror(errno);
      return false;
    }
    char chunk[16384];
    ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) {
      error = got == 0 ? "connection closed" : std::string("recv: ") + std::strerror(errno);
      return false;
    }
    buf.append(chunk, static_cast<size_t>(got));
    return true;
  }
}

bool WriteAll(int fd, std::string_view data, Steady::time_point deadline, std::string& error) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, RemainingMs(deadline)) <= 0) {
        error = "write timeout";
        return false;
      }
      continue;
    }
    error = std::string("send: ") + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

bool KeepAliveConnection::connect(std::string& error) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error = std::string("connect: ") + std::strerror(errno);
    close();
    return false;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ++connects_;
  return true;
}

void KeepAliveConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

HttpResult KeepAliveConnection::request(std::string_view method, std::string_view target,
                                        std::string_view body, const TestHeaders& headers,
                                        std::chrono::milliseconds timeout) {
  const auto deadline = Steady::now() + timeout;
  HttpResult r;
  if (fd_ < 0 && !connect(r.error)) return r;
  std::string req;
  req.reserve(256 + body.size());
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1:");
  req.append(std::to_string(port_)).append("\r\n");
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req.append(k).append(": ").append(v).append("\r\n");
    has_type = has_type || EqualsIgnoreCase(k, "Content-Type");
  }
  if (!body.empty() && !has_type) req.append("Content-Type: application/json\r\n");
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  req.append("\r\n").append(body);
  if (!WriteAll(fd_, req, deadline, r.error)) {
    close();
    return r;
  }
  // Head.
  size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!ReadMore(fd_, buffer_, deadline, r.error)) {
      close();
      return r;
    }
  }
  std::string_view head(buffer_.data(), head_end);
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (status_line.size() >= 12) r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  int64_t content_length = -1;
  bool chunked = false, close_after = false;
  size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string_view::npos) next = head.size();
    std::string_view line = head.substr(pos, next - pos);
    pos = next + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (EqualsIgnoreCase(name, "content-length"))
      content_length = std::atoll(std::string(value).c_str());
    if (EqualsIgnoreCase(name, "transfer-encoding") &&
        value.find("chunked") != std::string_view::npos)
      chunked = true;
    if (EqualsIgnoreCase(name, "connection") && EqualsIgnoreCase(value, "close"))
      close_after = true;
    r.headers.emplace_back(std::move(name), std::string(value));
  }
  buffer_.erase(0, head_end + 4);
  // Body.
  if (chunked) {
    for (;;) {
      size_t line_end;
      while ((line_end = buffer_.find("\r\n")) == std::string::npos) {
        if (!ReadMore(fd_, buffer_, deadline, r.error)) {
          close();
          return r;
        }
      }
      size_t size = std::strtoul(buffer_.substr(0, line_end).c_str(), nullptr, 16);
      while (buffer_.size() < line_end + 2 + size + 2) {
        if (!ReadMore(fd_, buffer_, deadline, r.error)) {
          close();
          return r;
        }
      }
      r.body.append(buffer_, line_end + 2, size);
      buffer_.erase(0, line_end + 2 + size + 2);
      if (size == 0) break;  // no trailers are sent by our servers
    }
  } else if (content_length >= 0) {
    while (buffer_.size() < static_cast<size_t>(content_length)) {
      if (!ReadMore(fd_, buffer_, deadline, r.error)) {
        close();
        return r;
      }
    }
    r.body = buffer_.substr(0, static_cast<size_t>(content_length));
    buffer_.erase(0, static_cast<size_t>(content_length));
  } else {  // read to EOF
    std::string ignored;
    while (ReadMore(fd_, buffer_, deadline, ignored)) {
    }
    r.body = std::move(buffer_);
    close_after = true;
  }
  if (close_after) close();
  return r;
}

}  // namespace agentgate::test
