// Stage: one concern of the proxy pipeline (authenticate, rate limit, cache,
// upstream, ...). A stage either answers the request itself (fills
// ctx.response, e.g. a 429 or a cache hit) and returns, or awaits next(ctx)
// and may act on the way back (store in a cache, record an outcome).
//
//   boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) override {
//     if (!allowed(ctx)) { SetError(ctx.response, ResourceExhausted("...")); co_return; }
//     co_await next(ctx);
//     record(ctx);
//   }
//
// Thread-safety: one Stage object serves every request on every worker
// thread at once; its state must be immutable or internally synchronized.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string_view>
#include <vector>

#include "gateway/request_context.h"

namespace agentgate {

class Pipeline;

// Next: runs the rest of the pipeline. Cheap to copy.
class Next {
 public:
  Next(const Pipeline* pipeline, size_t index) : pipeline_(pipeline), index_(index) {}
  boost::asio::awaitable<void> operator()(RequestContext& ctx) const;

 private:
  const Pipeline* pipeline_;
  size_t index_;
};

class Stage {
 public:
  virtual ~Stage() = default;
  // name: short and stable ("authenticate"), for metrics and profiles.
  virtual std::string_view name() const = 0;
  virtual boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) = 0;
};

}  // namespace agentgate
