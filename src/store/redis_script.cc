// RedisScript: EVALSHA with SCRIPT LOAD on first use and after NOSCRIPT
// (see redis_client.h).
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "store/redis_client.h"

namespace agentgate {

namespace asio = boost::asio;

RedisScript::RedisScript(RedisClient& client, std::string source)
    : client_(client), source_(std::move(source)) {}

std::string RedisScript::sha() const {
  std::lock_guard lock(mu_);
  return sha_;
}

asio::awaitable<Result<std::string>> RedisScript::load() {
  std::vector<std::string> cmd;
  cmd.reserve(3);
  cmd.emplace_back("SCRIPT");
  cmd.emplace_back("LOAD");
  cmd.push_back(source_);
  loads_.fetch_add(1, std::memory_order_relaxed);
  Result<RedisReply> r = co_await client_.command(std::move(cmd));
  if (!r.ok()) co_return r.status();
  if (r->type != RedisReply::Type::kString) {
    co_return Internal("redis SCRIPT LOAD failed: " + DebugString(*r));
  }
  std::lock_guard lock(mu_);
  sha_ = r->str;
  co_return sha_;
}

asio::awaitable<Result<RedisReply>> RedisScript::eval(std::vector<std::string> keys,
                                                      std::vector<std::string> args) {
  std::vector<std::string> cmd;
  cmd.reserve(3 + keys.size() + args.size());
  cmd.emplace_back("EVALSHA");
  cmd.emplace_back();
  cmd.push_back(std::to_string(keys.size()));
  for (std::string& k : keys) cmd.push_back(std::move(k));
  for (std::string& a : args) cmd.push_back(std::move(a));

  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string sha = this->sha();
    if (sha.empty()) {
      Result<std::string> loaded = co_await load();
      if (!loaded.ok()) {
        // A script that does not compile is the script's error: a reply.
        if (loaded.status().code() == StatusCode::kInternal) {
          co_return RedisReply::Error(loaded.status().message());
        }
        co_return loaded.status();
      }
      sha = std::move(loaded).value();
    }
    cmd[1] = sha;
    // Keep the arguments for a retry after NOSCRIPT.
    std::vector<std::string> send = attempt == 0 ? cmd : std::move(cmd);
    Result<RedisReply> r = co_await client_.command(std::move(send));
    if (attempt == 0 && r.ok() && r->is_error() && r->str.starts_with("NOSCRIPT")) {
      std::lock_guard lock(mu_);
      if (sha_ == sha) sha_.clear();
      continue;
    }
    co_return r;
  }
  co_return Internal("unreachable");
}

}  // namespace agentgate
