#include "gateway/stages/cache_stage.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>

#include "agentgate/cache/cache_key.h"
#include "cache/cache_control.h"
#include "server/error_response.h"
#include "upstream/sse_parser.h"

namespace agentgate {

namespace {

// SseFrame: one event carrying `data` (each line prefixed with "data: ").
std::string SseFrame(std::string_view data) {
  std::string frame = "data: ";
  for (char c : data) {
    frame.push_back(c);
    if (c == '\n') frame.append("data: ");
  }
  frame.append("\n\n");
  return frame;
}

// StreamCapture: collects a streamed answer's events as they pass.
// With a flight ticket, it also publishes the bytes to the flight's streaming
// followers as they pass.
// With a FlightStream, it appends them to the key's shared stream for
// followers on other instances (without waiting for the backend).
class StreamCapture final : public StreamObserver {
 public:
  StreamCapture(size_t max_bytes, SingleFlight::Ticket* ticket, FlightStream* remote,
                std::string key, Nanos remote_ttl)
      : max_bytes_(max_bytes), ticket_(ticket), remote_(remote), key_(std::move(key)),
        remote_ttl_(remote_ttl) {}

  void on_chunk(std::string_view bytes) override {
    if (ticket_ != nullptr) ticket_->publish(bytes);
    if (remote_ != nullptr) remote_->publish(key_, bytes, remote_ttl_);
    if (overflow_) return;
    Status s = parser_.feed(bytes, [this](const SseEvent& e) {
      if (e.data == "[DONE]") {
        done_ = true;
        return;
      }
      if (e.type != "message") {  // an `event: error` or other typed event: not a clean answer
        overflow_ = true;
        return;
      }
      bytes_ += e.data.size();
      if (bytes_ > max_bytes_) overflow_ = true;
      events_.emplace_back(e.data);
    });
    if (!s.ok()) overflow_ = true;
  }
  void on_complete(bool ok) override {
    if (ticket_ != nullptr) ticket_->end_stream(ok);
    // Followers poll often: the ended stream needs to outlive them only briefly.
    if (remote_ != nullptr) remote_->end(key_, ok, std::min<Nanos>(remote_ttl_, std::chrono::seconds(5)));
    complete_ = ok && done_ && !overflow_;
  }

  // take: the captured answer (complete only if the stream ended cleanly).
  CachedResponse take() {
    CachedResponse r;
    r.status = 200;
    r.content_type = "text/event-stream";
    r.streamed = true;
    r.events = std::move(events_);
    r.complete = complete_;
    return r;
  }

 private:
  const size_t max_bytes_;
  SingleFlight::Ticket* const ticket_;  // null: no followers to feed
  FlightStream* const remote_;          // null: no followers on other instances
  const std::string key_;
  const Nanos remote_ttl_;
  SseParser parser_;
  std::vector<std::string> events_;
  size_t bytes_ = 0;
  bool done_ = false;
  bool overflow_ = false;
  bool complete_ = false;
};

}  // namespace

CacheStage::Metrics::Metrics(MetricsRegistry& r)
    : hits(r.counter("agentgate_cache_requests_total", "Proxy requests by cache outcome",
                     {{"cache", "exact"}, {"result", "hit"}})),
      inflight_hits(r.counter("agentgate_cache_requests_total", "Proxy requests by cache outcome",
                              {{"cache", "exact"}, {"result", "inflight_hit"}})),
      remote_hits(r.counter("agentgate_cache_requests_total", "Proxy requests by cache outcome",
                            {{"cache", "exact"}, {"result", "remote_inflight_hit"}})),
      misses(r.counter("agentgate_cache_requests_total", "Proxy requests by cache outcome",
                       {{"cache", "exact"}, {"result", "miss"}})),
      bypasses(r.counter("agentgate_cache_requests_total", "Proxy requests by cache outcome",
                         {{"cache", "exact"}, {"result", "bypass"}})),
      stores(r.counter("agentgate_cache_stores_total", "Answers stored in the cache",
                       {{"cache", "exact"}})) {}

CacheStage::CacheStage(ResponseCache& cache, CacheStageOptions options, MetricsRegistry* metrics,
                       const Clock& clock)
    : cache_(cache), options_(options), keys_(options.key_memo_size, clock) {
  if (metrics != nullptr) metrics_ = std::make_unique<Metrics>(*metrics);
}

boost::asio::awaitable<void> CacheStage::answer(RequestContext& ctx, const CachedResponse& entry,
                                                std::string_view kind) {
  HttpResponse& res = ctx.response;
  if (!entry.streamed) {
    res.status = entry.status;
    res.content_type = entry.content_type;
    res.body = entry.body;
    res.set_header("X-Cache", "HIT");
    res.set_header("X-Cache-Kind", std::string(kind));
    co_return;
  }
  // Headers earlier stages set (rate limits, ...) go on the stream too.
  std::vector<std::pair<std::string, std::string>> headers = res.headers;
  headers.emplace_back("Cache-Control", "no-cache");
  headers.emplace_back("X-Cache", "HIT");
  headers.emplace_back("X-Cache-Kind", std::string(kind));
  ResponseStream& out = res.stream();
  ctx.streamed = true;
  if (!co_await out.begin(entry.status, entry.content_type, headers, /*hold=*/true)) co_return;
  for (const std::string& event : entry.events) {
    std::string frame = SseFrame(event);
    if (!co_await out.write(frame)) co_return;
  }
  std::string done = SseFrame("[DONE]");
  if (!co_await out.write(done)) co_return;
  co_await out.finish();
}

boost::asio::awaitable<bool> CacheStage::follow_stream(RequestContext& ctx,
                                                      SingleFlight::Ticket& ticket) {
  SingleFlight::Ticket::Update u = co_await ticket.watch(0, options_.dedup_timeout);
  // No live stream (a whole streamed answer from another instance, or
  // nothing), or one that already broke before we joined: never replay a
  // broken stream to a client that could still get a whole one.
  if (!u.live || (u.stream_ended && !u.stream_ok)) {
    if (u.done && u.answer && u.answer->streamed) {
      co_await answer(ctx, *u.answer, "inflight");
      co_return true;
    }
    co_return false;
  }
  if (u.stream_ended) {  // joined after a whole stream: replay the answer event by event
    CachedResponsePtr whole = u.answer;
    if (!u.done) whole = co_await ticket.wait(options_.dedup_timeout);  // not in ?: (g++ 12)
    if (whole && whole->streamed) {
      co_await answer(ctx, *whole, "inflight");
      co_return true;
    }
  }
  // Headers earlier stages set (rate limits, ...) go on the stream too.
  std::vector<std::pair<std::string, std::string>> headers = ctx.response.headers;
  headers.emplace_back("Cache-Control", "no-cache");
  headers.emplace_back("X-Cache", "HIT");
  headers.emplace_back("X-Cache-Kind", "inflight");
  ResponseStream& out = ctx.response.stream();
  ctx.streamed = true;
  if (!co_await out.begin(200, "text/event-stream", headers)) co_return true;
  size_t sent = 0;
  for (;;) {
    for (const std::string& chunk : u.chunks) {
      if (!co_await out.write(chunk)) co_return true;  // the client left
    }
    sent += u.chunks.size();
    if (u.stream_ended || u.done || u.timed_out) break;
    u = co_await ticket.watch(sent, options_.dedup_timeout);
  }
  if (!u.stream_ok) {  // as the leader's client is told: in-band, then the end
    Status s = u.timed_out ? DeadlineExceeded("the shared upstream stream stalled")
                           : BadGateway("the shared upstream stream ended before [DONE]");
    HttpErrorKind kind = HttpErrorKindFor(s.code());
    std::string event = "event: error\ndata: " + ErrorBody(s.message(), kind.type, kind.code) + "\n\n";
    co_await out.write(event);
  }
  co_await out.finish();
  co_return true;
}

boost::asio::awaitable<CachedResponsePtr> CacheStage::await_remote(const std::string& key,
                                                                   bool stream) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  for (Nanos waited{0};; waited += options_.remote_poll) {
    CachedResponsePtr r = co_await cache_.async_peek(key);
    if (r && r->streamed == stream) co_return r;
    if (waited >= options_.dedup_timeout) co_return nullptr;
    const bool held = co_await options_.remote->held(key);
    if (!held) {  // the leader is done: one last look
      r = co_await cache_.async_peek(key);
      if (r && r->streamed == stream) co_return r;
      co_return nullptr;
    }
    timer.expires_after(options_.remote_poll);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return nullptr;
  }
}

boost::asio::awaitable<bool> CacheStage::follow_remote_stream(RequestContext& ctx,
                                                             const std::string& key,
                                                             SingleFlight::Ticket& ticket) {
  FlightStream& stream = *options_.remote_stream;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  ResponseStream* out = nullptr;  // set once the first bytes came
  bool client_gone = false;       // relaying on for the local followers
  std::string cursor;
  Nanos idle{0};
  bool leader_gone = false;  // the lock is free: this read is the last
  bool ended = false, ok = false, stalled = false;
  for (;;) {
    FlightStream::Read r = co_await stream.read(key, cursor);
    if (r.failed) break;  // Redis away: what was sent is all we have
    cursor = std::move(r.cursor);
    if (!r.chunks.empty()) {
      idle = Nanos(0);
      if (out == nullptr) {
        // Headers earlier stages set (rate limits, ...) go on the stream too.
        std::vector<std::pair<std::string, std::string>> headers = ctx.response.headers;
        headers.emplace_back("Cache-Control", "no-cache");
        headers.emplace_back("X-Cache", "HIT");
        headers.emplace_back("X-Cache-Kind", "inflight");
        out = &ctx.response.stream();
        ctx.streamed = true;
        client_gone = !co_await out->begin(200, "text/event-stream", headers);
      }
      for (const std::string& chunk : r.chunks) {
        ticket.publish(chunk);
        if (!client_gone) client_gone = !co_await out->write(chunk);
      }
    }
    if (r.ended) {
      ended = true;
      ok = r.ok;
      break;
    }
    if (!r.chunks.empty()) continue;  // there may be more already
    if (leader_gone) break;
    if (idle >= options_.dedup_timeout) {
      stalled = true;
      break;
    }
    // Before the first bytes, a free lock means the leader answered without
    // a stream (or failed). Once it streams, only the end or dedup_timeout
    // without new bytes ends the relay (a long stream may outlive the lock).
    if (out == nullptr) {
      const bool held = co_await options_.remote->held(key);
      if (!held) {  // one last read for an end appended before the unlock
        leader_gone = true;
        continue;
      }
    }
    timer.expires_after(options_.remote_poll);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) break;
    idle += options_.remote_poll;
  }
  if (out == nullptr) {
    // Nothing relayed: the leader may have stored a whole answer (it stopped
    // streaming before we looked), else the caller computes.
    if (ended && !ok) co_return false;
    CachedResponsePtr whole = co_await cache_.async_peek(key);
    if (!whole || !whole->streamed) co_return false;
    ticket.finish(whole);
    co_await answer(ctx, *whole, "inflight");
    co_return true;
  }
  ticket.end_stream(ended && ok);
  if (client_gone) co_return true;
  if (!(ended && ok)) {  // as the leader's client is told: in-band, then the end
    Status s = stalled ? DeadlineExceeded("the shared upstream stream stalled")
                       : BadGateway("the shared upstream stream ended before [DONE]");
    HttpErrorKind kind = HttpErrorKindFor(s.code());
    std::string event = "event: error\ndata: " + ErrorBody(s.message(), kind.type, kind.code) + "\n\n";
    co_await out->write(event);
  }
  co_await out->finish();
  co_return true;
}

boost::asio::awaitable<void> CacheStage::compute(RequestContext& ctx, Next next,
                                                 const std::string& key,
                                                 SingleFlight::Ticket* ticket,
                                                 FlightStream* publish) {
  std::optional<StreamCapture> capture;
  if (ctx.info.stream) {
    capture.emplace(options_.max_stream_bytes, ticket, publish, key, options_.dedup_timeout);
    ctx.stream_observers.push_back(&*capture);
  }
  co_await next(ctx);
  if (capture) std::erase(ctx.stream_observers, &*capture);

  std::optional<CachedResponse> entry;
  if (ctx.streamed) {
    if (capture) entry = capture->take();
  } else if (!ctx.info.stream) {
    entry.emplace();
    entry->status = ctx.response.status;
    entry->content_type = ctx.response.content_type;
    entry->body = ctx.response.body;
  }
  if (!entry || !Cacheable(*entry)) co_return;  // the ticket's destructor shares nothing
  auto shared = std::make_shared<const CachedResponse>(std::move(*entry));
  if (co_await cache_.async_store(key, shared)) {
    if (metrics_) metrics_->stores.inc();
  }
  if (ticket != nullptr) ticket->finish(shared);
}

boost::asio::awaitable<void> CacheStage::handle(RequestContext& ctx, Next next) {
  const CacheDirectives cc = ReadCacheControl(ctx.request.header("cache-control"));
  if (cc.no_store) {
    if (metrics_) metrics_->bypasses.inc();
    ctx.response.set_header("X-Cache", "BYPASS");
    co_await next(ctx);
    co_return;
  }
  Result<std::string> key =
      keys_.key(ctx.principal.tenant, ProxyEndpointPath(ctx.endpoint), ctx.request.body);
  if (!key.ok()) {  // the body was validated before the first stage; never cache what we cannot key
    co_await next(ctx);
    co_return;
  }
  if (!cc.no_cache) {
    CachedResponsePtr hit = co_await cache_.async_lookup(*key);
    if (hit && hit->streamed == ctx.info.stream) {
      if (metrics_) metrics_->hits.inc();
      co_await answer(ctx, *hit, "exact");
      co_return;
    }
  }
  if (options_.dedup && !cc.no_cache) {
    SingleFlight::Ticket ticket = flights_.join(*key);
    if (!ticket.leader()) {
      if (ctx.info.stream) {
        const bool answered = co_await follow_stream(ctx, ticket);
        if (answered) {
          if (metrics_) metrics_->inflight_hits.inc();
          co_return;
        }
      } else {
        CachedResponsePtr shared = co_await ticket.wait(options_.dedup_timeout);
        if (shared && !shared->streamed) {
          if (metrics_) metrics_->inflight_hits.inc();
          co_await answer(ctx, *shared, "inflight");
          co_return;
        }
      }
      if (metrics_) metrics_->misses.inc();
      ctx.response.set_header("X-Cache", "MISS");
      co_await compute(ctx, next, *key, nullptr);
      co_return;
    }
    std::optional<FlightLock::Lock> lock;
    if (options_.remote) {
      lock = co_await options_.remote->try_lock(*key, options_.dedup_timeout);
      CachedResponsePtr shared;
      if (lock->state == FlightLock::State::kTaken && ctx.info.stream && options_.remote_stream) {
        const bool answered = co_await follow_remote_stream(ctx, *key, ticket);
        if (answered) {
          if (metrics_) metrics_->remote_hits.inc();
          co_return;
        }
      } else if (lock->state == FlightLock::State::kTaken) {
        shared = co_await await_remote(*key, ctx.info.stream);
      } else if (lock->state == FlightLock::State::kAcquired && !cc.no_cache) {
        // The previous leader may have stored and unlocked since our lookup.
        shared = co_await cache_.async_peek(*key);
        if (shared && shared->streamed != ctx.info.stream) shared = nullptr;
      }
      if (shared) {
        if (lock->state == FlightLock::State::kAcquired) {
          co_await options_.remote->unlock(*key, lock->token);
        }
        ticket.finish(shared);
        if (metrics_) metrics_->remote_hits.inc();
        co_await answer(ctx, *shared, "inflight");
        co_return;
      }
    }
    if (metrics_) metrics_->misses.inc();
    ctx.response.set_header("X-Cache", "MISS");
    FlightStream* publish = nullptr;
    if (lock && lock->state == FlightLock::State::kAcquired) publish = options_.remote_stream.get();
    co_await compute(ctx, next, *key, &ticket, publish);
    if (lock && lock->state == FlightLock::State::kAcquired) {
      co_await options_.remote->unlock(*key, lock->token);
    }
    co_return;
  }
  if (metrics_) metrics_->misses.inc();
  ctx.response.set_header("X-Cache", "MISS");
  co_await compute(ctx, next, *key, nullptr);
}

}  // namespace agentgate
