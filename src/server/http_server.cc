#include "server/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <list>
#include <thread>
#include <unordered_map>

#include "agentgate/core/drained_read.h"
#include "server/error_response.h"
#include "server/request_id.h"
#include "server/request_parser.h"

namespace agentgate {

using namespace std::string_view_literals;

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
thread_local int tls_worker = -1;

std::string_view ReasonPhrase(int status) {
  return http::obsolete_reason(static_cast<http::status>(status));
}

HttpMethod ToMethod(http::verb v) {
  switch (v) {
    case http::verb::get: return HttpMethod::kGet;
    case http::verb::head: return HttpMethod::kHead;
    case http::verb::post: return HttpMethod::kPost;
    case http::verb::put: return HttpMethod::kPut;
    case http::verb::delete_: return HttpMethod::kDelete;
    case http::verb::patch: return HttpMethod::kPatch;
    case http::verb::options: return HttpMethod::kOptions;
    default: return HttpMethod::kOther;
  }
}

// AppendDecimal / AppendStatusLine: response head pieces without fmt (hot path).
void AppendDecimal(std::string& out, size_t v) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out.append(p, static_cast<size_t>(end - p));
}

void AppendStatusLine(std::string& out, int status) {
  out += "HTTP/1.1 "sv;
  AppendDecimal(out, static_cast<size_t>(status));
  out += ' ';
  out += ReasonPhrase(status);
  out += "\r\n"sv;
}

// Phase of a connection, for the timeout sweep.
enum class Phase {
  kIdle,      // waiting for the first byte of a request (idle_timeout)
  kHeader,    // reading the header section (header_timeout)
  kBody,      // reading the body (body_timeout)
  kHandling,  // the handler runs; it owns its own timeouts
  kWriting,   // writing to the client (body_timeout)
};

struct Connection {
  tcp::socket socket;
  Phase phase = Phase::kIdle;
  Nanos deadline{0};
  // Set to kSweepsBeforeFinCheck as each read starts, counted down by the
  // sweeps while it waits: at 0 the sweep looks once for a FIN queued behind
  // the bytes of the read before, which that read could not see (see Sweep).
  static constexpr uint8_t kSweepsBeforeFinCheck = 2;
  uint8_t sweeps_until_fin_check = 0;
  bool timed_out = false;
  explicit Connection(tcp::socket s) : socket(std::move(s)) {}
};

// Bodies up to this size are copied behind the head and written as one
// buffer: Asio sends one buffer with send(2), which costs the kernel less than
// the sendmsg(2) of a gather write.
constexpr size_t kJoinBodyBytes = 4096;

// Advance: drops the first n bytes of a buffer sequence.
template <size_t N>
std::vector<net::const_buffer> Advance(const std::array<net::const_buffer, N>& bufs, size_t n) {
  std::vector<net::const_buffer> rest;
  for (const auto& b : bufs) {
    if (n >= b.size()) {
      n -= b.size();
      continue;
    }
    rest.push_back(b + n);
    n = 0;
  }
  return rest;
}

// WriteAll: tries the write at once (one syscall, no event loop round trip),
// and falls back to an async write for what the socket did not take.
template <size_t N>
net::awaitable<bool> WriteAll(Connection& c, const std::array<net::const_buffer, N>& bufs) {
  size_t total = net::buffer_size(bufs);
  boost::system::error_code ec;
  // One buffer goes out with send(2), cheaper in the kernel than sendmsg(2).
  size_t n = 0;
  if constexpr (N == 1) {
    n = c.socket.write_some(bufs[0], ec);
  } else {
    n = c.socket.write_some(bufs, ec);
  }
  if (!ec && n == total) co_return true;
  if (ec && ec != net::error::would_block && ec != net::error::try_again) co_return false;
  if (ec) n = 0;
  auto rest = Advance(bufs, n);
  auto [wec, written] = co_await net::async_write(c.socket, rest, kNoThrow);
  (void)written;
  co_return !wec;
}

}  // namespace

struct HttpServer::Impl {
  struct Worker {
    int index = 0;
    // One thread runs it, and every socket and timer on it is used only from
    // that thread (other threads post to it): the reactor need not lock each
    // descriptor (two lock/unlock pairs per read and per write otherwise).
    net::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    std::unique_ptr<tcp::acceptor> acceptor;
    bool listener_options = false;  // accepted sockets inherit TCP_NODELAY
    std::list<Connection*> connections;  // touched only on this worker's thread
    std::thread thread;
    // Per-worker metric handles, so the hot path never takes the registry lock.
    // Keyed by (route pattern address, status): patterns are stable strings.
    std::unordered_map<uint64_t, Counter*> request_counters;
    std::unordered_map<std::string_view, Histogram*> latency_histograms;
  };

  HttpServer& server;
  HttpServerOptions options;
  Handler handler;
  MetricsRegistry* metrics;
  std::vector<std::unique_ptr<Worker>> workers;
  std::shared_ptr<spdlog::logger> access_log;
  Counter* rejected = nullptr;
  Counter* timeouts = nullptr;
  Counter* bad_requests = nullptr;
  Gauge* open_connections = nullptr;
  std::mutex shutdown_mu;
  bool joined = false;  // GUARDED_BY(shutdown_mu)

  Impl(HttpServer& s, HttpServerOptions o, Handler h, MetricsRegistry* m)
      : server(s), options(std::move(o)), handler(std::move(h)), metrics(m) {
    if (metrics) {
      Labels l = {{"server", options.name}};
      rejected = &metrics->counter("agentgate_http_connections_rejected_total",
                                   "Connections refused because max_connections was reached", l);
      timeouts = &metrics->counter("agentgate_http_timeouts_total",
                                   "Connections closed by the idle, header or body timeout", l);
      bad_requests = &metrics->counter("agentgate_http_malformed_requests_total",
                                       "Requests that could not be parsed or were over a limit", l);
      open_connections = &metrics->gauge("agentgate_http_open_connections",
                                         "Client connections currently open", l);
    }
    if (options.access_log != AccessLogFormat::kOff) {
      access_log = spdlog::get("access");
      if (!access_log) access_log = spdlog::default_logger();
    }
  }

  const Clock& clock() const { return options.clock ? *options.clock : Clock::system(); }

  void Count(Worker& w, std::string_view route, int status, Nanos elapsed) {
    if (!metrics) return;
    uint64_t key = (reinterpret_cast<uintptr_t>(route.data()) << 10) ^ static_cast<uint64_t>(status);
    auto it = w.request_counters.find(key);
    if (it == w.request_counters.end()) {
      Counter* c = &metrics->counter(
          "agentgate_http_requests_total", "HTTP requests answered, by route and status code",
          {{"server", options.name}, {"route", std::string(route)}, {"code", std::to_string(status)}});
      it = w.request_counters.emplace(key, c).first;
    }
    it->second->inc();
    auto h = w.latency_histograms.find(route);
    if (h == w.latency_histograms.end()) {
      Histogram* hist = &metrics->histogram(
          "agentgate_http_request_duration_seconds", "Time from request read to response written",
          Histogram::LatencySeconds(), {{"server", options.name}, {"route", std::string(route)}});
      // Route patterns outlive the server (router-owned); "" and literals are static.
      h = w.latency_histograms.emplace(route, hist).first;
    }
    h->second->observe(ToSeconds(elapsed));
  }

  void Record(Worker& w, const HttpRequest& req, const HttpResponse& res, int status,
              size_t bytes, Nanos started) {
    Nanos elapsed = Clock::system().monotonic() - started;
    Count(w, res.route.empty() ? std::string_view("unmatched") : res.route, status, elapsed);
    LogAccess(req, status, bytes, elapsed);
  }

  void LogAccess(const HttpRequest& req, int status, size_t bytes, Nanos elapsed) {
    if (!access_log) return;
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    if (options.access_log == AccessLogFormat::kJson) {
      access_log->info(
          R"({{"remote":"{}","method":"{}","target":"{}","status":{},"bytes":{},"duration_us":{},"request_id":"{}"}})",
          req.remote_address, req.method_name, EscapeLabelValue(req.target), status, bytes, micros,
          req.request_id);
    } else {
      access_log->info("{} \"{} {}\" {} {} {}us id={}", req.remote_address, req.method_name,
                       req.target, status, bytes, micros, req.request_id);
    }
  }

  // Sweep: closes connections past their deadline, idle ones when stopping,
  // and those whose peer has closed while a read waits for epoll in vain:
  // the server reads with ShortRead (recv(2), about 280 ns cheaper than
  // recvmsg with TCP_INQ), which cannot see a FIN that came with a request's
  // bytes. A read still waiting at its second sweep gets one look (a peek);
  // so a busy connection is never looked at, and a client that half-closes
  // after its request is closed 250-500 ms after its answer, not at once as
  // by nginx (which learns of the FIN from EPOLLRDHUP; Asio does not ask).
  net::awaitable<void> Sweep(Worker& w) {
    net::steady_timer timer(w.ioc);
    for (;;) {
      timer.expires_after(250ms);
      auto [ec] = co_await timer.async_wait(kNoThrow);
      (void)ec;
      CloseExpired(w);
    }
  }

  void CloseExpired(Worker& w) {
    Nanos now = clock().coarse_monotonic();
    bool stopping = server.stopping();
    for (Connection* c : w.connections) {
      bool idle_and_stopping = stopping && c->phase == Phase::kIdle;
      bool expired = c->phase != Phase::kHandling && c->deadline.count() != 0 && now > c->deadline;
      bool reading = c->phase == Phase::kIdle || c->phase == Phase::kHeader ||
                     c->phase == Phase::kBody;
      bool peer_closed = false;
      if (reading && c->sweeps_until_fin_check != 0 && --c->sweeps_until_fin_check == 0) {
        peer_closed = PeerHasClosed(c->socket);
      }
      if (peer_closed && c->socket.is_open()) {
        // Cancel, not close: the read may have completed already (its bytes
        // taken, the FIN left), its session not yet resumed; that session
        // answers, and its next read is looked at in turn. A waiting read
        // ends with operation_aborted, and its session with it.
        boost::system::error_code ec;
        c->socket.cancel(ec);
      } else if ((idle_and_stopping || expired) && c->socket.is_open()) {
        if (expired && !idle_and_stopping) {
          c->timed_out = true;
          if (timeouts) timeouts->inc();
        }
        boost::system::error_code ec;
        c->socket.shutdown(tcp::socket::shutdown_both, ec);
        c->socket.close(ec);
      }
    }
  }

  net::awaitable<void> Accept(Worker& w) {
    for (;;) {
      // accept() fills in the peer's address: no getpeername() in Session.
      tcp::socket socket(w.ioc);
      tcp::endpoint peer;
      auto [ec] = co_await w.acceptor->async_accept(socket, peer, kNoThrow);
      if (ec) {
        if (ec == net::error::operation_aborted || server.stopping()) co_return;
        // Out of descriptors and the like: back off briefly rather than spin.
        spdlog::warn("accept failed: {}", ec.message());
        net::steady_timer t(w.ioc, 50ms);
        co_await t.async_wait(kNoThrow);
        continue;
      }
      if (server.active_.load(std::memory_order_relaxed) >= options.max_connections) {
        if (rejected) rejected->inc();
        static const std::string kBusy = [] {
          std::string body = ErrorBody("too many open connections", "service_unavailable",
                                       "too_many_connections");
          return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                 "Connection: close\r\nRetry-After: 1\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body;
        }();
        boost::system::error_code wec;
        socket.non_blocking(true, wec);
        socket.write_some(net::buffer(kBusy), wec);
        socket.close(wec);
        continue;
      }
      net::co_spawn(w.ioc, Session(w, std::move(socket), peer), net::detached);
    }
  }

  // ParseBuffered: feeds the buffered bytes to the parser; true when that
  // ended the request (done, or an error in `ec`).
  static bool ParseBuffered(boost::beast::flat_buffer& buffer, RequestParser& parser,
                            boost::system::error_code& ec) {
    while (buffer.size() > 0) {
      size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more) ec = {};
      if (ec || parser.is_done()) return true;
      if (used == 0 || parser.is_header_done()) break;
    }
    return false;
  }

  // ReadRequest: parses the buffered bytes and reads more only when the
  // parser needs them. A request that is already in the buffer (the usual
  // case: it came with the first read) completes without a trip through the
  // event loop, where Beast's async_read/async_read_header post their
  // completion (one epoll_wait each). Same errors as Beast's read:
  // http::error::end_of_stream when the peer closed before a byte of the
  // request, the parser's errors (header_limit, body_limit, partial_message,
  // ...) otherwise. Answers "Expect: 100-continue" once the header is in and
  // before the body is read. Moves the connection's phase and deadline from
  // header to body.
  net::awaitable<boost::system::error_code> ReadRequest(
      Connection& c, boost::beast::flat_buffer& buffer, RequestParser& parser) {
    bool header_seen = false;
    for (;;) {
      boost::system::error_code ec;
      if (ParseBuffered(buffer, parser, ec)) co_return ec;
      if (parser.is_header_done() && !header_seen) {
        header_seen = true;
        if (parser.field("expect") == "100-continue") {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          if (!co_await WriteAll(c, std::array<net::const_buffer, 1>{net::buffer(kContinue)})) {
            co_return net::error::connection_reset;
          }
        }
        c.phase = Phase::kBody;
        c.deadline = clock().coarse_monotonic() + options.body_timeout;
      }
      size_t size = boost::beast::read_size(buffer, 65536);
      if (size == 0) co_return http::error::buffer_overflow;
      c.sweeps_until_fin_check = Connection::kSweepsBeforeFinCheck;
      auto [rec, n] =
          co_await c.socket.async_read_some(ShortRead{buffer.prepare(size)}, kNoThrow);
      if (rec == net::error::eof) {
        if (!parser.got_some()) co_return http::error::end_of_stream;
        parser.put_eof(ec);
        co_return ec;
      }
      if (rec) co_return rec;
      buffer.commit(n);
    }
  }

  // SendSimple: a complete response with no handler involved (parse errors).
  net::awaitable<void> SendError(Connection& c, const Status& s, std::string_view request_id) {
    HttpErrorKind k = HttpErrorKindFor(s.code());
    std::string body = ErrorBody(s.message(), k.type, k.code);
    std::string head = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
        "Connection: close\r\nX-Request-Id: {}\r\n\r\n",
        k.http_status, ReasonPhrase(k.http_status), body.size(), request_id);
    c.phase = Phase::kWriting;
    c.deadline = clock().coarse_monotonic() + options.body_timeout;
    co_await WriteAll(c, std::array<net::const_buffer, 2>{net::buffer(head), net::buffer(body)});
  }

  class Stream final : public ResponseStream {
   public:
    Stream(Impl& impl, Connection& c, const HttpRequest& req, bool chunked)
        : impl_(impl), c_(c), req_(req), chunked_(chunked) {}

    net::awaitable<bool> begin(int status, std::string_view content_type,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               bool hold) override {
      started_ = true;
      status_ = status;
      head_ = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nX-Request-Id: {}\r\n", status,
                          ReasonPhrase(status), content_type, req_.request_id);
      head_ += chunked_ ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n";
      for (const auto& [k, v] : headers) {
        head_ += k;
        head_ += ": "sv;
        head_ += v;
        head_ += "\r\n"sv;
      }
      head_ += "\r\n"sv;
      if (hold) co_return true;  // goes out with the first write() or finish()
      co_return co_await Send(std::array<net::const_buffer, 0>{});
    }

    net::awaitable<bool> write(std::string_view data) override {
      co_return co_await SendPieces(std::span<const std::string_view>(&data, 1), /*end=*/false);
    }

    net::awaitable<bool> write_pieces(std::span<const std::string_view> pieces) override {
      co_return co_await SendPieces(pieces, /*end=*/false);
    }

    net::awaitable<bool> finish() override {
      co_return co_await SendPieces({}, /*end=*/true);
    }

    net::awaitable<bool> finish_with(std::span<const std::string_view> pieces) override {
      co_return co_await SendPieces(pieces, /*end=*/true);
    }

    bool started() const override { return started_; }
    bool finished() const { return finished_; }
    bool ok() const { return ok_; }
    int status() const { return status_; }
    size_t bytes() const { return bytes_; }

   private:
    static constexpr size_t kPiecesPerWrite = 16;

    // SendPieces: the pieces as one chunk per write, up to kPiecesPerWrite
    // at a time; with `end`, the stream's end goes in the last write.
    net::awaitable<bool> SendPieces(std::span<const std::string_view> pieces, bool end) {
      if (finished_) co_return ok_;
      finished_ = end;
      while (ok_) {
        const size_t k = std::min(pieces.size(), kPiecesPerWrite);
        // The chunk's size line, its pieces, its CRLF, the last chunk.
        std::array<net::const_buffer, kPiecesPerWrite + 3> bufs;
        size_t size = 0;
        for (size_t i = 0; i < k; ++i) {
          bufs[i + 1] = net::buffer(pieces[i]);
          size += pieces[i].size();
        }
        pieces = pieces.subspan(k);
        const bool last = pieces.empty();
        char size_line[24];
        if (chunked_ && size > 0) {
          int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", size);
          bufs[0] = net::buffer(size_line, static_cast<size_t>(n));
          bufs[k + 1] = net::buffer("\r\n", 2);
        }
        if (chunked_ && last && end) bufs[k + 2] = net::buffer("0\r\n\r\n", 5);
        bytes_ += size;
        // Nothing to send: only a held head would go, and finish() sends it.
        if (size > 0 || (last && end)) {
          if (!co_await Send(bufs)) break;
        }
        if (last) break;
      }
      co_return ok_;
    }

    // Send: `bufs`, after the head if it is still unsent, in one write.
    template <size_t N>
    net::awaitable<bool> Send(const std::array<net::const_buffer, N>& bufs) {
      std::array<net::const_buffer, N + 1> all;
      all[0] = net::buffer(head_);  // empty once sent
      for (size_t i = 0; i < N; ++i) all[i + 1] = bufs[i];
      Phase before = c_.phase;
      c_.phase = Phase::kWriting;
      c_.deadline = impl_.clock().coarse_monotonic() + impl_.options.body_timeout;
      ok_ = co_await WriteAll(c_, all);
      c_.phase = before;
      head_.clear();
      co_return ok_;
    }

    Impl& impl_;
    Connection& c_;
    const HttpRequest& req_;
    bool chunked_;
    bool started_ = false;
    bool finished_ = false;
    bool ok_ = true;
    int status_ = 0;
    size_t bytes_ = 0;
    std::string head_;  // the status line and headers until they are sent
  };

  net::awaitable<void> Session(Worker& w, tcp::socket socket, tcp::endpoint peer) {
    server.active_.fetch_add(1, std::memory_order_relaxed);
    if (open_connections) open_connections->add(1);
    Connection c(std::move(socket));
    auto registered = w.connections.insert(w.connections.end(), &c);

    boost::system::error_code ec;
    // TCP_NODELAY comes from the listener (Linux copies a listener's TCP
    // options into the sockets it accepts); set here only where the listener
    // could not take it.
    if (!w.listener_options) c.socket.set_option(tcp::no_delay(true), ec);
    c.socket.non_blocking(true, ec);
    std::string remote = peer.address().to_string();
    bool loopback = peer.address().is_loopback();

    boost::beast::flat_buffer buffer;
    buffer.reserve(16 * 1024);
    // Reused from one request to the next, so that a warm connection parses
    // a request without allocating.
    RequestStorage storage;
    HttpRequest req;
    HttpResponse res;
    std::string head;
    head.reserve(512);

    // A new connection's first request has usually arrived with it: read it
    // at once, so that it is answered (up to its first wait, the upstream's
    // reply) before the acceptor's next attempt and without a trip through
    // the event loop. Nothing there yet: the loop below waits for it.
    if (size_t n = c.socket.read_some(buffer.prepare(16 * 1024), ec); !ec) buffer.commit(n);

    for (;;) {
      // Idle: wait for the first byte of the next request.
      if (buffer.size() == 0) {
        if (server.stopping()) break;
        c.phase = Phase::kIdle;
        c.deadline = clock().coarse_monotonic() + options.idle_timeout;
        c.sweeps_until_fin_check = Connection::kSweepsBeforeFinCheck;
        auto [rec, n] =
            co_await c.socket.async_read_some(ShortRead{buffer.prepare(16 * 1024)}, kNoThrow);
        if (rec) break;
        buffer.commit(n);
      }

      c.phase = Phase::kHeader;
      Nanos started = Clock::system().monotonic();
      c.deadline = clock().coarse_monotonic() + options.header_timeout;
      RequestParser parser(storage, req.body);
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      parser.body_limit(static_cast<std::uint64_t>(options.max_body_bytes));
      parser.eager(true);
      // A request already in the buffer (the usual case) needs no coroutine.
      boost::system::error_code hec;
      if (!ParseBuffered(buffer, parser, hec)) hec = co_await ReadRequest(c, buffer, parser);
      std::string generated_id;
      if (hec) {
        if (c.timed_out || hec == http::error::end_of_stream || hec == net::error::eof ||
            hec == net::error::connection_reset || hec == net::error::operation_aborted ||
            hec == net::error::bad_descriptor) {
          break;
        }
        if (bad_requests) bad_requests->inc();
        Status s = hec == http::error::body_limit
                       ? Status(StatusCode::kPayloadTooLarge,
                                fmt::format("request body exceeds the limit of {} bytes",
                                            options.max_body_bytes))
                   : hec == http::error::header_limit
                       ? Status(StatusCode::kHeadersTooLarge,
                                fmt::format("request headers exceed the limit of {} bytes",
                                            options.max_header_bytes))
                       : InvalidArgument("malformed HTTP request: " + hec.message());
        AssignNewRequestId(generated_id);
        co_await SendError(c, s, generated_id);
        break;
      }

      // Build the handler's view of the request.
      req.method = ToMethod(parser.method());
      req.method_name = parser.method_string();
      req.target = parser.target();
      size_t q = req.target.find('?');
      req.path = req.target.substr(0, q);
      req.query = q == std::string_view::npos ? std::string_view() : req.target.substr(q + 1);
      parser.headers(req.headers);  // the body is already in req.body
      req.remote_address = remote;
      req.remote_is_loopback = loopback;
      req.path_params.clear();
      std::string_view client_id = parser.field("x-request-id");
      if (ValidRequestId(client_id)) {
        req.request_id.assign(client_id);
      } else {
        AssignNewRequestId(req.request_id);
      }
      bool keep_alive = parser.keep_alive() && !server.stopping();
      bool http11 = parser.version() >= 11;

      res.status = 200;
      res.content_type = "application/json";
      res.headers.clear();
      res.body.clear();
      res.close = false;
      res.abort = false;
      res.route = {};
      Stream stream(*this, c, req, http11);
      res.set_stream(&stream);

      c.phase = Phase::kHandling;
      try {
        co_await handler(req, res);
      } catch (const std::exception& e) {
        spdlog::error("request {} {} failed: {}", req.method_name, req.target, e.what());
        if (!stream.started()) SetError(res, Internal("internal error"));
      }

      if (res.abort) break;
      int status = res.status;
      size_t bytes = 0;
      if (stream.started()) {
        if (!stream.finished()) co_await stream.finish();
        status = stream.status();
        bytes = stream.bytes();
        if (!stream.ok() || !http11) keep_alive = false;
      } else {
        keep_alive = keep_alive && !res.close && !server.stopping();
        head.clear();
        AppendStatusLine(head, res.status);
        head += "Content-Type: "sv;
        head += res.content_type;
        head += "\r\nContent-Length: "sv;
        AppendDecimal(head, res.body.size());
        head += "\r\nX-Request-Id: "sv;
        head += req.request_id;
        head += "\r\n"sv;
        if (!keep_alive) head += "Connection: close\r\n"sv;
        for (const auto& [k, v] : res.headers) {
          head += k;
          head += ": "sv;
          head += v;
          head += "\r\n"sv;
        }
        head += "\r\n"sv;
        bool head_only = req.method == HttpMethod::kHead;
        c.phase = Phase::kWriting;
        c.deadline = clock().coarse_monotonic() + options.body_timeout;
        // Recorded before the write so that a client that reads the answer
        // sees it counted (the write itself is one immediate syscall).
        bytes = res.body.size();
        Record(w, req, res, status, bytes, started);
        bool ok = false;
        if (head_only || res.body.size() <= kJoinBodyBytes) {
          // One buffer (a copy of a small body is cheaper than a gather write).
          if (!head_only) head += res.body;
          ok = co_await WriteAll(c, std::array<net::const_buffer, 1>{net::buffer(head)});
        } else {
          ok = co_await WriteAll(
              c, std::array<net::const_buffer, 2>{net::buffer(head), net::buffer(res.body)});
        }
        if (!ok) keep_alive = false;
      }
      if (stream.started()) Record(w, req, res, status, bytes, started);
      if (!keep_alive) break;
    }

    c.socket.shutdown(tcp::socket::shutdown_send, ec);
    c.socket.close(ec);
    w.connections.erase(registered);
    if (open_connections) open_connections->add(-1);
    server.active_.fetch_sub(1, std::memory_order_relaxed);
  }
};

HttpServer::HttpServer(HttpServerOptions options, Handler handler, MetricsRegistry* metrics)
    : impl_(std::make_unique<Impl>(*this, std::move(options), std::move(handler), metrics)) {}

HttpServer::~HttpServer() { shutdown(); }

int HttpServer::worker_count() const { return static_cast<int>(impl_->workers.size()); }

int HttpServer::CurrentWorker() { return tls_worker; }

Status HttpServer::start() {
  auto& o = impl_->options;
  int threads = o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  boost::system::error_code ec;
  auto address = net::ip::make_address(o.host, ec);
  if (ec) return InvalidArgument("server.host: not an IP address: " + o.host);
  uint16_t port = o.port;
  for (int i = 0; i < threads; ++i) {
    auto w = std::make_unique<Impl::Worker>();
    w->index = i;
    w->acceptor = std::make_unique<tcp::acceptor>(w->ioc);
    tcp::endpoint ep(address, port);
    w->acceptor->open(ep.protocol(), ec);
    if (!ec) w->acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(w->acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        ec.assign(errno, boost::system::system_category());
      }
    }
    if (!ec) {
      w->acceptor->set_option(tcp::no_delay(true), ec);
      w->listener_options = !ec;
      ec = {};
    }
    if (!ec) w->acceptor->bind(ep, ec);
    if (!ec) w->acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable(fmt::format("cannot listen on {}:{}: {}", o.host, port, ec.message()));
    }
    port = w->acceptor->local_endpoint().port();
    impl_->workers.push_back(std::move(w));
  }
  port_ = port;
  for (auto& wp : impl_->workers) {
    Impl::Worker* w = wp.get();
    net::co_spawn(w->ioc, impl_->Accept(*w), net::detached);
    net::co_spawn(w->ioc, impl_->Sweep(*w), net::detached);
    w->thread = std::thread([w] {
      tls_worker = w->index;
      w->ioc.run();
    });
  }
  return Status::Ok();
}

void HttpServer::shutdown() {
  std::lock_guard lock(impl_->shutdown_mu);
  if (impl_->joined) return;
  impl_->joined = true;
  stopping_.store(true, std::memory_order_release);
  for (auto& w : impl_->workers) {
    net::post(w->ioc, [this, wp = w.get()] {
      boost::system::error_code ec;
      wp->acceptor->close(ec);
      impl_->CloseExpired(*wp);
    });
  }
  Nanos deadline = Clock::system().monotonic() + impl_->options.shutdown_grace;
  while (active_.load() > 0 && Clock::system().monotonic() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  if (active_.load() > 0) {
    spdlog::warn("shutdown grace period over with {} connections open; closing them",
                 active_.load());
  }
  for (auto& w : impl_->workers) w->ioc.stop();
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace agentgate
