// The Redis FlightStream (DB 4, next to the de-duplication locks): one Redis
// Stream per key, `<prefix>dedup-stream:<key>`. The leader appends
// `XADD ... * d <bytes>` per chunk and `XADD ... * e 1|0` at the end, each
// followed by PEXPIRE, without awaiting the replies (the commands are
// pipelined on the dedup connection in call order). Followers read with a
// non-blocking `XREAD COUNT 256 STREAMS <key> <last id>`: a blocking XREAD
// would hold the shared connection (and every lock command behind it) for
// its whole wait, so CacheStage polls instead.
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>

#include "store/redis_cache_stores.h"

namespace agentgate {

namespace net = boost::asio;

namespace {

std::string MillisText(Nanos d) {
  return std::to_string(
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
}

class RedisFlightStream final : public FlightStream {
 public:
  RedisFlightStream(RedisClient& client, std::string key_prefix, MetricsRegistry& metrics)
      : client_(client), prefix_(std::move(key_prefix) + "dedup-stream:"),
        errors_(CacheStoreErrors(metrics, "dedup")) {}

  void publish(const std::string& key, std::string_view bytes, Nanos ttl) override {
    std::vector<std::string> cmd = {"XADD", prefix_ + key, "*", "d", std::string(bytes)};
    send(std::move(cmd));
    expire(key, ttl);
  }

  void end(const std::string& key, bool ok, Nanos ttl) override {
    std::vector<std::string> cmd = {"XADD", prefix_ + key, "*", "e", ok ? "1" : "0"};
    send(std::move(cmd));
    expire(key, ttl);
  }

  net::awaitable<Read> read(const std::string& key, std::string cursor) override {
    Read out;
    out.cursor = cursor.empty() ? "0-0" : std::move(cursor);
    std::vector<std::string> cmd = {"XREAD", "COUNT", "256", "STREAMS", prefix_ + key, out.cursor};
    Result<RedisReply> r = co_await client_.command(std::move(cmd));
    if (!r.ok() || r->is_error()) {
      errors_.inc();
      out.failed = true;
      co_return out;
    }
    if (r->type != RedisReply::Type::kArray || r->elements.empty()) co_return out;  // nil: nothing new
    // [[key, [[id, [field, value, ...]], ...]]]
    const RedisReply& stream = r->elements[0];
    if (stream.elements.size() != 2) co_return out;
    for (const RedisReply& entry : stream.elements[1].elements) {
      if (entry.elements.size() != 2) continue;
      out.cursor = entry.elements[0].str;
      const std::vector<RedisReply>& fields = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str == "d") {
          out.chunks.push_back(fields[i + 1].str);
        } else if (fields[i].str == "e") {
          out.ended = true;
          out.ok = fields[i + 1].str == "1";
        }
      }
      if (out.ended) break;  // nothing after the end counts
    }
    co_return out;
  }

 private:
  // send: the command without awaiting its reply; failures are counted.
  void send(std::vector<std::string> cmd) {
    client_.async_command(std::move(cmd), [&errors = errors_](Result<RedisReply> r) {
      if (!r.ok() || r->is_error()) errors.inc();
    });
  }
  void expire(const std::string& key, Nanos ttl) {
    std::vector<std::string> cmd = {"PEXPIRE", prefix_ + key, MillisText(ttl)};
    send(std::move(cmd));
  }

  RedisClient& client_;
  const std::string prefix_;
  Counter& errors_;
};

}  // namespace

std::unique_ptr<FlightStream> NewRedisFlightStream(RedisClient& client, std::string key_prefix,
                                                   MetricsRegistry& metrics) {
  return std::make_unique<RedisFlightStream>(client, std::move(key_prefix), metrics);
}

}  // namespace agentgate
