#include "store/redis_semantic_replica.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <atomic>

#include "agentgate/core/hash.h"
#include "cache/cache_codec.h"
#include "store/redis_cache_stores.h"

namespace agentgate {

namespace net = boost::asio;

namespace {

constexpr size_t kReadBatch = 1000;

int64_t UnixMillis(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.now()).count();
}

}  // namespace

struct RedisSemanticReplica::State {
  State(SemanticCache& c, RedisClient& r, std::string key, const Clock& k, MetricsRegistry& m,
        SemanticReplicaOptions o)
      : cache(c), client(r), stream_key(std::move(key)), clock(k),
        errors(CacheStoreErrors(m, "semantic")),
        replicated(m.counter("agentgate_cache_replicated_total",
                             "Entries inserted from other instances", {{"cache", "semantic"}})),
        options(o) {}

  SemanticCache& cache;
  RedisClient& client;
  const std::string stream_key;
  const std::string instance = RandomToken(8);
  const Clock& clock;
  Counter& errors;
  Counter& replicated;
  const SemanticReplicaOptions options;
  std::atomic<bool> stopped{false};
};

namespace {

// Apply: one stream item [id, [field, value, ...]]; false when malformed.
bool Apply(RedisSemanticReplica::State& st, const RedisReply& item) {
  const RedisReply& fields = item.elements[1];
  std::string_view instance, data;
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].str == "i") instance = fields.elements[i + 1].str;
    if (fields.elements[i].str == "e") data = fields.elements[i + 1].str;
  }
  if (instance == st.instance) return true;  // our own
  int64_t expires_at_ms = 0;
  std::optional<SemanticEntry> e = DecodeSemanticEntry(data, &expires_at_ms);
  if (!e) return false;
  const int64_t left = expires_at_ms - UnixMillis(st.clock);
  if (left <= 0) return true;  // expired meanwhile
  e->ttl = std::chrono::milliseconds(left);
  if (st.cache.insert(*e)) st.replicated.inc();
  return true;
}

// Read: reads the stream from its start, then every options.poll.
net::awaitable<void> Read(std::shared_ptr<RedisSemanticReplica::State> st) {
  net::steady_timer timer(co_await net::this_coro::executor);
  std::string last = "0";
  while (!st->stopped.load(std::memory_order_acquire)) {
    std::vector<std::string> cmd = {"XREAD", "COUNT", std::to_string(kReadBatch), "STREAMS",
                                    st->stream_key, last};
    Result<RedisReply> r = co_await st->client.command(std::move(cmd));
    size_t got = 0;
    if (!r.ok() || r->is_error()) {
      st->errors.inc();
    } else if (r->type == RedisReply::Type::kArray && !r->elements.empty() &&
               r->elements[0].elements.size() == 2) {
      for (const RedisReply& item : r->elements[0].elements[1].elements) {
        if (item.elements.size() != 2) continue;
        last = item.elements[0].str;
        ++got;
        if (!Apply(*st, item)) st->errors.inc();
      }
    }
    if (got < kReadBatch) {
      timer.expires_after(st->options.poll);
      auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
      (void)ec;
    }
  }
}

}  // namespace

RedisSemanticReplica::RedisSemanticReplica(SemanticCache& cache, RedisClient& client,
                                           std::string key_prefix, const Clock& clock,
                                           MetricsRegistry& metrics, SemanticReplicaOptions options)
    : state_(std::make_shared<State>(cache, client, std::move(key_prefix) + "semantic:log", clock,
                                     metrics, options)) {}

RedisSemanticReplica::~RedisSemanticReplica() { stop(); }

const std::string& RedisSemanticReplica::stream_key() const { return state_->stream_key; }

void RedisSemanticReplica::start() {
  std::shared_ptr<State> st = state_;
  st->cache.set_listener([st](const SemanticEntry& e) {
    const int64_t expires_at_ms =
        UnixMillis(st->clock) + std::chrono::duration_cast<std::chrono::milliseconds>(e.ttl).count();
    std::vector<std::string> cmd = {"XADD", st->stream_key, "MAXLEN", "~",
                                    std::to_string(st->options.max_len), "*", "i", st->instance,
                                    "e", EncodeSemanticEntry(e, expires_at_ms)};
    st->client.async_command(std::move(cmd), [st](Result<RedisReply> r) {
      if (!r.ok() || r->is_error()) st->errors.inc();
    });
  });
  net::co_spawn(st->client.executor(), Read(st), net::detached);
}

void RedisSemanticReplica::stop() { state_->stopped.store(true, std::memory_order_release); }

}  // namespace agentgate
