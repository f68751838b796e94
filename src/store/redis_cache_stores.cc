#include "store/redis_cache_stores.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <future>

#include "agentgate/core/hash.h"
#include "cache/cache_codec.h"

namespace agentgate {

namespace net = boost::asio;

namespace {

// RunBlocking: runs `task` on the client's executor and waits for it, at most
// `limit` (then `fallback`). REQUIRES: not called on that executor.
template <typename T>
T RunBlocking(RedisClient& client, net::awaitable<T> task, T fallback,
              Nanos limit = std::chrono::seconds(5)) {
  std::future<T> f = net::co_spawn(client.executor(), std::move(task), net::use_future);
  if (f.wait_for(limit) != std::future_status::ready) return fallback;
  try {
    return f.get();
  } catch (...) {
    return fallback;
  }
}

int64_t Millis(Nanos d) {
  return std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// GetBytes: GET key; nullopt on a miss, counting Redis failures in `errors`.
net::awaitable<std::optional<std::string>> GetBytes(RedisClient& client, std::string key,
                                                    Counter& errors) {
  std::vector<std::string> cmd = {"GET", std::move(key)};
  Result<RedisReply> r = co_await client.command(std::move(cmd));
  if (!r.ok() || r->is_error()) {
    errors.inc();
    co_return std::nullopt;
  }
  if (r->type != RedisReply::Type::kString) co_return std::nullopt;
  co_return std::move(r->str);
}

// SetBytes: SET key value [PX ttl]; failures counted in `errors`.
net::awaitable<void> SetBytes(RedisClient& client, std::string key, std::string value, Nanos ttl,
                              Counter& errors) {
  std::vector<std::string> cmd = {"SET", std::move(key), std::move(value)};
  if (ttl.count() > 0) {
    cmd.emplace_back("PX");
    cmd.push_back(std::to_string(Millis(ttl)));
  }
  Result<RedisReply> r = co_await client.command(std::move(cmd));
  if (!r.ok() || r->is_error()) errors.inc();
}

class RedisResponseStore final : public ResponseStore {
 public:
  RedisResponseStore(RedisClient& client, std::string key_prefix, MetricsRegistry& metrics)
      : client_(client), prefix_(std::move(key_prefix) + "response:"),
        errors_(CacheStoreErrors(metrics, "response")) {}

  CachedResponsePtr get(const std::string& key) override {
    return RunBlocking<CachedResponsePtr>(client_, get_task(key), nullptr);
  }
  void set(const std::string& key, CachedResponsePtr value, Nanos ttl) override {
    RunBlocking<bool>(client_, set_task(key, std::move(value), ttl), false);
  }
  bool erase(const std::string& key) override {
    return RunBlocking<bool>(client_, erase_task(key), false);
  }
  void clear() override { (void)RunBlocking<int64_t>(client_, RedisScanDelete(client_, prefix_ + "*"), -1); }
  ResponseStoreStats stats() override {
    const int64_t n = RunBlocking<int64_t>(client_, RedisScanCount(client_, prefix_ + "*"), -1);
    return {.entries = n < 0 ? 0 : static_cast<size_t>(n)};
  }
  std::string_view kind() const override { return "redis"; }

  net::awaitable<CachedResponsePtr> async_get(const std::string& key) override {
    std::optional<std::string> bytes = co_await GetBytes(client_, prefix_ + key, errors_);
    if (!bytes) co_return nullptr;
    std::optional<CachedResponse> r = DecodeCachedResponse(*bytes);
    if (!r) {
      errors_.inc();
      co_return nullptr;
    }
    co_return std::make_shared<const CachedResponse>(std::move(*r));
  }
  net::awaitable<void> async_set(const std::string& key, CachedResponsePtr value,
                                 Nanos ttl) override {
    if (value == nullptr || ttl.count() <= 0) co_return;
    co_await SetBytes(client_, prefix_ + key, EncodeCachedResponse(*value), ttl, errors_);
  }

 private:
  // The blocking methods' tasks own their arguments: a wait that timed out
  // leaves the task running.
  net::awaitable<CachedResponsePtr> get_task(std::string key) { co_return co_await async_get(key); }
  net::awaitable<bool> set_task(std::string key, CachedResponsePtr value, Nanos ttl) {
    co_await async_set(key, std::move(value), ttl);
    co_return true;
  }
  net::awaitable<bool> erase_task(std::string key) {
    std::vector<std::string> cmd = {"DEL", prefix_ + key};
    Result<RedisReply> r = co_await client_.command(std::move(cmd));
    if (!r.ok() || r->is_error()) {
      errors_.inc();
      co_return false;
    }
    co_return r->integer > 0;
  }

  RedisClient& client_;
  const std::string prefix_;
  Counter& errors_;
};

// The embedding store keeps a recency sorted set beside the entries,
// `<prefix>embedding-lru` (member: cache key, score: last use in ms). A store
// is one script (SET, ZADD, and trimming the oldest entries above max_size,
// at most kTrimBatch per call); a hit refreshes the score with a ZADD XX sent
// without awaiting its reply, so a hit costs one round trip, like a miss.
constexpr const char* kEmbeddingSetScript = R"lua(
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
local max = tonumber(ARGV[5])
if max <= 0 then return 0 end
local over = math.min(redis.call('ZCARD', KEYS[2]) - max, tonumber(ARGV[7]))
if over <= 0 then return 0 end
local old = redis.call('ZRANGE', KEYS[2], 0, over - 1)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
for _, k in ipairs(old) do redis.call('UNLINK', ARGV[6] .. k) end
return #old
)lua";
constexpr int kTrimBatch = 1000;

class RedisEmbeddingStore final : public EmbeddingStore {
 public:
  RedisEmbeddingStore(RedisClient& client, std::string key_prefix, Nanos ttl, size_t max_size,
                      MetricsRegistry& metrics, const Clock& clock)
      : client_(client), prefix_(key_prefix + "embedding:"), lru_key_(key_prefix + "embedding-lru"),
        ttl_(ttl), clock_(clock), max_size_(max_size),
        errors_(CacheStoreErrors(metrics, "embedding")), set_(client, kEmbeddingSetScript) {}

  EmbeddingValuePtr get(const std::string& key) override {
    return RunBlocking<EmbeddingValuePtr>(client_, get_task(key), nullptr);
  }
  void set(const std::string& key, EmbeddingValuePtr value) override {
    RunBlocking<bool>(client_, set_task(key, std::move(value)), false);
  }
  bool erase(const std::string& key) override {
    return RunBlocking<bool>(client_, erase_task(key), false);
  }
  void clear() override {
    (void)RunBlocking<int64_t>(client_, RedisScanDelete(client_, prefix_ + "*"), -1);
    (void)RunBlocking<bool>(client_, del_task(lru_key_), false);
  }
  EmbeddingStoreStats stats() override {
    const int64_t n = RunBlocking<int64_t>(client_, RedisScanCount(client_, prefix_ + "*"), -1);
    return {.entries = n < 0 ? 0 : static_cast<size_t>(n),
            .max_size = max_size_.load(std::memory_order_relaxed),
            .evictions = evictions_.load(std::memory_order_relaxed)};
  }
  std::string_view kind() const override { return "redis"; }
  void set_max_size(size_t max_size) override {
    max_size_.store(max_size, std::memory_order_relaxed);
  }

  net::awaitable<EmbeddingValuePtr> async_get(const std::string& key) override {
    std::optional<std::string> bytes = co_await GetBytes(client_, prefix_ + key, errors_);
    if (!bytes) co_return nullptr;
    std::optional<Json> v = DecodeEmbedding(*bytes);
    if (!v) {
      errors_.inc();
      co_return nullptr;
    }
    touch(key);
    co_return std::make_shared<const Json>(std::move(*v));
  }
  net::awaitable<void> async_set(const std::string& key, EmbeddingValuePtr value) override {
    if (value == nullptr) co_return;
    std::vector<std::string> keys = {prefix_ + key, lru_key_};
    std::vector<std::string> args = {EncodeEmbedding(*value),
                                     ttl_.count() > 0 ? std::to_string(Millis(ttl_)) : "0",
                                     std::to_string(now_ms()),
                                     key,
                                     std::to_string(max_size_.load(std::memory_order_relaxed)),
                                     prefix_,
                                     std::to_string(kTrimBatch)};
    Result<RedisReply> r = co_await set_.eval(std::move(keys), std::move(args));
    if (!r.ok() || r->is_error()) {
      errors_.inc();
      co_return;
    }
    if (r->integer > 0) evictions_.fetch_add(static_cast<uint64_t>(r->integer), std::memory_order_relaxed);
  }

 private:
  int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now()).count();
  }
  // touch: marks `key` used now, without waiting for Redis (XX: never adds a
  // member for an entry another instance just evicted).
  void touch(const std::string& key) {
    std::vector<std::string> cmd = {"ZADD", lru_key_, "XX", std::to_string(now_ms()), key};
    send(std::move(cmd));
  }
  // send: `cmd` without awaiting its reply; failures are counted.
  void send(std::vector<std::string> cmd) {
    client_.async_command(std::move(cmd), [&errors = errors_](Result<RedisReply> r) {
      if (!r.ok() || r->is_error()) errors.inc();
    });
  }
  net::awaitable<EmbeddingValuePtr> get_task(std::string key) { co_return co_await async_get(key); }
  net::awaitable<bool> erase_task(std::string key) {
    std::vector<std::string> zrem = {"ZREM", lru_key_, key};
    send(std::move(zrem));  // pipelined ahead of the DEL
    std::vector<std::string> cmd = {"DEL", prefix_ + key};
    Result<RedisReply> r = co_await client_.command(std::move(cmd));
    if (!r.ok() || r->is_error()) {
      errors_.inc();
      co_return false;
    }
    co_return r->integer > 0;
  }
  net::awaitable<bool> del_task(std::string key) {
    std::vector<std::string> cmd = {"DEL", std::move(key)};
    Result<RedisReply> r = co_await client_.command(std::move(cmd));
    co_return r.ok() && !r->is_error();
  }
  net::awaitable<bool> set_task(std::string key, EmbeddingValuePtr value) {
    co_await async_set(key, std::move(value));
    co_return true;
  }

  RedisClient& client_;
  const std::string prefix_;
  const std::string lru_key_;
  const Nanos ttl_;
  const Clock& clock_;
  std::atomic<size_t> max_size_;
  std::atomic<uint64_t> evictions_{0};
  Counter& errors_;
  RedisScript set_;
};

class RedisFlightLock final : public FlightLock {
 public:
  RedisFlightLock(RedisClient& client, std::string key_prefix, MetricsRegistry& metrics)
      : client_(client), prefix_(std::move(key_prefix) + "dedup:"),
        errors_(CacheStoreErrors(metrics, "dedup")),
        unlock_(client, "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                        "return redis.call('DEL', KEYS[1]) end return 0") {}

  net::awaitable<Lock> try_lock(const std::string& key, Nanos ttl) override {
    Lock lock;
    lock.token = RandomToken(16);
    std::vector<std::string> cmd = {"SET", prefix_ + key, lock.token, "NX", "PX",
                                    std::to_string(Millis(ttl))};
    Result<RedisReply> r = co_await client_.command(std::move(cmd));
    if (!r.ok() || r->is_error()) {
      errors_.inc();
      lock.state = State::kFailed;
      lock.token.clear();
    } else if (r->is_ok_status()) {
      lock.state = State::kAcquired;
    } else {
      lock.state = State::kTaken;
      lock.token.clear();
    }
    co_return lock;
  }

  net::awaitable<bool> held(const std::string& key) override {
    std::vector<std::string> cmd = {"EXISTS", prefix_ + key};
    Result<RedisReply> r = co_await client_.command(std::move(cmd));
    if (!r.ok() || r->is_error()) {
      errors_.inc();
      co_return false;
    }
    co_return r->integer > 0;
  }

  net::awaitable<void> unlock(const std::string& key, const std::string& token) override {
    std::vector<std::string> keys = {prefix_ + key};
    std::vector<std::string> args = {token};
    Result<RedisReply> r = co_await unlock_.eval(std::move(keys), std::move(args));
    if (!r.ok() || r->is_error()) errors_.inc();
  }

 private:
  RedisClient& client_;
  const std::string prefix_;
  Counter& errors_;
  RedisScript unlock_;
};

// Scan: SCAN over `pattern`, deleting each batch when `remove`.
net::awaitable<int64_t> Scan(RedisClient& client, std::string pattern, bool remove) {
  std::string cursor = "0";
  int64_t n = 0;
  do {
    std::vector<std::string> cmd = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
    Result<RedisReply> r = co_await client.command(std::move(cmd));
    if (!r.ok() || r->type != RedisReply::Type::kArray || r->elements.size() != 2) co_return -1;
    cursor = r->elements[0].str;
    std::vector<std::string> keys;
    for (const RedisReply& k : r->elements[1].elements) keys.push_back(k.str);
    n += static_cast<int64_t>(keys.size());
    if (remove && !keys.empty()) {
      keys.insert(keys.begin(), "UNLINK");
      Result<RedisReply> d = co_await client.command(std::move(keys));
      if (!d.ok() || d->is_error()) co_return -1;
    }
  } while (cursor != "0");
  co_return n;
}

}  // namespace

Counter& CacheStoreErrors(MetricsRegistry& metrics, const std::string& cache) {
  return metrics.counter("agentgate_cache_store_errors_total",
                         "Cache store failures served as a miss or a dropped write (fail-open)",
                         {{"cache", cache}});
}

net::awaitable<int64_t> RedisScanCount(RedisClient& client, std::string pattern) {
  return Scan(client, std::move(pattern), false);
}

net::awaitable<int64_t> RedisScanDelete(RedisClient& client, std::string pattern) {
  return Scan(client, std::move(pattern), true);
}

std::unique_ptr<ResponseStore> NewRedisResponseStore(RedisClient& client, std::string key_prefix,
                                                     MetricsRegistry& metrics) {
  return std::make_unique<RedisResponseStore>(client, std::move(key_prefix), metrics);
}

std::unique_ptr<FlightLock> NewRedisFlightLock(RedisClient& client, std::string key_prefix,
                                               MetricsRegistry& metrics) {
  return std::make_unique<RedisFlightLock>(client, std::move(key_prefix), metrics);
}

std::unique_ptr<EmbeddingStore> NewRedisEmbeddingStore(RedisClient& client, std::string key_prefix,
                                                       Nanos ttl, size_t max_size,
                                                       MetricsRegistry& metrics, const Clock& clock) {
  return std::make_unique<RedisEmbeddingStore>(client, std::move(key_prefix), ttl, max_size, metrics,
                                               clock);
}

}  // namespace agentgate
