// IoThread: an io_context run by a thread of its own, for tests of clients
// that do their I/O on an executor (RedisClient). join() lets the context
// finish its work; halt() stops it at once (handlers still queued never
// run). The destructor joins.
//
// Thread-safety: executor() from any thread; join/halt from the owner's.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <thread>

namespace agentgate::testing {

class IoThread {
 public:
  IoThread() : guard_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() { join(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  boost::asio::io_context& io() { return io_; }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }

  // join: waits until the context has run out of work, then for the thread.
  void join() {
    guard_.reset();
    if (thread_.joinable()) thread_.join();
  }
  // halt: stops the context now and waits for the thread.
  void halt() {
    guard_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace agentgate::testing
