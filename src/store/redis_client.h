// RedisClient: an asynchronous Redis connection (hiredis 0.14 redisAsyncContext)
// driven by a Boost.Asio executor, for coroutines on any io_context.
//
//   RedisOptions options;
//   options.port = 6379;
//   options.concern = "ratelimit";
//   RedisClient redis(redis_io.get_executor(), options, metrics);
//   redis.start();
//   ...                                   // in a coroutine on any executor:
//   std::vector<std::string> cmd = {"INCR", key};
//   Result<RedisReply> r = co_await redis.command(std::move(cmd));
//   if (!r.ok()) return r.status();       // kUnavailable, kDeadlineExceeded
//   if (r->is_error()) ...                 // a Redis "-ERR ..." reply is a value
//
// Errors: a command that got no usable reply is a failed Result:
// kUnavailable (not connected, connection lost, client stopped, too many
// commands pending), kDeadlineExceeded (no reply within command_timeout, or
// the awaiting operation was cancelled), kInvalidArgument (empty command).
// A reply the server sends, error replies included, is a RedisReply value.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"
#include "agentgate/core/status.h"

struct redisReply;  // hiredis

namespace agentgate {

// RedisReply: a copy of one Redis reply (hiredis frees its own after the
// callback). A plain value: safe to copy and move between threads.
struct RedisReply {
  enum class Type {
    kNil,      // null bulk string or null array
    kInteger,  // `integer`
    kString,   // bulk string in `str`
    kStatus,   // simple string ("OK", "PONG") in `str`
    kError,    // error reply ("ERR ...", "NOSCRIPT ...") in `str`
    kArray,    // `elements`
  };

  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;
  std::vector<RedisReply> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  // is_ok_status: a status reply "OK".
  bool is_ok_status() const { return type == Type::kStatus && str == "OK"; }

  static RedisReply Nil() { return {}; }
  static RedisReply Integer(int64_t v);
  static RedisReply String(std::string s);
  static RedisReply StatusReply(std::string s);
  static RedisReply Error(std::string s);
  static RedisReply Array(std::vector<RedisReply> elements);

  friend bool operator==(const RedisReply&, const RedisReply&) = default;
};

// DebugString: a reply as text for logs and test failures ("(integer) 3").
std::string DebugString(const RedisReply& reply);

// CopyRedisReply: a hiredis reply copied into a RedisReply (hiredis frees its
// replies after the callback; nil and unknown types become Nil).
RedisReply CopyRedisReply(const ::redisReply* reply);

// RedisState: where the connection is.
enum class RedisState {
  kStopped,       // not started, or stop() was called; commands fail
  kConnecting,    // TCP connect + AUTH/SELECT/PING under way; commands wait
                  // (bounded by command_timeout) and go out once connected
  kConnected,     // ready; commands are pipelined on the connection
  kDisconnected,  // lost or failed; waiting out the backoff before the next
                  // attempt; commands fail fast with kUnavailable
};

std::string_view RedisStateName(RedisState state);

// RedisOptions: where and how RedisClient connects.
struct RedisOptions {
  // host: an IP address (a name is resolved by a blocking lookup on the
  // client's executor at each connect). Default "127.0.0.1".
  std::string host = "127.0.0.1";
  // port: default 6379.
  int port = 6379;
  // password: sent with AUTH after connecting when not empty. Default empty.
  std::string password;
  // db: SELECTed after connecting when not 0. Default 0.
  int db = 0;
  // connect_timeout: bound on TCP connect + AUTH + SELECT + PING. Default 1 s.
  std::chrono::milliseconds connect_timeout{1000};
  // command_timeout: bound on each command, from command() to its reply
  // (hiredis 0.14 has none: enforced here). Default 1 s.
  std::chrono::milliseconds command_timeout{1000};
  // reconnect_min_backoff / reconnect_max_backoff: the delay before the next
  // connect attempt after a drop or a failed attempt doubles from min up to
  // max, with jitter (half fixed, half random). Defaults 100 ms / 5 s.
  std::chrono::milliseconds reconnect_min_backoff{100};
  std::chrono::milliseconds reconnect_max_backoff{5000};
  // max_pending: commands accepted but not answered (waiting, in flight, or
  // timed out with the reply still due) above which command() fails with
  // kUnavailable instead of queueing more. Default 100000.
  size_t max_pending = 100000;
  // concern: the `concern` label of this client's metrics ("ratelimit",
  // "cache", ...). Default "default".
  std::string concern = "default";
  // jitter_seed: seeds the backoff jitter; 0 picks a random seed. Default 0.
  uint64_t jitter_seed = 0;
};

// BackoffDelay: the delay before reconnect attempt `attempt` (0-based) for a
// backoff doubling from `min` to `max`; `unit_random` in [0, 1) picks the
// jittered half. Pure, for tests.
Nanos BackoffDelay(int attempt, Nanos min, Nanos max, double unit_random);

// RedisMetrics: the client's metrics, each labelled {concern="..."}.
struct RedisMetrics {
  RedisMetrics(MetricsRegistry& registry, const std::string& concern);
  Counter& commands;     // agentgate_redis_commands_total: command() calls
  Counter& errors;       // agentgate_redis_errors_total: failed Results + error replies
  Counter& timeouts;     // agentgate_redis_timeouts_total: kDeadlineExceeded Results
  Counter& reconnects;   // agentgate_redis_reconnects_total: attempts after a drop/failure
  Gauge& connected;      // agentgate_redis_connected: 1 when kConnected
};

// RedisClient: one pipelined connection to a Redis server, reconnecting by
// itself.
//
// Thread-safety: every public method may be called from any thread, and
// command() from coroutines on any executor. The connection lives on a strand
// of the executor given at construction; a command is handed to that strand,
// and its coroutine is resumed by a post to the coroutine's own executor
// (never inline from a hiredis callback).
// Ownership: the client owns the hiredis context and its socket. Internals
// are shared with the handlers queued on the executor, so destroying the
// client is safe with commands in flight: they complete with kUnavailable once
// the executor runs its queued work. REQUIRES: the client's executor is run
// (or its io_context destroyed) after the client is stopped or destroyed.
class RedisClient {
 public:
  using Executor = boost::asio::any_io_executor;

  RedisClient(Executor executor, RedisOptions options, MetricsRegistry& metrics);
  // ~RedisClient: stop().
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // start: begins connecting (asynchronously). Idempotent; a stopped client
  // cannot be started again.
  void start();
  // stop: closes the connection; commands waiting or in flight complete with
  // kUnavailable; later commands fail at once. Asynchronous (runs on the
  // client's strand) and idempotent.
  void stop();

  // state / healthy: the connection state, read without locking (may be
  // stale by the time it is used). healthy() is state() == kConnected.
  RedisState state() const { return state_->load(std::memory_order_acquire); }
  bool healthy() const { return state() == RedisState::kConnected; }
  // last_error: why the last connection attempt failed or the last
  // connection dropped (OK if none did).
  Status last_error() const;

  // command: sends `args` (command name first) and returns its reply. Many
  // commands may be in flight at once; replies come back in order per
  // connection. Cancelling the awaiting operation (per-operation
  // cancellation, e.g. `co_await (cmd || timer)`) completes it with
  // kDeadlineExceeded at once; the command may still run on the server.
  boost::asio::awaitable<Result<RedisReply>> command(std::vector<std::string> args);

  // async_command: the same with any completion token whose signature is
  // void(Result<RedisReply>).
  template <typename CompletionToken>
  auto async_command(std::vector<std::string> args, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(Result<RedisReply>)>(
        [this](auto handler, std::vector<std::string> a) {
          Executor ex = boost::asio::get_associated_executor(handler, executor());
          submit(std::move(a), Handler(std::move(handler)), std::move(ex));
        },
        token, std::move(args));
  }

  const RedisOptions& options() const;
  // executor: the client's strand (where handlers without an executor of
  // their own are completed).
  Executor executor() const;

  // Implementation details (public only so that the .cc can name them).
  class Impl;
  using Handler = boost::asio::any_completion_handler<void(Result<RedisReply>)>;

 private:
  void submit(std::vector<std::string> args, Handler handler, Executor handler_executor);

  std::shared_ptr<Impl> impl_;
  std::shared_ptr<std::atomic<RedisState>> state_;  // written by impl_ on its strand
};

// RedisScript: a Lua script run with EVALSHA. The script is loaded (SCRIPT
// LOAD) on first use and its SHA1 kept; when the server answers NOSCRIPT
// (restarted, SCRIPT FLUSH, failover) it is loaded again and the call retried
// once.
//
// Thread-safety: eval() may be called concurrently from any thread.
// Ownership: holds a reference to `client`, which must outlive it.
class RedisScript {
 public:
  RedisScript(RedisClient& client, std::string source);

  // eval: EVALSHA sha len(keys) keys... args... The Result fails on transport
  // errors (as RedisClient::command); a script error is an error reply.
  boost::asio::awaitable<Result<RedisReply>> eval(std::vector<std::string> keys,
                                                  std::vector<std::string> args);

  const std::string& source() const { return source_; }
  // sha: the SHA1 the server gave for the script (empty before the first load).
  std::string sha() const;
  // loads: how many SCRIPT LOADs were sent (tests).
  uint64_t loads() const { return loads_.load(std::memory_order_relaxed); }

 private:
  boost::asio::awaitable<Result<std::string>> load();

  RedisClient& client_;
  const std::string source_;
  mutable std::mutex mu_;
  std::string sha_;  // GUARDED_BY(mu_)
  std::atomic<uint64_t> loads_{0};
};

}  // namespace agentgate
