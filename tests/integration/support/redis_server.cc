#include "integration/support/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace agentgate::testing {
namespace {

// Exited: reaps `pid` if it has exited (true), without blocking.
bool Exited(pid_t pid, int* status) {
  const pid_t r = ::waitpid(pid, status, WNOHANG);
  return r == pid || (r < 0 && errno == ECHILD);
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options)
    : options_(std::move(options)), port_(options_.port) {}

RedisServer::~RedisServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (!log_path_.empty()) {
    std::error_code ec;
    std::filesystem::remove(log_path_, ec);
  }
}

bool RedisServer::available(const std::string& binary) {
  return ::access(binary.c_str(), X_OK) == 0;
}

int RedisServer::FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
  }
  ::close(fd);
  return port;
}

Status RedisServer::start() {
  if (pid_ > 0) return Status::Ok();
  if (!available(options_.binary)) return Unavailable(options_.binary + " not found");
  const bool pick_port = port_ == 0;
  // A picked port may be taken between the probe and the bind: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (pick_port && attempt > 0) port_ = 0;
    if (port_ == 0) port_ = FreeLoopbackPort();
    if (port_ == 0) return Unavailable("no free loopback port");
    log_path_ = (std::filesystem::temp_directory_path() /
                 ("agentgate_redis_" + std::to_string(::getpid()) + "_" + std::to_string(port_) +
                  ".log"))
                    .string();
    std::vector<std::string> args = {options_.binary, "--port", std::to_string(port_),
                                     "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                     "--daemonize", "no", "--logfile", log_path_,
                                     "--dir", std::filesystem::temp_directory_path().string()};
    if (!options_.password.empty()) {
      args.emplace_back("--requirepass");
      args.push_back(options_.password);
    }
    for (const auto& a : options_.extra_args) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) return Unavailable(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      // Dies with the test process, even when that one is killed.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int devnull = ::open("/dev/null", O_RDWR);
      if (devnull >= 0) {
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
      }
      ::close_range(3, ~0U, 0);  // no inherited sockets of the test process
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    Status ready = wait_ready();
    if (ready.ok()) return ready;
    const bool exited = pid_ < 0;
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    // Retry on another port only if it died (likely: address in use).
    if (!exited || !pick_port) return ready;
  }
  return Unavailable("redis-server did not start after 5 attempts");
}

Status RedisServer::wait_ready() {
  const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  std::string last = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (Exited(pid_, &status)) {
      pid_ = -1;
      return Unavailable("redis-server exited at start (status " + std::to_string(status) +
                         "): " + log_tail());
    }
    Result<RedisReply> pong = command({"PING"});
    if (pong.ok() && pong->type == RedisReply::Type::kStatus) return Status::Ok();
    last = pong.ok() ? DebugString(*pong) : pong.status().message();
    // Polling a real process with a bounded deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Unavailable("redis-server on port " + std::to_string(port_) +
                     " did not answer PING: " + last + "; log: " + log_tail());
}

Status RedisServer::stop() {
  if (pid_ <= 0) return Status::Ok();
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (!Exited(pid_, &status)) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return Internal("redis-server ignored SIGTERM; killed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
  return Status::Ok();
}

Status RedisServer::restart() {
  if (Status s = stop(); !s.ok()) return s;
  return start();
}

Result<RedisReply> RedisServer::command(const std::vector<std::string>& args) const {
  timeval tv{1, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (c == nullptr) return Unavailable("redisConnect: out of memory");
  if (c->err != 0) {
    std::string e = c->errstr;
    redisFree(c);
    return Unavailable("redisConnect: " + e);
  }
  redisSetTimeout(c, timeval{5, 0});
  auto run = [c](const std::vector<std::string>& a) -> Result<RedisReply> {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& s : a) {
      argv.push_back(s.data());
      lens.push_back(s.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r == nullptr) return Unavailable(std::string("redis command: ") + c->errstr);
    RedisReply out = CopyRedisReply(r);
    freeReplyObject(r);
    return out;
  };
  if (!options_.password.empty()) {
    std::vector<std::string> auth = {"AUTH", options_.password};
    Result<RedisReply> a = run(auth);
    if (!a.ok() || a->is_error()) {
      redisFree(c);
      return Unavailable("AUTH failed");
    }
  }
  Result<RedisReply> r = run(args);
  redisFree(c);
  return r;
}

std::string RedisServer::log_tail() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 1500 ? s.substr(s.size() - 1500) : s;
}

}  // namespace agentgate::testing
