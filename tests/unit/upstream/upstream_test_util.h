// Helpers for upstream client tests: an io_context on its own thread to run
// the client's coroutines, and a raw TCP "upstream" that answers canned bytes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <exception>
#include <future>
#include <optional>
#include <string>
#include <thread>

namespace agentgate::testing {

// ClientLoop: an io_context run by one thread; run() executes a coroutine on
// it and waits for the result.
class ClientLoop {
 public:
  ClientLoop() : guard_(boost::asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {}
  ~ClientLoop() {
    guard_.reset();
    ioc_.stop();
    thread_.join();
  }

  template <typename T>
  T run(boost::asio::awaitable<T> a) {
    // (A promise rather than use_future: g++ 12 -O1 warns inside use_future.)
    std::optional<T> out;
    std::promise<void> done;
    boost::asio::co_spawn(
        ioc_, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await std::move(a)); },
        [&](std::exception_ptr e) {
          if (e) {
            done.set_exception(e);
          } else {
            done.set_value();
          }
        });
    done.get_future().get();
    return std::move(*out);
  }

  boost::asio::io_context& ioc() { return ioc_; }

 private:
  boost::asio::io_context ioc_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// RawUpstream: accepts connections on 127.0.0.1, reads a request head, and
// answers `reply` verbatim, then closes the connection.
class RawUpstream {
 public:
  explicit RawUpstream(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~RawUpstream() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++accepted_;
      std::string in;
      char buf[4096];
      while (in.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 2000) <= 0) break;
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
      }
      ::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      ::shutdown(c, SHUT_WR);
      ::usleep(20000);
      ::close(c);
    }
  }

  std::string reply_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// FreePort: a loopback port nothing listens on (bound, then released).
inline uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace agentgate::testing
