// RedisServer: a real redis-server for tests, on a free loopback port.
//
//   RedisServer server;                       // or RedisServer({.password = "pw"})
//   ASSERT_TRUE(server.start().ok());         // waits until it answers PING
//   client_options.port = server.port();
//   server.command({"CLIENT", "PAUSE", "500", "ALL"});
//   server.stop();  server.restart();         // same port
//
// The server runs with --save "" --appendonly no --bind 127.0.0.1 and logs to
// a file under the temp dir (its tail is in start()'s error). The destructor
// kills it (SIGKILL) if it still runs; if the test process is killed first,
// the server gets SIGKILL too (PR_SET_PDEATHSIG, tied to the thread that
// called start(): call it from a thread that outlives the server).
//
// Thread-safety: none; use from the test's thread. Ownership: owns the child
// process, which it signals only by its own PID.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "agentgate/core/status.h"
#include "store/redis_client.h"

namespace agentgate::testing {

struct RedisServerOptions {
  // password: passed as --requirepass when not empty. Default empty.
  std::string password;
  // binary: the redis-server to run. Default "/usr/bin/redis-server".
  std::string binary = "/usr/bin/redis-server";
  // port: 0 picks a free loopback port at the first start(). Default 0.
  int port = 0;
  // extra_args: appended to the command line. Default none.
  std::vector<std::string> extra_args;
  // start_timeout: how long start() waits for PING to answer. Default 10 s.
  std::chrono::milliseconds start_timeout{10000};
};

class RedisServer {
 public:
  explicit RedisServer(RedisServerOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // available: whether `binary` exists and is executable (tests skip if not).
  static bool available(const std::string& binary = "/usr/bin/redis-server");

  // start: launches the server (on the same port as before after a stop) and
  // waits until it answers PING. kUnavailable with the log's tail on failure.
  Status start();
  // stop: SIGTERM, then waits for the exit (SIGKILL after 5 s).
  Status stop();
  // restart: stop() if running, then start() on the same port.
  Status restart();

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // command: runs one command on a fresh blocking connection (AUTH first if
  // a password is set); for test setup and inspection.
  Result<RedisReply> command(const std::vector<std::string>& args) const;

  // FreeLoopbackPort: a port that was free on 127.0.0.1 a moment ago.
  static int FreeLoopbackPort();

 private:
  Status wait_ready();
  std::string log_tail() const;

  const RedisServerOptions options_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string log_path_;
};

}  // namespace agentgate::testing
