// Await: runs an awaitable to completion on a private io_context and
// returns its value, for tests of coroutine APIs. Work posted elsewhere (a
// RedisClient's own thread) may complete it: the context is kept running
// until the awaitable finishes.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>
#include <utility>

namespace agentgate::testing {

template <typename T>
T Await(boost::asio::awaitable<T> a) {
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::optional<T> out;
  std::exception_ptr error;
  // Through an awaitable<void>: co_spawn's own completion needs a
  // default-constructible T, and Result<T> is not.
  auto run = [](boost::asio::awaitable<T> inner,
                std::optional<T>& into) -> boost::asio::awaitable<void> {
    into.emplace(co_await std::move(inner));
  };
  boost::asio::co_spawn(io, run(std::move(a), out), [&](std::exception_ptr e) {
    error = e;
    guard.reset();
  });
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

}  // namespace agentgate::testing
