// RunSync: runs a coroutine to completion from synchronous code, on a
// private io_context on the calling thread, and returns its value. This is
// how the stores' synchronous methods use a RedisClient: the client resumes
// the coroutine on that private context when its reply arrives.
//
//   Result<RedisReply> r = RunSync<Result<RedisReply>>([&] { return client.command(args); });
//
// `make` returns the awaitable (called once, inside the context). An
// exception escaping the coroutine becomes `on_exception`'s value.
// REQUIRES: not called on the RedisClient's own thread (it would wait on
// itself); T constructible from Status for the default `on_exception`.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>
#include <utility>

#include "agentgate/core/status.h"

namespace agentgate {

template <typename T, typename Make>
T RunSync(Make make, T on_exception = T(Internal("exception in a store coroutine"))) {
  boost::asio::io_context io(1);
  std::optional<T> out;
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await make()); },
      [&](std::exception_ptr e) {
        if (e && !out) out.emplace(std::move(on_exception));
      });
  io.run();
  return std::move(*out);
}

}  // namespace agentgate
