#include "store/redis_batch.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>

namespace agentgate {

namespace asio = boost::asio;

namespace {

// Batch: shared with the handlers, which may outlive a cancelled awaiter.
struct Batch {
  explicit Batch(const asio::any_io_executor& ex, size_t n) : done(ex), results(n) {}
  asio::steady_timer done;  // cancelled when the last reply is in
  std::vector<std::optional<Result<RedisReply>>> results;
  size_t remaining = 0;
};

}  // namespace

asio::awaitable<std::vector<Result<RedisReply>>> RedisBatch(
    RedisClient& client, std::vector<std::vector<std::string>> commands) {
  asio::any_io_executor ex = co_await asio::this_coro::executor;
  auto batch = std::make_shared<Batch>(ex, commands.size());
  batch->remaining = commands.size();
  batch->done.expires_at(asio::steady_timer::time_point::max());
  for (size_t i = 0; i < commands.size(); ++i) {
    client.async_command(std::move(commands[i]),
                         asio::bind_executor(ex, [batch, i](Result<RedisReply> r) {
                           batch->results[i].emplace(std::move(r));
                           if (--batch->remaining == 0) batch->done.cancel();
                         }));
  }
  if (batch->remaining > 0) {
    auto [ec] = co_await batch->done.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  }
  std::vector<Result<RedisReply>> out;
  out.reserve(batch->results.size());
  for (auto& r : batch->results) {
    out.push_back(r ? std::move(*r) : Result<RedisReply>(Unavailable("redis batch: no reply")));
  }
  co_return out;
}

boost::asio::awaitable<Result<std::vector<std::pair<std::string, RedisReply>>>> ScanHashes(
    RedisClient& client, std::string head) {
  std::vector<std::pair<std::string, RedisReply>> all;
  std::string cursor = "0";
  do {
    std::vector<std::string> cmd{"SCAN", cursor, "MATCH", head + "*", "COUNT", "1000"};
    Result<RedisReply> r = co_await client.command(std::move(cmd));
    if (!r.ok()) co_return r.status();
    if (r->type != RedisReply::Type::kArray || r->elements.size() != 2) {
      co_return Unavailable("SCAN: " + DebugString(*r));
    }
    cursor = r->elements[0].str;
    std::vector<std::vector<std::string>> reads;
    std::vector<std::string> names;
    for (const RedisReply& k : r->elements[1].elements) {
      if (k.str.size() <= head.size()) continue;
      names.push_back(k.str.substr(head.size()));
      reads.push_back({"HGETALL", k.str});
    }
    std::vector<Result<RedisReply>> replies = co_await RedisBatch(client, std::move(reads));
    for (size_t i = 0; i < replies.size(); ++i) {
      if (!replies[i].ok()) co_return replies[i].status();
      if (replies[i]->type != RedisReply::Type::kArray) continue;
      all.emplace_back(std::move(names[i]), std::move(*replies[i]));
    }
  } while (cursor != "0");
  co_return all;
}

}  // namespace agentgate
