// The Redis store of the dead-letter queue (see dead_letter_queue.h): every
// call is one EVALSHA (or one plain command), so that concurrent instances
// never see half an entry and the bound holds across them.
#include <chrono>
#include <string_view>
#include <utility>

#include "resilience/dead_letter_queue.h"

namespace agentgate {

namespace {

// KEYS: seq, ids. ARGV: entry key prefix, max_entries, then field/value pairs.
// Returns {id, dropped}.
constexpr const char* kAddScript = R"lua(
local id = redis.call('INCR', KEYS[1])
local key = ARGV[1] .. id
redis.call('HSET', key, 'id', id, unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], id, id)
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[2])
local dropped = 0
if excess > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #old, 2 do
    redis.call('DEL', ARGV[1] .. old[i])
    dropped = dropped + 1
  end
end
return {id, dropped}
)lua";

// KEYS: ids. ARGV: entry key prefix, before_id (0: none), limit, user,
// upstream, model, error_class ("" = any). Returns the matching entries'
// HGETALL arrays, newest first.
constexpr const char* kListScript = R"lua(
local max = '+inf'
if tonumber(ARGV[2]) > 0 then max = '(' .. ARGV[2] end
local limit = tonumber(ARGV[3])
local out = {}
local offset = 0
while #out < limit do
  local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, '-inf', 'LIMIT', offset, 256)
  if #ids == 0 then break end
  offset = offset + #ids
  for _, id in ipairs(ids) do
    local key = ARGV[1] .. id
    local f = redis.call('HMGET', key, 'user', 'upstream', 'model', 'error_class')
    if (ARGV[4] == '' or f[1] == ARGV[4]) and (ARGV[5] == '' or f[2] == ARGV[5]) and
       (ARGV[6] == '' or f[3] == ARGV[6]) and (ARGV[7] == '' or f[4] == ARGV[7]) then
      out[#out + 1] = redis.call('HGETALL', key)
      if #out >= limit then break end
    end
  end
end
return out
)lua";

// KEYS: ids. ARGV: entry key prefix, id. Returns 1 if removed, 0 if absent.
constexpr const char* kRemoveScript = R"lua(
if redis.call('ZREM', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('DEL', ARGV[1] .. ARGV[2])
return 1
)lua";

// KEYS: the entry. ARGV: status. Returns 1 if counted, 0 if absent.
constexpr const char* kReplayScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'replays', 1)
redis.call('HSET', KEYS[1], 'last_replay_status', ARGV[1])
return 1
)lua";

int64_t ToInt(const std::string& s) {
  try {
    return std::stoll(s);
  } catch (...) {
    return 0;
  }
}

// FromHash: an entry from its HGETALL reply (field, value, field, value...).
DeadLetter FromHash(const RedisReply& hash) {
  DeadLetter d;
  for (size_t i = 0; i + 1 < hash.elements.size(); i += 2) {
    const std::string& f = hash.elements[i].str;
    const std::string& v = hash.elements[i + 1].str;
    if (f == "id") d.id = ToInt(v);
    else if (f == "time_ms") d.time_ms = ToInt(v);
    else if (f == "user") d.user = v;
    else if (f == "upstream") d.upstream = v;
    else if (f == "model") d.model = v;
    else if (f == "function") d.function = v;
    else if (f == "attempts") d.attempts = static_cast<int>(ToInt(v));
    else if (f == "error_class") d.error_class = v;
    else if (f == "error") d.error = v;
    else if (f == "status") d.status = static_cast<int>(ToInt(v));
    else if (f == "body") d.body = v;
    else if (f == "stream") d.stream = v == "1";
    else if (f == "replays") d.replays = static_cast<int>(ToInt(v));
    else if (f == "last_replay_status") d.last_replay_status = static_cast<int>(ToInt(v));
  }
  return d;
}

// Checked: the reply, or a failed Result for a transport error or an error
// reply (both are store errors to the caller).
Result<RedisReply> Checked(Result<RedisReply> r) {
  if (!r.ok()) return r.status();
  if (r->is_error()) return Unavailable("redis: " + r->str);
  return r;
}

class RedisDeadLetterQueue final : public DeadLetterQueue {
 public:
  RedisDeadLetterQueue(RedisClient& client, const std::string& prefix, const Clock& clock,
                       MetricsRegistry* metrics, DlqOptions options)
      : client_(client),
        seq_key_(prefix + "{dlq}:seq"),
        ids_key_(prefix + "{dlq}:ids"),
        entry_prefix_(prefix + "{dlq}:e:"),
        clock_(clock),
        options_(options),
        metrics_(metrics),
        add_(client, kAddScript),
        list_(client, kListScript),
        remove_(client, kRemoveScript),
        replay_(client, kReplayScript) {}

  boost::asio::awaitable<Result<int64_t>> add(DeadLetter d) override {
    d.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now()).count();
    std::vector<std::string> args = {
        entry_prefix_,        std::to_string(options_.max_entries),
        "time_ms",            std::to_string(d.time_ms),
        "user",               std::move(d.user),
        "upstream",           std::move(d.upstream),
        "model",              std::move(d.model),
        "function",           std::move(d.function),
        "attempts",           std::to_string(d.attempts),
        "error_class",        std::move(d.error_class),
        "error",              std::move(d.error),
        "status",             std::to_string(d.status),
        "body",               ScrubSecrets(d.body),
        "stream",             d.stream ? "1" : "0",
        "replays",            "0",
        "last_replay_status", "0"};
    std::vector<std::string> keys = {seq_key_, ids_key_};
    Result<RedisReply> r = Checked(co_await add_.eval(std::move(keys), std::move(args)));
    if (!r.ok()) co_return r.status();
    if (r->elements.size() != 2) co_return Internal("redis: unexpected reply to the DLQ add");
    metrics_.count(r->elements[1].integer);
    co_return r->elements[0].integer;
  }

  boost::asio::awaitable<Result<std::vector<DeadLetter>>> list(DlqFilter f) override {
    std::vector<std::string> keys = {ids_key_};
    std::vector<std::string> args = {entry_prefix_,  std::to_string(f.before_id),
                                     std::to_string(f.limit), f.user,
                                     f.upstream,     f.model,
                                     f.error_class};
    Result<RedisReply> r = Checked(co_await list_.eval(std::move(keys), std::move(args)));
    if (!r.ok()) co_return r.status();
    std::vector<DeadLetter> out;
    out.reserve(r->elements.size());
    for (const RedisReply& hash : r->elements) out.push_back(FromHash(hash));
    co_return out;
  }

  boost::asio::awaitable<Result<DeadLetter>> get(int64_t id) override {
    std::vector<std::string> cmd = {"HGETALL", entry_prefix_ + std::to_string(id)};
    Result<RedisReply> r = Checked(co_await client_.command(std::move(cmd)));
    if (!r.ok()) co_return r.status();
    if (r->elements.empty()) co_return NotFound("no dead letter " + std::to_string(id));
    co_return FromHash(*r);
  }

  boost::asio::awaitable<Status> remove(int64_t id) override {
    std::vector<std::string> keys = {ids_key_};
    std::vector<std::string> args = {entry_prefix_, std::to_string(id)};
    Result<RedisReply> r = Checked(co_await remove_.eval(std::move(keys), std::move(args)));
    if (!r.ok()) co_return r.status();
    if (r->integer == 0) co_return NotFound("no dead letter " + std::to_string(id));
    co_return Status::Ok();
  }

  boost::asio::awaitable<Status> record_replay(int64_t id, int status) override {
    std::vector<std::string> keys = {entry_prefix_ + std::to_string(id)};
    std::vector<std::string> args = {std::to_string(status)};
    Result<RedisReply> r = Checked(co_await replay_.eval(std::move(keys), std::move(args)));
    if (!r.ok()) co_return r.status();
    if (r->integer == 0) co_return NotFound("no dead letter " + std::to_string(id));
    co_return Status::Ok();
  }

  boost::asio::awaitable<Result<int64_t>> size() override {
    std::vector<std::string> cmd = {"ZCARD", ids_key_};
    Result<RedisReply> r = Checked(co_await client_.command(std::move(cmd)));
    if (!r.ok()) co_return r.status();
    co_return r->integer;
  }

 private:
  RedisClient& client_;
  const std::string seq_key_;
  const std::string ids_key_;
  const std::string entry_prefix_;
  const Clock& clock_;
  const DlqOptions options_;
  const DlqMetrics metrics_;
  RedisScript add_;
  RedisScript list_;
  RedisScript remove_;
  RedisScript replay_;
};

}  // namespace

std::unique_ptr<DeadLetterQueue> NewRedisDeadLetterQueue(RedisClient& client,
                                                         std::string key_prefix,
                                                         const Clock& clock,
                                                         MetricsRegistry* metrics,
                                                         DlqOptions options) {
  return std::make_unique<RedisDeadLetterQueue>(client, key_prefix, clock, metrics, options);
}

}  // namespace agentgate
