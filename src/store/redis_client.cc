// RedisClient: hiredis 0.14 async context on an Asio strand.
//
// The adapter. hiredis asks for read/write interest through ev hooks; we watch
// its socket with a posix::stream_descriptor (async_wait, one-shot, re-armed
// while hiredis wants the event) and call redisAsyncHandleRead/Write on the
// strand. Once connected, a write request (a new command) posts one flush to
// the strand instead of waiting for writability, so that every command issued
// in one strand turn goes out in one write(). hiredis owns the fd: we release()
// the descriptor in the cleanup hook, never close it.
//
// Lifetimes. hiredis frees the context itself after a failed connect, a drop,
// or redisAsyncFree; it calls, in order, the pending reply callbacks with a
// NULL reply, the ev cleanup hook and the disconnect callback. ac->data and
// ac->ev.data point to a Connection, which is kept alive (shared_ptr) by every
// strand handler that calls into hiredis, so it outlives each of those calls;
// Connection::impl is the liveness flag (null once the Impl is destroyed) and
// Connection::ac is null once hiredis has let the context go.
//
// Commands. A PendingCommand is queued in pending_ (FIFO, deadlines in
// order): unsent while connecting, sent once connected. hiredis holds one
// shared_ptr to each sent command (privdata) until its callback runs. A
// command completes exactly once (done): with its reply, a timeout (deadline
// sweep), a cancellation, or the connection's loss; completion posts the
// handler to the caller's executor with a work guard held since submission.
#include "store/redis_client.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <deque>
#include <random>
#include <utility>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace agentgate {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

std::string_view RedisStateName(RedisState state) {
  switch (state) {
    case RedisState::kStopped:
      return "stopped";
    case RedisState::kConnecting:
      return "connecting";
    case RedisState::kConnected:
      return "connected";
    case RedisState::kDisconnected:
      return "disconnected";
  }
  return "?";
}

Nanos BackoffDelay(int attempt, Nanos min, Nanos max, double unit_random) {
  if (max < min) max = min;
  Nanos exp = min;
  for (int i = 0; i < attempt && exp < max; ++i) exp *= 2;
  exp = std::min(exp, max);
  const Nanos lo = std::max(min, exp / 2);
  const double u = std::clamp(unit_random, 0.0, 1.0);
  return lo + Nanos(static_cast<int64_t>(static_cast<double>((exp - lo).count()) * u));
}

RedisMetrics::RedisMetrics(MetricsRegistry& r, const std::string& concern)
    : commands(r.counter("agentgate_redis_commands_total", "Redis commands issued",
                         {{"concern", concern}})),
      errors(r.counter("agentgate_redis_errors_total",
                       "Redis commands that failed (transport, timeout) or got an error reply",
                       {{"concern", concern}})),
      timeouts(r.counter("agentgate_redis_timeouts_total",
                         "Redis commands that timed out or were cancelled", {{"concern", concern}})),
      reconnects(r.counter("agentgate_redis_reconnects_total",
                           "Redis connection attempts after a drop or a failed attempt",
                           {{"concern", concern}})),
      connected(r.gauge("agentgate_redis_connected", "1 when the Redis connection is up",
                        {{"concern", concern}})) {}

namespace {

// The steps of the connection handshake, passed as hiredis privdata.
enum class Handshake : intptr_t { kAuth = 1, kSelect = 2, kPing = 3 };

}  // namespace

// ------------------------------------------------------------------- Impl

struct PendingCommand {
  // Boost 1.81's any_completion_handler move-assignment recurses forever
  // (it copies from an lvalue through its converting constructor): the
  // handler is only ever move-constructed, here and into the completion.
  PendingCommand(std::vector<std::string> a, RedisClient::Handler h)
      : args(std::move(a)), handler(std::move(h)) {}

  std::vector<std::string> args;         // cleared once sent
  RedisClient::Handler handler;          // moved out on completion
  asio::any_io_executor work;            // caller's executor, work tracked
  SteadyClock::time_point deadline;
  bool done = false;      // completed (handler posted)
  bool sent = false;      // handed to hiredis
  bool in_queue = false;  // in Impl::pending_
};
using CommandPtr = std::shared_ptr<PendingCommand>;

class RedisClient::Impl : public std::enable_shared_from_this<RedisClient::Impl> {
 public:
  struct Connection;

  Impl(Executor executor, RedisOptions options, MetricsRegistry& registry,
       std::shared_ptr<std::atomic<RedisState>> state)
      : strand_(asio::make_strand(executor)),
        options_(std::move(options)),
        metrics_(registry, options_.concern),
        state_(std::move(state)),
        deadline_timer_(strand_),
        connect_timer_(strand_),
        reconnect_timer_(strand_),
        rng_(options_.jitter_seed != 0 ? options_.jitter_seed : std::random_device{}()) {}

  ~Impl();

  Status last_error() const {
    std::lock_guard lock(error_mu_);
    return last_error_;
  }

  // All below: on strand_ only.
  void do_start();
  void do_stop();
  void do_submit(const CommandPtr& cmd);
  void do_cancel(const CommandPtr& cmd) {
    complete(cmd, DeadlineExceeded("redis command cancelled"));
  }

  const asio::strand<Executor> strand_;
  const RedisOptions options_;

 private:
  void set_state(RedisState s) {
    state_->store(s, std::memory_order_release);
    metrics_.connected.set(s == RedisState::kConnected ? 1 : 0);
  }
  void set_last_error(const Status& s) {
    std::lock_guard lock(error_mu_);
    last_error_ = s;
  }

  void connect();
  void fail_attempt(const Status& why);
  void schedule_reconnect();
  void close_connection(const std::shared_ptr<Connection>& c, const Status& why);
  bool send(const CommandPtr& cmd);
  void complete(const CommandPtr& cmd, Result<RedisReply> result);
  void fail_unsent(const Status& why);
  void arm_deadline_timer();
  void on_deadline();

  // Called from hiredis (inside a call we made on the strand).
  void on_connect_result(Connection* c, int status);
  void on_handshake_reply(Connection* c, Handshake step, const redisReply* reply);
  void on_command_reply(const CommandPtr& cmd, const redisReply* reply, Connection* c,
                        const redisAsyncContext* ac);
  void on_closed(Connection* c);

  static void connect_cb(const redisAsyncContext* ac, int status);
  static void handshake_cb(redisAsyncContext* ac, void* reply, void* privdata);
  static void command_cb(redisAsyncContext* ac, void* reply, void* privdata);

  RedisMetrics metrics_;
  std::shared_ptr<std::atomic<RedisState>> state_;

  mutable std::mutex error_mu_;
  Status last_error_;  // GUARDED_BY(error_mu_)

  // Strand-only state.
  bool started_ = false;
  bool stopped_ = false;
  std::shared_ptr<Connection> conn_;  // the current connection, if any
  std::deque<CommandPtr> pending_;    // accepted, not answered, not timed out
  size_t hiredis_owned_ = 0;          // sent commands whose callback is due
  bool deadline_armed_ = false;
  asio::steady_timer deadline_timer_;
  asio::steady_timer connect_timer_;
  asio::steady_timer reconnect_timer_;
  int attempt_ = 0;  // consecutive failed attempts, for the backoff
  std::mt19937_64 rng_;
  std::vector<const char*> argv_;  // scratch for send()
  std::vector<size_t> argvlen_;
};

// Connection: one hiredis context and the socket watch. ac->data and
// ac->ev.data point here.
struct RedisClient::Impl::Connection : std::enable_shared_from_this<Connection> {
  Connection(Impl* owner, redisAsyncContext* context, const asio::strand<Executor>& strand)
      : impl(owner), ac(context), socket(strand) {}

  ~Connection() {
    // Never close hiredis' fd: it is released in on_cleanup (or never owned).
    if (socket.is_open()) socket.release();
  }

  Impl* impl;               // the liveness flag: null once the Impl is destroyed
  redisAsyncContext* ac;    // null once hiredis has freed (or is freeing) it
  asio::posix::stream_descriptor socket;
  bool want_read = false;   // hiredis asked for read events
  bool want_write = false;  // hiredis asked for write events
  bool read_armed = false;  // an async_wait(read) is outstanding
  bool write_armed = false;
  bool flush_posted = false;
  bool in_write = false;    // inside redisAsyncHandleWrite
  bool ready = false;       // handshake done
  Status close_reason;      // why it closed (OK until known)

  void arm_read() {
    if (read_armed || ac == nullptr) return;
    read_armed = true;
    socket.async_wait(asio::posix::descriptor_base::wait_read,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                        self->read_armed = false;
                        if (ec || self->ac == nullptr || !self->want_read) return;
                        redisAsyncHandleRead(self->ac);
                        if (self->ac != nullptr && self->want_read) self->arm_read();
                      });
  }

  void arm_write() {
    if (write_armed || ac == nullptr) return;
    write_armed = true;
    socket.async_wait(asio::posix::descriptor_base::wait_write,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                        self->write_armed = false;
                        if (ec) return;
                        self->handle_write();
                      });
  }

  void handle_write() {
    if (ac == nullptr || !want_write) return;
    in_write = true;
    redisAsyncHandleWrite(ac);  // may free ac (failed connect, write error)
    in_write = false;
  }

  // hooks
  void add_read() {
    want_read = true;
    arm_read();
  }
  void del_read() { want_read = false; }
  void add_write() {
    want_write = true;
    if (ac == nullptr) return;
    if (in_write || !(ac->c.flags & REDIS_CONNECTED)) {
      // Connecting (writability signals the connect), or a partial write:
      // wait for the socket.
      arm_write();
    } else if (!flush_posted) {
      // A new command: write it (and all others issued meanwhile) after this
      // strand turn, without an epoll round trip.
      flush_posted = true;
      asio::post(socket.get_executor(), [self = shared_from_this()] {
        self->flush_posted = false;
        self->handle_write();
      });
    }
  }
  void del_write() { want_write = false; }
  void on_cleanup() {
    if (ac == nullptr) return;  // hiredis may call the hook twice
    if (close_reason.ok()) {
      close_reason = ac->err != 0
                         ? Unavailable(std::string("redis connection lost: ") + ac->errstr)
                         : Unavailable("redis connection closed");
    }
    ac = nullptr;
    want_read = want_write = false;
    if (socket.is_open()) {
      socket.release();  // cancels the waits; hiredis closes the fd
    }
    if (impl != nullptr) impl->on_closed(this);
  }

  static void hook_add_read(void* p) { static_cast<Connection*>(p)->add_read(); }
  static void hook_del_read(void* p) { static_cast<Connection*>(p)->del_read(); }
  static void hook_add_write(void* p) { static_cast<Connection*>(p)->add_write(); }
  static void hook_del_write(void* p) { static_cast<Connection*>(p)->del_write(); }
  static void hook_cleanup(void* p) { static_cast<Connection*>(p)->on_cleanup(); }
};

RedisClient::Impl::~Impl() {
  // Normally stopped already. If the executor was destroyed with the client
  // still connected, detach and free: callbacks see impl == nullptr and only
  // release their commands (whose handlers are destroyed uninvoked, as Asio
  // does with every handler of a destroyed io_context).
  if (conn_ != nullptr) {
    conn_->impl = nullptr;
    if (conn_->ac != nullptr) {
      redisAsyncContext* ac = conn_->ac;
      auto keep = conn_;
      redisAsyncFree(ac);
    }
  }
}

void RedisClient::Impl::do_start() {
  if (started_ || stopped_) return;
  started_ = true;
  connect();
}

void RedisClient::Impl::do_stop() {
  if (stopped_) return;
  stopped_ = true;
  started_ = true;
  connect_timer_.cancel();
  reconnect_timer_.cancel();
  const Status why = Unavailable("redis client stopped");
  if (conn_ != nullptr) close_connection(conn_, why);
  fail_unsent(why);
  set_state(RedisState::kStopped);
  deadline_timer_.cancel();
}

void RedisClient::Impl::connect() {
  set_state(RedisState::kConnecting);
  redisAsyncContext* ac = redisAsyncConnect(options_.host.c_str(), options_.port);
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  if (ac == nullptr) {
    fail_attempt(Unavailable("redis connect to " + where + ": out of memory"));
    return;
  }
  if (ac->err != 0) {
    Status why = Unavailable("redis connect to " + where + ": " + ac->errstr);
    redisAsyncFree(ac);
    fail_attempt(why);
    return;
  }
  auto c = std::make_shared<Connection>(this, ac, strand_);
  boost::system::error_code ec;
  c->socket.assign(ac->c.fd, ec);
  if (ec) {
    c->ac = nullptr;
    redisAsyncFree(ac);  // no hooks attached yet
    fail_attempt(Unavailable("redis connect to " + where + ": " + ec.message()));
    return;
  }
  ac->data = c.get();
  ac->ev.data = c.get();
  ac->ev.addRead = &Connection::hook_add_read;
  ac->ev.delRead = &Connection::hook_del_read;
  ac->ev.addWrite = &Connection::hook_add_write;
  ac->ev.delWrite = &Connection::hook_del_write;
  ac->ev.cleanup = &Connection::hook_cleanup;
  conn_ = c;
  redisEnableKeepAlive(&ac->c);
  redisAsyncSetConnectCallback(ac, &Impl::connect_cb);  // watches for writability

  // The handshake is pipelined behind the connect; user commands wait in
  // pending_ until PING answers.
  auto send_step = [&](Handshake step, const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAsyncCommandArgv(ac, &Impl::handshake_cb,
                          reinterpret_cast<void*>(static_cast<intptr_t>(step)),
                          static_cast<int>(argv.size()), argv.data(), lens.data());
  };
  if (!options_.password.empty()) {
    send_step(Handshake::kAuth, {"AUTH", options_.password});
  }
  if (options_.db != 0) {
    send_step(Handshake::kSelect, {"SELECT", std::to_string(options_.db)});
  }
  send_step(Handshake::kPing, {"PING"});

  connect_timer_.expires_after(options_.connect_timeout);
  connect_timer_.async_wait([self = shared_from_this(), weak = std::weak_ptr<Connection>(c),
                             where](const boost::system::error_code& e) {
    if (e) return;
    std::shared_ptr<Connection> conn = weak.lock();
    if (conn == nullptr || conn != self->conn_ || conn->ready) return;
    self->close_connection(conn, Unavailable("redis connect to " + where + " timed out after " +
                                             std::to_string(self->options_.connect_timeout.count()) +
                                             " ms"));
  });
}

void RedisClient::Impl::fail_attempt(const Status& why) {
  set_last_error(why);
  fail_unsent(why);
  set_state(RedisState::kDisconnected);
  schedule_reconnect();
}

void RedisClient::Impl::schedule_reconnect() {
  if (stopped_) return;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const Nanos delay = BackoffDelay(attempt_, options_.reconnect_min_backoff,
                                   options_.reconnect_max_backoff, unit(rng_));
  if (attempt_ < 64) ++attempt_;
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    self->metrics_.reconnects.inc();
    self->connect();
  });
}

void RedisClient::Impl::close_connection(const std::shared_ptr<Connection>& c, const Status& why) {
  if (c->ac == nullptr) return;
  if (c->close_reason.ok()) c->close_reason = why;
  auto keep = c;  // hiredis calls back into *c until redisAsyncFree returns
  redisAsyncFree(c->ac);  // runs the reply callbacks (NULL), then on_cleanup
}

void RedisClient::Impl::on_connect_result(Connection* c, int status) {
  if (status != REDIS_OK && c->close_reason.ok() && c->ac != nullptr) {
    c->close_reason = Unavailable("redis connect to " + options_.host + ":" +
                                  std::to_string(options_.port) + " failed: " + c->ac->errstr);
  }
  // On failure hiredis frees the context right after: on_cleanup follows.
}

void RedisClient::Impl::on_handshake_reply(Connection* c, Handshake step,
                                           const redisReply* reply) {
  // A NULL reply: the connection is closing. An earlier step failed: keep
  // its reason (the steps after it fail too, e.g. NOAUTH after AUTH).
  if (reply == nullptr || c != conn_.get() || c->ac == nullptr || !c->close_reason.ok()) return;
  const char* name = step == Handshake::kAuth ? "AUTH" : step == Handshake::kSelect ? "SELECT" : "PING";
  const bool ok = reply->type == REDIS_REPLY_STATUS;
  if (!ok) {
    const std::string text = reply->type == REDIS_REPLY_ERROR || reply->type == REDIS_REPLY_STRING
                                 ? std::string(reply->str, reply->len)
                                 : "unexpected reply";
    c->close_reason = Unavailable(std::string("redis ") + name + " failed: " + text);
    // Not from inside hiredis' read loop: close on the next strand turn.
    asio::post(strand_, [self = shared_from_this(), conn = c->shared_from_this()] {
      self->close_connection(conn, conn->close_reason);
    });
    return;
  }
  if (step != Handshake::kPing) return;
  c->ready = true;
  connect_timer_.cancel();
  attempt_ = 0;
  set_state(RedisState::kConnected);
  // Send what waited for the connection, in order; drop what completed
  // (cancelled) meanwhile.
  std::deque<CommandPtr> waiting;
  waiting.swap(pending_);
  for (CommandPtr& cmd : waiting) {
    if (cmd->done) {
      cmd->in_queue = false;
      continue;
    }
    pending_.push_back(cmd);
    if (!send(cmd)) {
      pending_.pop_back();
      cmd->in_queue = false;
      complete(cmd, Unavailable("redis connection is closing"));
    }
  }
  arm_deadline_timer();
}

void RedisClient::Impl::on_closed(Connection* c) {
  if (conn_.get() != c) return;
  // Keep the Connection alive until hiredis has finished with it; the caller
  // holds a reference too, this only avoids depending on it.
  asio::post(strand_, [dying = std::move(conn_)] {});
  conn_.reset();
  connect_timer_.cancel();
  set_last_error(c->close_reason);
  fail_unsent(c->close_reason);
  if (stopped_) {
    set_state(RedisState::kStopped);
    return;
  }
  set_state(RedisState::kDisconnected);
  schedule_reconnect();
}

void RedisClient::Impl::do_submit(const CommandPtr& cmd) {
  metrics_.commands.inc();
  if (stopped_ || !started_) {
    complete(cmd, Unavailable(stopped_ ? "redis client stopped" : "redis client not started"));
    return;
  }
  if (cmd->args.empty()) {
    complete(cmd, InvalidArgument("redis: empty command"));
    return;
  }
  const RedisState state = state_->load(std::memory_order_relaxed);
  if (state == RedisState::kDisconnected) {
    Status why = last_error();
    complete(cmd, Unavailable("redis unavailable: " + why.message()));
    return;
  }
  const size_t load = hiredis_owned_ + (state == RedisState::kConnected ? 0 : pending_.size());
  if (load >= options_.max_pending) {
    complete(cmd, Unavailable("redis: too many commands pending (" + std::to_string(load) + ")"));
    return;
  }
  cmd->deadline = SteadyClock::now() + options_.command_timeout;
  cmd->in_queue = true;
  pending_.push_back(cmd);
  if (state == RedisState::kConnected && !send(cmd)) {
    pending_.pop_back();
    cmd->in_queue = false;
    complete(cmd, Unavailable("redis connection is closing"));
    return;
  }
  arm_deadline_timer();
}

bool RedisClient::Impl::send(const CommandPtr& cmd) {
  if (conn_ == nullptr || conn_->ac == nullptr || cmd->args.empty()) return false;
  argv_.clear();
  argvlen_.clear();
  for (const std::string& a : cmd->args) {
    argv_.push_back(a.data());
    argvlen_.push_back(a.size());
  }
  auto* holder = new CommandPtr(cmd);
  const int rc = redisAsyncCommandArgv(conn_->ac, &Impl::command_cb, holder,
                                       static_cast<int>(argv_.size()), argv_.data(),
                                       argvlen_.data());
  if (rc != REDIS_OK) {
    delete holder;
    return false;
  }
  ++hiredis_owned_;
  cmd->sent = true;
  std::vector<std::string>().swap(cmd->args);  // hiredis has its own copy
  return true;
}

void RedisClient::Impl::on_command_reply(const CommandPtr& cmd, const redisReply* reply,
                                         Connection* c, const redisAsyncContext* ac) {
  --hiredis_owned_;
  if (cmd->in_queue) {
    cmd->in_queue = false;
    if (!pending_.empty() && pending_.front() == cmd) {
      pending_.pop_front();  // the usual case: replies come in order
    } else {
      auto it = std::find(pending_.begin(), pending_.end(), cmd);
      if (it != pending_.end()) pending_.erase(it);
    }
  }
  if (cmd->done) return;
  if (reply == nullptr) {
    Status why = c->close_reason;
    if (why.ok()) {
      why = ac->err != 0 ? Unavailable(std::string("redis connection lost: ") + ac->errstr)
                         : Unavailable("redis connection closed");
    }
    complete(cmd, why);
    return;
  }
  complete(cmd, CopyRedisReply(reply));
}

void RedisClient::Impl::complete(const CommandPtr& cmd, Result<RedisReply> result) {
  if (cmd->done) return;
  cmd->done = true;
  if (!result.ok()) {
    metrics_.errors.inc();
    if (result.status().code() == StatusCode::kDeadlineExceeded) metrics_.timeouts.inc();
  } else if (result->is_error()) {
    metrics_.errors.inc();
  }
  asio::any_io_executor work = std::move(cmd->work);
  asio::post(work, [handler = std::move(cmd->handler), r = std::move(result)]() mutable {
    asio::cancellation_slot slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) slot.clear();
    std::move(handler)(std::move(r));
  });
}

void RedisClient::Impl::fail_unsent(const Status& why) {
  if (pending_.empty()) return;
  std::deque<CommandPtr> keep;
  for (CommandPtr& cmd : pending_) {
    if (cmd->sent) {
      keep.push_back(std::move(cmd));
    } else {
      cmd->in_queue = false;
      complete(cmd, why);
    }
  }
  pending_.swap(keep);
}

void RedisClient::Impl::arm_deadline_timer() {
  if (deadline_armed_ || pending_.empty()) return;
  deadline_armed_ = true;
  deadline_timer_.expires_at(pending_.front()->deadline);
  deadline_timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
    self->deadline_armed_ = false;
    self->on_deadline();
  });
}

void RedisClient::Impl::on_deadline() {
  const auto now = SteadyClock::now();
  while (!pending_.empty() && pending_.front()->deadline <= now) {
    CommandPtr cmd = std::move(pending_.front());
    pending_.pop_front();
    cmd->in_queue = false;
    // A sent command stays owned by hiredis until its reply (or the
    // connection's end) arrives; the reply is then dropped.
    complete(cmd, DeadlineExceeded("redis command timed out after " +
                                   std::to_string(options_.command_timeout.count()) + " ms"));
  }
  arm_deadline_timer();
}

void RedisClient::Impl::connect_cb(const redisAsyncContext* ac, int status) {
  auto* c = static_cast<Connection*>(ac->data);
  if (c == nullptr || c->impl == nullptr) return;
  c->impl->on_connect_result(c, status);
}

void RedisClient::Impl::handshake_cb(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* c = static_cast<Connection*>(ac->data);
  if (c == nullptr || c->impl == nullptr) return;
  c->impl->on_handshake_reply(
      c, static_cast<Handshake>(reinterpret_cast<intptr_t>(privdata)),
      static_cast<const redisReply*>(reply));
}

void RedisClient::Impl::command_cb(redisAsyncContext* ac, void* reply, void* privdata) {
  std::unique_ptr<CommandPtr> holder(static_cast<CommandPtr*>(privdata));
  auto* c = static_cast<Connection*>(ac->data);
  if (c == nullptr || c->impl == nullptr) return;  // the Impl is gone: drop
  c->impl->on_command_reply(*holder, static_cast<const redisReply*>(reply), c, ac);
}

// -------------------------------------------------------------- RedisClient

RedisClient::RedisClient(Executor executor, RedisOptions options, MetricsRegistry& metrics)
    : state_(std::make_shared<std::atomic<RedisState>>(RedisState::kStopped)) {
  impl_ = std::make_shared<Impl>(std::move(executor), std::move(options), metrics, state_);
}

RedisClient::~RedisClient() { stop(); }

void RedisClient::start() {
  asio::post(impl_->strand_, [impl = impl_] { impl->do_start(); });
}

void RedisClient::stop() {
  asio::post(impl_->strand_, [impl = impl_] { impl->do_stop(); });
}

Status RedisClient::last_error() const { return impl_->last_error(); }

const RedisOptions& RedisClient::options() const { return impl_->options_; }

asio::awaitable<Result<RedisReply>> RedisClient::command(std::vector<std::string> args) {
  return async_command(std::move(args), asio::use_awaitable);
}

RedisClient::Executor RedisClient::executor() const { return impl_->strand_; }

void RedisClient::submit(std::vector<std::string> args, Handler handler,
                         Executor handler_executor) {
  asio::cancellation_slot slot = asio::get_associated_cancellation_slot(handler);
  auto cmd = std::make_shared<PendingCommand>(std::move(args), std::move(handler));
  cmd->work = asio::prefer(std::move(handler_executor), asio::execution::outstanding_work.tracked);
  if (slot.is_connected()) {
    // Runs on the canceller's thread; completes the command on the strand.
    slot.assign([weak_impl = std::weak_ptr<Impl>(impl_),
                 weak_cmd = std::weak_ptr<PendingCommand>(cmd)](asio::cancellation_type_t type) {
      if (type == asio::cancellation_type::none) return;
      std::shared_ptr<Impl> impl = weak_impl.lock();
      if (impl == nullptr) return;
      asio::post(impl->strand_, [impl, weak_cmd] {
        if (CommandPtr c = weak_cmd.lock()) impl->do_cancel(c);
      });
    });
  }
  asio::dispatch(impl_->strand_, [impl = impl_, cmd = std::move(cmd)] { impl->do_submit(cmd); });
}

}  // namespace agentgate
