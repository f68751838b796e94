// cached(): memoizes a function on its arguments, with a TTL and single-flight.
//
//   auto price = cached([](const std::string& model, int tokens) { return Lookup(model, tokens); },
//                       std::chrono::minutes(5), {.max_size = 10'000});
//   double p = price("gpt-4o", 100);    // computed
//   double q = price("gpt-4o", 100);    // from the cache
//
//   // Coroutines: fn returns boost::asio::awaitable<T>; so does the wrapper.
//   auto fetch = cached([&](std::string id) -> asio::awaitable<std::optional<Doc>> {...},
//                       std::chrono::seconds(30), {.profiler = &profiler, .name = "fetch"});
//   std::optional<Doc> d = co_await fetch("42");
//
// Key: a std::tuple of the decayed parameter types of `fn`, hashed with
// std::hash of each element (each must be hashable and equality-comparable).
// `fn` must have one non-template call operator (a lambda without `auto`
// parameters, a function pointer, std::function) so its parameters are known.
//
// Single-flight: while a key is being computed, other callers of that key do
// not call `fn`: sync callers block on the computing call, coroutine callers
// suspend (no thread blocked) and are resumed through asio::post on their own
// executor. All of them get the same result, or the same exception (errors
// are never cached). Cancelling a waiting coroutine is not supported: it
// waits for the computation to end.
//
// "None": a result that is an empty std::optional is stored only with
// cache_none; otherwise it is returned (to the waiters too) and computed again
// on the next call.
//
// Thread-safety: the wrapper may be called concurrently from any thread;
// `fn` may then run concurrently for different keys. Ownership: the wrapper
// is a cheap copyable handle to shared state (cache, in-flight table, fn);
// copies share it. A coroutine in progress keeps it alive. `options.clock`
// and `options.profiler` must outlive every copy.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "agentgate/core/clock.h"
#include "agentgate/perf/lru_cache.h"
#include "agentgate/perf/profiler.h"

namespace agentgate {

struct CachedOptions {
  // Store empty-optional ("none") results too. Default false.
  bool cache_none = false;
  // Maximum memoized results (entries). Default 1000 (PerfOptions::cache_size).
  size_t max_size = 1000;
  // Time source for TTLs; null means Clock::system(). Default null.
  const Clock* clock = nullptr;
  // Shards of the underlying LruCache (see lru_cache.h). Default 16.
  size_t shards = 16;
  // When set, each call reports a cache hit (served from the cache or from
  // another caller's computation) or a miss (fn was called) to
  // profiler->site(name). Default null.
  Profiler* profiler = nullptr;
  // Profiler site name. Default "cached".
  std::string name = "cached";
};

// CachedStats: how calls were served, since creation.
struct CachedStats {
  uint64_t hits = 0;    // from the cache
  uint64_t shared = 0;  // joined another caller's in-flight computation
  uint64_t misses = 0;  // called fn (== number of fn calls)
  LruCacheStats cache;  // the underlying cache
};

namespace cached_internal {

template <typename... T>
struct TypeList {};

// Signature: return type and parameter list of a callable with one call
// operator.
template <typename F>
struct Signature : Signature<decltype(&F::operator())> {};
template <typename R, typename... A>
struct Signature<R (*)(A...)> {
  using Ret = R;
  using Args = TypeList<A...>;
};
template <typename R, typename... A>
struct Signature<R (*)(A...) noexcept> : Signature<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct Signature<R (C::*)(A...)> : Signature<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct Signature<R (C::*)(A...) const> : Signature<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct Signature<R (C::*)(A...) noexcept> : Signature<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct Signature<R (C::*)(A...) const noexcept> : Signature<R (*)(A...)> {};

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

// ValueOf: what is memoized: R itself, or T of awaitable<T, E>.
template <typename R>
struct ValueOf {
  using type = R;
  static constexpr bool kAsync = false;
};
template <typename T, typename E>
struct ValueOf<boost::asio::awaitable<T, E>> {
  using type = T;
  using Executor = E;
  static constexpr bool kAsync = true;
};

struct TupleHash {
  template <typename... T>
  size_t operator()(const std::tuple<T...>& t) const {
    size_t h = 0;
    std::apply(
        [&h](const auto&... x) {
          ((h ^= std::hash<std::decay_t<decltype(x)>>{}(x) + 0x9e3779b97f4a7c15ULL + (h << 6) +
                 (h >> 2)),
           ...);
        },
        t);
    return h;
  }
};

template <typename Fn, typename R, typename ArgList>
class CachedFunction;

template <typename Fn, typename R, typename... A>
class CachedFunction<Fn, R, TypeList<A...>> {
  using Traits = ValueOf<R>;
  using Value = typename Traits::type;
  using Key = std::tuple<std::decay_t<A>...>;
  static_assert(!std::is_void_v<Value>, "cached(): fn must return a value");

  // Waiter: a suspended coroutine to resume once the flight is done.
  struct Waiter {
    virtual ~Waiter() = default;
    // resume: posts the coroutine to its own executor (never runs it inside
    // the caller's stack).
    virtual void resume() = 0;
  };
  template <typename Handler>
  struct WaiterFor final : Waiter {
    explicit WaiterFor(Handler h) : handler(std::move(h)) {}
    void resume() override {
      auto ex = boost::asio::get_associated_executor(handler);
      boost::asio::post(ex, std::move(handler));
    }
    Handler handler;
  };

  // Flight: one computation in progress and whoever waits for it.
  struct Flight {
    std::mutex mu;
    std::condition_variable cv;                                   // sync waiters
    std::vector<std::unique_ptr<Waiter>> waiters;  // GUARDED_BY(mu) async
    bool done = false;                                            // GUARDED_BY(mu)
    std::optional<Value> value;                                   // GUARDED_BY(mu)
    std::exception_ptr error;                                     // GUARDED_BY(mu)
  };

  struct State {
    State(Fn f, Nanos ttl, const CachedOptions& o)
        : fn(std::move(f)),
          cache_none(o.cache_none),
          cache({.max_size = o.max_size, .default_ttl = ttl, .shards = o.shards},
                o.clock != nullptr ? *o.clock : Clock::system()),
          site(o.profiler != nullptr ? &o.profiler->site(o.name) : nullptr) {}

    Fn fn;
    const bool cache_none;
    LruCache<Key, Value, TupleHash> cache;
    ProfileSite* const site;
    std::mutex mu;
    std::unordered_map<Key, std::shared_ptr<Flight>, TupleHash> inflight;  // GUARDED_BY(mu)
    std::atomic<uint64_t> hits{0};
    std::atomic<uint64_t> shared{0};
    std::atomic<uint64_t> misses{0};

    void count(std::atomic<uint64_t>& c) {
      c.fetch_add(1, std::memory_order_relaxed);
      if (site != nullptr) site->record_cache(&c != &misses);
    }
    bool storable(const Value& v) const {
      if constexpr (IsOptional<Value>::value) return cache_none || v.has_value();
      return true;
    }

    // join: the cached value, or the flight to wait for / lead.
    // REQUIRES: called after a cache miss.
    struct Joined {
      std::optional<Value> value;
      std::shared_ptr<Flight> flight;
      bool leader = false;
    };
    Joined join(const Key& key) {
      Joined j;
      std::lock_guard lock(mu);
      if (auto it = inflight.find(key); it != inflight.end()) {
        j.flight = it->second;
        count(shared);
        return j;
      }
      // A leader stores its result before leaving `inflight`: look again so
      // that a computation that just ended is not repeated.
      if ((j.value = cache.get(key))) {
        count(hits);
        return j;
      }
      j.flight = std::make_shared<Flight>();
      j.leader = true;
      inflight.emplace(key, j.flight);
      count(misses);
      return j;
    }

    // finish: stores the leader's outcome, wakes the waiters.
    void finish(const Key& key, Flight& flight, const std::optional<Value>& value,
                std::exception_ptr error) {
      if (value && storable(*value)) cache.set(key, *value);
      {
        std::lock_guard lock(mu);
        inflight.erase(key);
      }
      std::vector<std::unique_ptr<Waiter>> waiters;
      {
        std::lock_guard lock(flight.mu);
        flight.value = value;
        flight.error = error;
        flight.done = true;
        waiters.swap(flight.waiters);
      }
      flight.cv.notify_all();
      for (auto& w : waiters) w->resume();
    }
  };

 public:
  CachedFunction(Fn fn, Nanos ttl, const CachedOptions& options)
      : state_(std::make_shared<State>(std::move(fn), ttl, options)) {}

  // Sync: the memoized fn(args...).
  Value operator()(const std::decay_t<A>&... args) const
    requires(!Traits::kAsync)
  {
    State& s = *state_;
    Key key(args...);
    if (auto v = s.cache.get(key)) {
      s.count(s.hits);
      return std::move(*v);
    }
    auto j = s.join(key);
    if (j.value) return std::move(*j.value);
    Flight& f = *j.flight;
    if (!j.leader) {
      std::unique_lock lock(f.mu);
      f.cv.wait(lock, [&f] { return f.done; });
      if (f.error) std::rethrow_exception(f.error);
      return *f.value;
    }
    std::optional<Value> value;
    std::exception_ptr error;
    try {
      value.emplace(std::apply(s.fn, std::as_const(key)));
    } catch (...) {
      error = std::current_exception();
    }
    s.finish(key, f, value, error);
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }

  // Async: co_await the memoized fn(args...). Arguments are copied into the
  // coroutine frame.
  R operator()(std::decay_t<A>... args) const
    requires(Traits::kAsync)
  {
    std::shared_ptr<State> state = state_;  // alive until this coroutine ends
    Key key(std::move(args)...);
    if (auto v = state->cache.get(key)) {
      state->count(state->hits);
      co_return std::move(*v);
    }
    auto j = state->join(key);
    if (j.value) co_return std::move(*j.value);
    std::shared_ptr<Flight> flight = std::move(j.flight);
    if (!j.leader) co_return co_await AwaitFlight(std::move(flight));
    std::optional<Value> value;
    std::exception_ptr error;
    try {
      value.emplace(co_await std::apply(state->fn, std::as_const(key)));
    } catch (...) {
      error = std::current_exception();
    }
    state->finish(key, *flight, value, error);
    if (error) std::rethrow_exception(error);
    co_return std::move(*value);
  }

  // AwaitFlight: suspends until `flight` is done (without blocking the
  // thread), then its value or exception.
  template <typename Executor>
  static boost::asio::awaitable<Value, Executor> AwaitFlightOn(std::shared_ptr<Flight> flight) {
    // The initiation captures a raw pointer (`flight` keeps it alive):
    // g++ 12.2 destroys a lambda temporary inside a co_await expression twice,
    // which would release a captured shared_ptr once too often.
    Flight* f = flight.get();
    co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<Executor>&, void()>(
        [f](auto handler) {
          auto waiter = std::make_unique<WaiterFor<decltype(handler)>>(std::move(handler));
          std::unique_lock lock(f->mu);
          if (!f->done) {
            f->waiters.push_back(std::move(waiter));
            return;
          }
          lock.unlock();
          waiter->resume();
        },
        boost::asio::use_awaitable_t<Executor>());
    std::optional<Value> value;
    std::exception_ptr error;
    {
      std::lock_guard lock(flight->mu);
      value = flight->value;
      error = flight->error;
    }
    if (error) std::rethrow_exception(error);
    co_return std::move(*value);
  }
  static R AwaitFlight(std::shared_ptr<Flight> flight)
    requires(Traits::kAsync)
  {
    return AwaitFlightOn<typename Traits::Executor>(std::move(flight));
  }

 public:
  // stats: how calls were served so far.
  CachedStats stats() const {
    CachedStats st;
    st.hits = state_->hits.load(std::memory_order_relaxed);
    st.shared = state_->shared.load(std::memory_order_relaxed);
    st.misses = state_->misses.load(std::memory_order_relaxed);
    st.cache = state_->cache.stats();
    return st;
  }

  // clear: forgets every memoized result (in-flight calls still complete).
  void clear() const { state_->cache.clear(); }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace cached_internal

// cached: `fn` memoized for `ttl` (Nanos(0): until evicted). See the top of
// this file.
template <typename Fn>
auto cached(Fn fn, Nanos ttl, const CachedOptions& options = {}) {
  using Sig = cached_internal::Signature<Fn>;
  return cached_internal::CachedFunction<Fn, typename Sig::Ret, typename Sig::Args>(
      std::move(fn), ttl, options);
}

}  // namespace agentgate
