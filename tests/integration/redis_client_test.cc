// RedisClient against a real redis-server (tests skip when none is installed).
#include "store/redis_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <optional>
#include <set>
#include <thread>

#include "integration/support/redis_server.h"
#include "support/io_thread.h"
#include "support/wait_for.h"

namespace agentgate {
namespace {

using testing::WaitFor;

namespace asio = boost::asio;
using agentgate::testing::IoThread;
using agentgate::testing::RedisServer;
using agentgate::testing::RedisServerOptions;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

// Runs `fn` as a coroutine on a fresh io_context in this thread until done.
void RunCoro(std::function<asio::awaitable<void>()> fn) {
  asio::io_context io;
  std::exception_ptr error;
  asio::co_spawn(io, fn(), [&](std::exception_ptr e) { error = e; });
  io.run();
  if (error) std::rethrow_exception(error);
}

// Command: runs one command from this thread.
Result<RedisReply> Command(RedisClient& client, std::vector<std::string> args) {
  std::optional<Result<RedisReply>> out;
  RunCoro([&]() -> asio::awaitable<void> {
    out.emplace(co_await client.command(std::move(args)));
  });
  return std::move(*out);
}

std::vector<std::string> Args(std::initializer_list<std::string> a) { return a; }

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::available()) GTEST_SKIP() << "no redis-server";
  }

  void StartServer(RedisServerOptions options = {}) {
    server_ = std::make_unique<RedisServer>(std::move(options));
    Status s = server_->start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  RedisOptions ClientOptions() const {
    RedisOptions o;
    o.port = server_->port();
    o.concern = "test";
    o.reconnect_min_backoff = milliseconds(20);
    o.reconnect_max_backoff = milliseconds(200);
    o.jitter_seed = 42;
    return o;
  }

  std::unique_ptr<RedisClient> Connect(RedisOptions o, bool wait_healthy = true) {
    auto client = std::make_unique<RedisClient>(client_io_.executor(), std::move(o), metrics_);
    client->start();
    if (wait_healthy) {
      EXPECT_TRUE(WaitFor([&] { return client->healthy(); }))
          << client->last_error().ToString();
    }
    return client;
  }

  double Metric(const char* name) const { return metrics_.value(name, {{"concern", "test"}}); }

  MetricsRegistry metrics_;
  IoThread client_io_;  // declared after metrics_: destroyed first
  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisClientTest, CommandsAndReplyTypes) {
  StartServer();
  auto client = Connect(ClientOptions());
  EXPECT_EQ(client->state(), RedisState::kConnected);

  Result<RedisReply> set = Command(*client, Args({"SET", "k", "v\0x"}));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_TRUE(set->is_ok_status());
  Result<RedisReply> get = Command(*client, Args({"GET", "k"}));
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(*get, RedisReply::String("v\0x"));
  // Binary-safe.
  std::string binary("a\0b\r\n", 5);
  ASSERT_TRUE(Command(*client, {"SET", "bin", binary}).ok());
  EXPECT_EQ(Command(*client, Args({"GET", "bin"}))->str, binary);

  EXPECT_TRUE(Command(*client, Args({"GET", "missing"}))->is_nil());
  EXPECT_EQ(*Command(*client, Args({"INCRBY", "n", "5"})), RedisReply::Integer(5));
  ASSERT_TRUE(Command(*client, Args({"RPUSH", "l", "a", "b"})).ok());
  Result<RedisReply> range = Command(*client, Args({"LRANGE", "l", "0", "-1"}));
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(*range, RedisReply::Array({RedisReply::String("a"), RedisReply::String("b")}));
  Result<RedisReply> mget = Command(*client, Args({"MGET", "k", "missing"}));
  EXPECT_EQ(mget->elements.at(1), RedisReply::Nil());

  // A Redis error is a reply, not a failed Result.
  Result<RedisReply> wrong = Command(*client, Args({"INCR", "k"}));
  ASSERT_TRUE(wrong.ok());
  EXPECT_TRUE(wrong->is_error());
  EXPECT_NE(wrong->str.find("not an integer"), std::string::npos) << DebugString(*wrong);
  EXPECT_TRUE(Command(*client, Args({"NOSUCHCOMMAND"}))->is_error());
  // Empty args: a failed Result, not a crash.
  EXPECT_EQ(Command(*client, {}).status().code(), StatusCode::kInvalidArgument);

  EXPECT_GE(Metric("agentgate_redis_commands_total"), 11);
  EXPECT_GE(Metric("agentgate_redis_errors_total"), 3);
  EXPECT_EQ(Metric("agentgate_redis_connected"), 1);
}

TEST_F(RedisClientTest, PipelinesTenThousandIncrsFromTwoThreads) {
  StartServer();
  RedisOptions o = ClientOptions();
  o.command_timeout = milliseconds(20000);  // generous for sanitizer builds
  auto client = Connect(o);
  constexpr int kPerThread = 5000;
  std::mutex mu;
  std::set<int64_t> seen;
  std::atomic<int> failures{0};
  std::atomic<int> max_in_flight{0};
  auto caller = [&] {
    asio::io_context io;
    std::atomic<int> in_flight{0};
    for (int i = 0; i < kPerThread; ++i) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            int now = ++in_flight;
            int prev = max_in_flight.load();
            while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {
            }
            std::vector<std::string> cmd = {"INCR", "counter"};
            Result<RedisReply> r = co_await client->command(std::move(cmd));
            --in_flight;
            if (!r.ok() || r->type != RedisReply::Type::kInteger) {
              ++failures;
              co_return;
            }
            std::lock_guard lock(mu);
            seen.insert(r->integer);
          },
          asio::detached);
    }
    io.run();
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(max_in_flight.load(), 100);
  EXPECT_EQ(seen.size(), 2u * kPerThread);  // every INCR got its own reply
  EXPECT_EQ(*seen.begin(), 1);
  EXPECT_EQ(*seen.rbegin(), 2 * kPerThread);
  EXPECT_EQ(*Command(*client, Args({"GET", "counter"})), RedisReply::String("10000"));
}

TEST_F(RedisClientTest, AuthWithPassword) {
  RedisServerOptions so;
  so.password = "s3cret pass";
  StartServer(so);

  RedisOptions good = ClientOptions();
  good.password = "s3cret pass";
  auto client = Connect(good);
  EXPECT_EQ(*Command(*client, Args({"INCR", "a"})), RedisReply::Integer(1));

  RedisOptions wrong = ClientOptions();
  wrong.password = "nope";
  auto bad = Connect(wrong, /*wait_healthy=*/false);
  ASSERT_TRUE(WaitFor([&] { return !bad->last_error().ok(); }));
  EXPECT_FALSE(bad->healthy());
  EXPECT_NE(bad->last_error().message().find("AUTH failed"), std::string::npos)
      << bad->last_error().ToString();
  Result<RedisReply> r = Command(*bad, Args({"GET", "a"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();

  RedisOptions none = ClientOptions();  // no password: PING answers NOAUTH
  auto anonymous = Connect(none, /*wait_healthy=*/false);
  ASSERT_TRUE(WaitFor([&] { return !anonymous->last_error().ok(); }));
  EXPECT_FALSE(anonymous->healthy());
  EXPECT_NE(anonymous->last_error().message().find("NOAUTH"), std::string::npos)
      << anonymous->last_error().ToString();
}

TEST_F(RedisClientTest, SelectIsolatesDatabases) {
  StartServer();
  RedisOptions o7 = ClientOptions();
  o7.db = 7;
  auto db7 = Connect(o7);
  auto db0 = Connect(ClientOptions());
  ASSERT_TRUE(Command(*db7, Args({"SET", "shared", "seven"})).ok());
  EXPECT_TRUE(Command(*db0, Args({"GET", "shared"}))->is_nil());
  EXPECT_EQ(Command(*db7, Args({"GET", "shared"}))->str, "seven");
  EXPECT_EQ(server_->command({"SELECT", "7"})->str, "OK");

  RedisOptions bad_db = ClientOptions();
  bad_db.db = 999;
  auto bad = Connect(bad_db, /*wait_healthy=*/false);
  ASSERT_TRUE(WaitFor([&] { return !bad->last_error().ok(); }));
  EXPECT_NE(bad->last_error().message().find("SELECT failed"), std::string::npos)
      << bad->last_error().ToString();
}

TEST_F(RedisClientTest, ScriptLoadsOnceAndReloadsAfterFlush) {
  StartServer();
  auto client = Connect(ClientOptions());
  RedisScript script(*client, "return redis.call('INCRBY', KEYS[1], ARGV[1])");
  auto eval = [&](std::string by) {
    std::optional<Result<RedisReply>> out;
    RunCoro([&]() -> asio::awaitable<void> {
      std::vector<std::string> keys = {"s"};
      std::vector<std::string> args = {by};
      out.emplace(co_await script.eval(std::move(keys), std::move(args)));
    });
    return std::move(*out);
  };
  EXPECT_EQ(*eval("5"), RedisReply::Integer(5));
  EXPECT_EQ(*eval("5"), RedisReply::Integer(10));
  EXPECT_EQ(script.loads(), 1u);
  EXPECT_EQ(script.sha().size(), 40u);

  ASSERT_TRUE(server_->command({"SCRIPT", "FLUSH"})->is_ok_status());
  EXPECT_EQ(*eval("1"), RedisReply::Integer(11));
  EXPECT_EQ(script.loads(), 2u);

  // Runtime and compile errors of a script are error replies.
  Result<RedisReply> runtime = eval("not-a-number");
  ASSERT_TRUE(runtime.ok());
  EXPECT_TRUE(runtime->is_error()) << DebugString(*runtime);
  RedisScript broken(*client, "return (");
  std::optional<Result<RedisReply>> out;
  RunCoro([&]() -> asio::awaitable<void> {
    out.emplace(co_await broken.eval({}, {}));
  });
  ASSERT_TRUE(out->ok()) << out->status().ToString();
  EXPECT_TRUE((*out)->is_error());
}

TEST_F(RedisClientTest, CommandTimeoutWhileServerPaused) {
  StartServer();
  RedisOptions o = ClientOptions();
  o.command_timeout = milliseconds(200);
  auto client = Connect(o);
  ASSERT_TRUE(server_->command({"CLIENT", "PAUSE", "700", "ALL"})->is_ok_status());
  const auto t0 = Steady::now();
  Result<RedisReply> r = Command(*client, Args({"GET", "x"}));
  const auto elapsed = Steady::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_GE(elapsed, milliseconds(190));
  EXPECT_LT(elapsed, milliseconds(650));
  EXPECT_EQ(Metric("agentgate_redis_timeouts_total"), 1);
  // The connection survives; once the pause ends the late reply is dropped
  // and new commands are answered in order.
  EXPECT_TRUE(client->healthy());
  ASSERT_TRUE(WaitFor([&] {
    Result<RedisReply> pong = Command(*client, Args({"PING"}));
    return pong.ok() && pong->str == "PONG";
  }));
  EXPECT_EQ(*Command(*client, Args({"INCR", "after"})), RedisReply::Integer(1));
}

TEST_F(RedisClientTest, CancellationCompletesAtOnce) {
  using namespace asio::experimental::awaitable_operators;
  StartServer();
  auto client = Connect(ClientOptions());
  ASSERT_TRUE(server_->command({"CLIENT", "PAUSE", "500", "ALL"})->is_ok_status());
  bool timer_won = false;
  const auto t0 = Steady::now();
  RunCoro([&]() -> asio::awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor, milliseconds(30));
    std::vector<std::string> cmd = {"GET", "x"};
    auto winner = co_await (client->command(std::move(cmd)) || timer.async_wait(asio::use_awaitable));
    timer_won = winner.index() == 1;
  });
  EXPECT_TRUE(timer_won);
  EXPECT_LT(Steady::now() - t0, milliseconds(400));
}

TEST_F(RedisClientTest, ServerStopFailsFastAndRestartReconnects) {
  StartServer();
  auto client = Connect(ClientOptions());
  ASSERT_TRUE(Command(*client, Args({"SET", "k", "1"})).ok());

  ASSERT_TRUE(server_->stop().ok());
  ASSERT_TRUE(WaitFor([&] { return !client->healthy(); }));
  EXPECT_EQ(Metric("agentgate_redis_connected"), 0);
  // Let it fail a reconnect attempt or two: still fails fast.
  ASSERT_TRUE(WaitFor([&] { return Metric("agentgate_redis_reconnects_total") >= 2; }));
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Steady::now();
    Result<RedisReply> r = Command(*client, Args({"GET", "k"}));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
    EXPECT_LT(Steady::now() - t0, milliseconds(300));  // not command_timeout
  }
  EXPECT_FALSE(client->last_error().ok());

  ASSERT_TRUE(server_->start().ok());  // same port, empty data
  ASSERT_TRUE(WaitFor([&] { return client->healthy(); })) << client->last_error().ToString();
  EXPECT_EQ(Metric("agentgate_redis_connected"), 1);
  EXPECT_TRUE(Command(*client, Args({"GET", "k"}))->is_nil());
  EXPECT_EQ(*Command(*client, Args({"INCR", "k"})), RedisReply::Integer(1));
}

TEST_F(RedisClientTest, FirstConnectFailsThenSucceedsWhenServerComesUp) {
  StartServer();
  ASSERT_TRUE(server_->stop().ok());
  auto client = Connect(ClientOptions(), /*wait_healthy=*/false);
  ASSERT_TRUE(WaitFor([&] { return !client->last_error().ok(); }));
  EXPECT_FALSE(client->healthy());
  EXPECT_NE(client->last_error().message().find("refused"), std::string::npos)
      << client->last_error().ToString();
  ASSERT_TRUE(server_->start().ok());
  ASSERT_TRUE(WaitFor([&] { return client->healthy(); }));
  EXPECT_TRUE(Command(*client, Args({"PING"})).ok());
}

TEST_F(RedisClientTest, CommandsWaitForTheFirstConnection) {
  StartServer();
  auto client = std::make_unique<RedisClient>(client_io_.executor(), ClientOptions(), metrics_);
  client->start();
  // Issued at once, while connecting: answered once connected.
  Result<RedisReply> r = Command(*client, Args({"PING"}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->str, "PONG");
}

TEST_F(RedisClientTest, NotStartedAndStoppedFailFast) {
  StartServer();
  RedisClient idle(client_io_.executor(), ClientOptions(), metrics_);
  Result<RedisReply> r = Command(idle, Args({"PING"}));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  auto client = Connect(ClientOptions());
  client->stop();
  ASSERT_TRUE(WaitFor([&] { return client->state() == RedisState::kStopped; }));
  EXPECT_EQ(Command(*client, Args({"PING"})).status().code(), StatusCode::kUnavailable);
}

TEST_F(RedisClientTest, StopWithCommandsInFlightCompletesThemAll) {
  StartServer();
  RedisOptions o = ClientOptions();
  o.command_timeout = milliseconds(5000);
  auto client = Connect(o);
  // Pause the server so that commands are surely in flight.
  ASSERT_TRUE(server_->command({"CLIENT", "PAUSE", "2000", "ALL"})->is_ok_status());
  constexpr int kCommands = 500;
  std::atomic<int> completed{0}, unavailable{0};
  asio::io_context io;
  for (int i = 0; i < kCommands; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          std::vector<std::string> cmd = {"INCR", "x"};
          Result<RedisReply> r = co_await client->command(std::move(cmd));
          ++completed;
          if (!r.ok() && r.status().code() == StatusCode::kUnavailable) ++unavailable;
        },
        asio::detached);
  }
  // Issue them all, then stop the client from another thread while they wait.
  io.poll();
  ASSERT_TRUE(WaitFor([&] { return Metric("agentgate_redis_commands_total") >= kCommands; }));
  const auto t0 = Steady::now();
  std::thread stopper([&] { client->stop(); });
  stopper.join();
  io.run();
  EXPECT_LT(Steady::now() - t0, milliseconds(1000));
  EXPECT_EQ(completed.load(), kCommands);
  EXPECT_EQ(unavailable.load(), kCommands);
  client.reset();  // destroyed while its io thread runs
}

TEST_F(RedisClientTest, DestroyWithCommandsInFlight) {
  StartServer();
  constexpr int kCommands = 300;
  std::atomic<int> completed{0};
  asio::io_context io;
  {
    auto client = Connect(ClientOptions());
    for (int i = 0; i < kCommands; ++i) {
      asio::co_spawn(
          io,
          [&, c = client.get()]() -> asio::awaitable<void> {
            std::vector<std::string> cmd = {"INCR", "y"};
            (void)co_await c->command(std::move(cmd));
            ++completed;
          },
          asio::detached);
    }
    io.poll();  // submits them (the client still exists)
  }
  io.run();  // every one completes: replied, or failed by the stop
  EXPECT_EQ(completed.load(), kCommands);
}

TEST_F(RedisClientTest, ConnectTimeoutWhenNothingAnswers) {
  // A listening socket that never accepts: TCP connects (the kernel's
  // backlog), the handshake's PING is never answered.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  RedisOptions o;
  o.port = ntohs(addr.sin_port);
  o.concern = "test";
  o.connect_timeout = milliseconds(100);
  o.command_timeout = milliseconds(5000);
  o.reconnect_min_backoff = milliseconds(1000);
  o.reconnect_max_backoff = milliseconds(1000);
  auto client = std::make_unique<RedisClient>(client_io_.executor(), o, metrics_);
  client->start();
  const auto t0 = Steady::now();
  // Waits in the connecting state, then fails with the attempt.
  Result<RedisReply> r = Command(*client, Args({"PING"}));
  const auto elapsed = Steady::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().ToString();
  EXPECT_GE(elapsed, milliseconds(90));
  EXPECT_LT(elapsed, milliseconds(900));
  // The command fails first; the client's strand then records the state
  // (before its reconnect backoff of 1 s ends).
  EXPECT_TRUE(WaitFor([&] { return client->state() == RedisState::kDisconnected; },
                      milliseconds(900)))
      << static_cast<int>(client->state());
  client.reset();
  ::close(fd);
}

}  // namespace
}  // namespace agentgate
