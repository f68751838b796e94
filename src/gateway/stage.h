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
#include <utility>
#include <vector>

#include "gateway/request_context.h"

namespace agentgate {

class Pipeline;
class ProfileSite;

// Next: runs the rest of the pipeline. Cheap to copy.
//
// When the pipeline profiles its stages, the Next a stage receives also
// times that stage, without a coroutine frame of its own: the Next that
// lives in the stage's coroutine frame records the call when that frame ends
// (inclusive of the stages after it; an answer of 500 or more counts as an
// error). So handle() must be a coroutine. Only moves carry the timing;
// copies (handed to helpers) never record.
class Next {
 public:
  Next(const Pipeline* pipeline, size_t index) : pipeline_(pipeline), index_(index) {}
  Next(const Next& other) : pipeline_(other.pipeline_), index_(other.index_) {}
  Next(Next&& other) noexcept
      : pipeline_(other.pipeline_),
        index_(other.index_),
        timing_(std::exchange(other.timing_, {})) {}
  Next& operator=(const Next&) = delete;
  Next& operator=(Next&&) = delete;
  ~Next() {
    if (timing_.site != nullptr) record_stage();
  }

  boost::asio::awaitable<void> operator()(RequestContext& ctx) const;

 private:
  // Timing: the profiled call of the stage that holds this Next.
  struct Timing {
    ProfileSite* site = nullptr;
    const RequestContext* ctx = nullptr;
    Nanos start{0};
  };
  void record_stage() noexcept;

  const Pipeline* pipeline_;
  size_t index_;
  Timing timing_;
};

class Stage {
 public:
  virtual ~Stage() = default;
  // name: short and stable ("authenticate"), for metrics and profiles.
  virtual std::string_view name() const = 0;
  virtual boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) = 0;
};

}  // namespace agentgate
