#include "store/redis_change_feed.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>

namespace agentgate {

namespace asio = boost::asio;

namespace {
constexpr size_t kReadBatch = 1000;
}  // namespace

struct RedisChangeFeed::State {
  State(RedisClient& c, std::string k, Counter& e, ChangeFeedOptions o)
      : client(c), key(std::move(k)), errors(e), options(o) {}
  RedisClient& client;
  const std::string key;
  Counter& errors;
  const ChangeFeedOptions options;
  std::atomic<bool> stopped{false};
  OnChange on_change;  // set once by start()
  OnResync on_resync;
};

namespace {

// LastId: the id of the stream's newest entry, "0-0" when there is none.
asio::awaitable<Result<std::string>> LastId(RedisChangeFeed::State& st) {
  std::vector<std::string> cmd{"XREVRANGE", st.key, "+", "-", "COUNT", "1"};
  Result<RedisReply> r = co_await st.client.command(std::move(cmd));
  if (!r.ok()) co_return r.status();
  if (r->type != RedisReply::Type::kArray) co_return Unavailable("XREVRANGE: " + DebugString(*r));
  if (r->elements.empty()) co_return std::string("0-0");
  const RedisReply& item = r->elements[0];
  if (item.elements.empty()) co_return Unavailable("XREVRANGE: " + DebugString(*r));
  co_return item.elements[0].str;
}

asio::awaitable<void> Read(std::shared_ptr<RedisChangeFeed::State> st) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::string last;
  bool resync = true;
  auto next_resync = std::chrono::steady_clock::now();
  while (!st->stopped.load(std::memory_order_acquire)) {
    size_t got = 0;
    if (resync || std::chrono::steady_clock::now() >= next_resync) {
      Result<std::string> id = co_await LastId(*st);
      Status s = id.status();
      if (s.ok()) s = co_await st->on_resync();
      if (s.ok()) {
        last = *id;
        resync = false;
        next_resync = std::chrono::steady_clock::now() + st->options.resync;
      } else {
        st->errors.inc();
      }
    }
    if (!resync) {
      std::vector<std::string> cmd{"XREAD", "COUNT", std::to_string(kReadBatch), "STREAMS",
                                   st->key, last};
      Result<RedisReply> r = co_await st->client.command(std::move(cmd));
      if (!r.ok() || r->is_error()) {
        st->errors.inc();
        resync = true;
      } else if (r->type == RedisReply::Type::kArray && !r->elements.empty() &&
                 r->elements[0].elements.size() == 2) {
        for (const RedisReply& item : r->elements[0].elements[1].elements) {
          if (item.elements.size() != 2) continue;
          last = item.elements[0].str;
          ++got;
          const RedisReply& fields = item.elements[1];
          for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
            if (fields.elements[i].str != "n") continue;
            Status s = co_await st->on_change(fields.elements[i + 1].str);
            if (!s.ok()) {
              st->errors.inc();
              resync = true;
            }
          }
        }
      }
    }
    if (got < kReadBatch) {
      timer.expires_after(st->options.poll);
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      (void)ec;
    }
  }
}

}  // namespace

RedisChangeFeed::RedisChangeFeed(RedisClient& client, std::string key, Counter& errors,
                                 ChangeFeedOptions options)
    : state_(std::make_shared<State>(client, std::move(key), errors, options)) {}

RedisChangeFeed::~RedisChangeFeed() { stop(); }

const std::string& RedisChangeFeed::key() const { return state_->key; }

void RedisChangeFeed::start(OnChange on_change, OnResync on_resync) {
  state_->on_change = std::move(on_change);
  state_->on_resync = std::move(on_resync);
  asio::co_spawn(state_->client.executor(), Read(state_), asio::detached);
}

void RedisChangeFeed::stop() { state_->stopped.store(true, std::memory_order_release); }

asio::awaitable<Status> RedisChangeFeed::publish(std::string name) {
  std::vector<std::string> cmd{"XADD", state_->key, "MAXLEN", "~",
                               std::to_string(state_->options.max_len), "*", "n", std::move(name)};
  Result<RedisReply> r = co_await state_->client.command(std::move(cmd));
  Status s = r.status();
  if (s.ok() && r->is_error()) s = Unavailable("redis XADD: " + r->str);
  if (!s.ok()) state_->errors.inc();
  co_return s;
}

}  // namespace agentgate
