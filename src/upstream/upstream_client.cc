#include "upstream/upstream_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "agentgate/core/drained_read.h"
#include "agentgate/perf/profiler.h"

namespace agentgate {

using namespace std::string_view_literals;

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using ErrorCode = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
constexpr size_t kReadChunk = 16 * 1024;  // per-connection read buffer (grows for big headers)
constexpr size_t kParsePadding = 64;      // spare capacity after a whole body (see on_body_init_impl)

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

long long Millis(Nanos d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

// IsHopByHop: headers that describe one connection, not the message
// (RFC 9110 7.6.1), plus framing the client computes itself.
bool IsHopByHopOrFraming(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
      "content-length", "host"};
  for (std::string_view n : kNames) {
    if (IEquals(name, n)) return true;
  }
  return IStartsWith(name, "proxy-");
}

// kTokenChar[c]: c may appear in an HTTP token (RFC 9110 5.6.2).
constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0x21; c < 0x7f; ++c) t[static_cast<size_t>(c)] = true;
  for (char c : std::string_view(":(),/;<=>?@[\\]{}\"")) t[static_cast<unsigned char>(c)] = false;
  return t;
}();

bool ValidToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!kTokenChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

bool ValidFieldValue(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// Phase of an exchange on a connection, for the timeout's message.
enum class Phase {
  kConnect,    // resolving, connecting, TLS handshake (connect_timeout)
  kFirstByte,  // request written, waiting for the answer (first_byte_timeout)
  kBody,       // reading the rest of the answer (request_timeout)
};

}  // namespace

// Shared: immutable after Create, except the atomics. Co-owned by the client
// and by its connections (which may outlive the client in an idle pool).
struct UpstreamClient::Shared {
  UpstreamEndpoint ep;
  uint64_t id = 0;                 // keys this client's pools in each io_context
  std::optional<ssl::context> ssl_ctx;  // https only
  std::string fixed_head;          // "Host: ...\r\nAuthorization: ...\r\n"
  bool numeric_host = false;
  net::ip::address address;        // when numeric_host
  std::atomic<int> open{0};        // open connections, all threads
  std::atomic<bool> alive{true};   // false once the client is destroyed

  // Metrics (all null without a registry).
  Counter* requests = nullptr;
  Counter* created = nullptr;
  Counter* retries = nullptr;
  Counter* cancelled = nullptr;
  Counter* err_unavailable = nullptr;
  Counter* err_deadline = nullptr;
  Counter* err_bad_gateway = nullptr;
  Counter* err_invalid = nullptr;
  Gauge* open_gauge = nullptr;
  Gauge* idle_gauge = nullptr;
  Histogram* latency = nullptr;
  std::atomic<ProfileSite*> profile{nullptr};

  void CountError(StatusCode code) const {
    Counter* c = code == StatusCode::kUnavailable        ? err_unavailable
                 : code == StatusCode::kDeadlineExceeded ? err_deadline
                 : code == StatusCode::kBadGateway       ? err_bad_gateway
                                                         : err_invalid;
    if (c) c->inc();
  }
  void AddIdle(int d) const {
    if (idle_gauge && alive.load(std::memory_order_relaxed)) idle_gauge->add(d);
  }
};

namespace {

using Shared = UpstreamClient::Shared;

// Connection: one keep-alive connection, used by one exchange at a time on
// the io_context it was created on. Its timer enforces the current deadline
// by closing the socket; it is armed lazily (once per timeout period, not
// per request) and ignores firings while the connection is idle.
struct Connection : std::enable_shared_from_this<Connection> {
  Connection(const net::any_io_executor& ex, std::shared_ptr<Shared> s)
      : socket(ex), timer(ex), shared(std::move(s)), rbuf(kReadChunk) {
    wbuf.reserve(1024);
  }
  ~Connection() {
    ErrorCode ec;
    socket.close(ec);
    shared->open.fetch_sub(1, std::memory_order_relaxed);
    if (shared->open_gauge && shared->alive.load(std::memory_order_relaxed)) {
      shared->open_gauge->add(-1);
    }
  }

  void Close() {
    ErrorCode ec;
    socket.close(ec);
  }

  tcp::socket socket;
  std::optional<ssl::stream<tcp::socket&>> tls;
  net::steady_timer timer;
  std::shared_ptr<Shared> shared;

  SteadyClock::time_point deadline{};     // current deadline while busy
  SteadyClock::time_point armed_until{};  // expiry of the pending timer wait
  uint64_t timer_gen = 0;                 // identifies the live timer wait
  bool timer_armed = false;
  bool busy = false;       // an exchange owns the connection
  bool timed_out = false;  // the timer closed the socket
  Phase phase = Phase::kConnect;

  std::string wbuf;                      // request head (and body, over TLS)
  std::vector<char> rbuf;                // read buffer, bytes [rpos, rlen) unparsed
  size_t rpos = 0;
  size_t rlen = 0;
  std::vector<std::string_view> pieces;  // body pieces of the last parse step
};

void ArmTimer(const std::shared_ptr<Connection>& c, SteadyClock::time_point tp);

void OnTimer(const std::weak_ptr<Connection>& weak, uint64_t gen, const ErrorCode& ec) {
  if (ec) return;
  std::shared_ptr<Connection> c = weak.lock();
  if (!c || c->timer_gen != gen) return;
  c->timer_armed = false;
  if (!c->busy) return;
  if (SteadyClock::now() >= c->deadline) {
    c->timed_out = true;
    c->Close();
    return;
  }
  ArmTimer(c, c->deadline);
}

void ArmTimer(const std::shared_ptr<Connection>& c, SteadyClock::time_point tp) {
  c->timer_armed = true;
  c->armed_until = tp;
  uint64_t gen = ++c->timer_gen;
  c->timer.expires_at(tp);
  c->timer.async_wait([weak = std::weak_ptr<Connection>(c), gen](const ErrorCode& ec) {
    OnTimer(weak, gen, ec);
  });
}

// SetDeadline: the connection must be closed at `tp` unless the exchange
// moves the deadline. Re-arms the timer only if it would fire too late.
void SetDeadline(const std::shared_ptr<Connection>& c, SteadyClock::time_point tp) {
  c->deadline = tp;
  if (c->timer_armed && c->armed_until <= tp) return;
  ArmTimer(c, tp);
}

// PoolService: the idle connections of every client on one io_context.
// Touched only from that io_context's thread; destroyed (closing the
// connections) with the io_context.
class PoolService final : public net::execution_context::service {
 public:
  using key_type = PoolService;
  static net::execution_context::id id;

  explicit PoolService(net::execution_context& ctx) : net::execution_context::service(ctx) {}

  std::vector<std::shared_ptr<Connection>>& idle(uint64_t client_id) { return pools_[client_id]; }

 private:
  void shutdown() override {
    for (auto& [client, conns] : pools_) {
      if (!conns.empty()) conns.front()->shared->AddIdle(-static_cast<int>(conns.size()));
    }
    pools_.clear();
  }

  std::unordered_map<uint64_t, std::vector<std::shared_ptr<Connection>>> pools_;
};

net::execution_context::id PoolService::id;

// ResponseParser: Beast's HTTP/1.1 response parser, feeding an
// UpstreamResponse (head; body in whole mode) or a list of body pieces that
// point into the connection's read buffer (streaming mode).
class ResponseParser final : public http::basic_parser<false> {
 public:
  using BeastView = boost::beast::string_view;
  ResponseParser(UpstreamResponse& out, std::vector<std::string_view>* pieces)
      : out_(out), pieces_(pieces) {}

 private:
  void on_request_impl(http::verb, BeastView, BeastView, int,
                       ErrorCode& ec) override {
    ec = http::error::bad_method;  // never called for responses
  }
  void on_response_impl(int code, BeastView, int, ErrorCode&) override {
    out_.status = code;
  }
  void on_field_impl(http::field f, BeastView name_view, BeastView value_view,
                     ErrorCode&) override {
    std::string_view name(name_view.data(), name_view.size());
    std::string_view value(value_view.data(), value_view.size());
    switch (f) {
      case http::field::content_type:
        out_.content_type.assign(value);
        return;
      case http::field::connection:
        connection_.append(value);
        connection_ += ',';
        return;
      case http::field::content_length:
      case http::field::keep_alive:
      case http::field::te:
      case http::field::trailer:
      case http::field::transfer_encoding:
      case http::field::upgrade:
        return;
      default:
        break;
    }
    if (IStartsWith(name, "proxy-")) return;
    out_.headers.emplace_back(std::string(name), std::string(value));
  }
  void on_header_impl(ErrorCode&) override {
    // Drop the headers that Connection names (RFC 9110 7.6.1).
    std::string_view list = connection_;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view token = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
      if (token.empty()) continue;
      std::erase_if(out_.headers, [&](const auto& h) { return IEquals(h.first, token); });
    }
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, ErrorCode&) override {
    // Room past the end for a consumer that parses the body in place with
    // simdjson (its SIMDJSON_PADDING, 64 bytes), so that it need not copy it.
    if (!pieces_ && length) out_.body.reserve(static_cast<size_t>(*length) + kParsePadding);
  }
  size_t on_body_impl(BeastView body, ErrorCode&) override {
    Take(std::string_view(body.data(), body.size()));
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, BeastView, ErrorCode&) override {}
  size_t on_chunk_body_impl(std::uint64_t, BeastView body, ErrorCode&) override {
    Take(std::string_view(body.data(), body.size()));
    return body.size();
  }
  void on_finish_impl(ErrorCode&) override {}

  void Take(std::string_view body) {
    if (body.empty()) return;
    if (pieces_) {
      pieces_->push_back(body);
    } else {
      out_.body.append(body);
    }
  }

  UpstreamResponse& out_;
  std::vector<std::string_view>* pieces_;  // null: whole-body mode
  std::string connection_;                 // Connection header tokens, comma-joined
};

bool Informational(int status) { return status >= 100 && status < 200 && status != 101; }

Status ValidateRequest(const Shared& s, const UpstreamRequest& req) {
  if (req.method == HttpMethod::kOther) {
    return InvalidArgument("upstream '" + s.ep.name + "': unsupported method");
  }
  if (req.path.empty() || req.path.front() != '/') {
    return InvalidArgument("upstream '" + s.ep.name + "': path must start with '/'");
  }
  for (char c : req.path) {
    if (c <= 0x20 || c == 0x7f) {
      return InvalidArgument("upstream '" + s.ep.name + "': path contains a space or control byte");
    }
  }
  for (const auto& [k, v] : req.headers) {
    if (!ValidToken(k) || !ValidFieldValue(v)) {
      return InvalidArgument("upstream '" + s.ep.name + "': invalid header '" + k + "'");
    }
  }
  return Status::Ok();
}

void AppendNumber(std::string& out, size_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  (void)ec;
  out.append(digits, end);
}

// SerializeHead: the request head, by hand, into the connection's buffer.
void SerializeHead(const Shared& s, const UpstreamRequest& req, bool streaming, std::string& out) {
  out.clear();
  out += HttpMethodName(req.method);
  out += ' ';
  out += s.ep.path_prefix;
  out += req.path;
  out += " HTTP/1.1\r\n"sv;
  out += s.fixed_head;
  bool has_body = !req.body.empty() || req.method == HttpMethod::kPost ||
                  req.method == HttpMethod::kPut || req.method == HttpMethod::kPatch;
  if (has_body) {
    out += "Content-Type: application/json\r\nContent-Length: "sv;
    AppendNumber(out, req.body.size());
    out += "\r\n"sv;
  }
  bool accept_given = false;
  for (const auto& [k, v] : req.headers) {
    if (IsHopByHopOrFraming(k) || IEquals(k, "authorization") || IEquals(k, "content-type") ||
        IEquals(k, "accept-encoding")) {
      continue;
    }
    if (IEquals(k, "accept")) accept_given = true;
    out += k;
    out += ": "sv;
    out += v;
    out += "\r\n"sv;
  }
  if (!accept_given) {
    out += streaming ? "Accept: text/event-stream\r\n\r\n" : "Accept: application/json\r\n\r\n";
  } else {
    out += "\r\n"sv;
  }
}

std::string Where(const Shared& s) {
  return fmt::format("upstream '{}' ({}:{})", s.ep.name, s.ep.host, s.ep.port);
}

Status TimeoutStatus(const Shared& s, const Connection& c, SteadyClock::time_point request_deadline) {
  if (c.deadline >= request_deadline) {
    return DeadlineExceeded(fmt::format("{}: no complete answer within the request timeout ({} ms)",
                                        Where(s), Millis(s.ep.request_timeout)));
  }
  switch (c.phase) {
    case Phase::kConnect:
      return DeadlineExceeded(fmt::format("{}: connect timed out after {} ms", Where(s),
                                          Millis(s.ep.connect_timeout)));
    case Phase::kFirstByte:
      return DeadlineExceeded(fmt::format("{}: no response within the first-byte timeout ({} ms)",
                                          Where(s), Millis(s.ep.first_byte_timeout)));
    case Phase::kBody:
      break;
  }
  return DeadlineExceeded(fmt::format("{}: no complete answer within the request timeout ({} ms)",
                                      Where(s), Millis(s.ep.request_timeout)));
}

std::string DescribeTlsError(Connection& c, const ErrorCode& ec) {
  std::string m = ec.message();
  if (c.tls) {
    long v = SSL_get_verify_result(c.tls->native_handle());
    if (v != X509_V_OK) {
      m += fmt::format(" (certificate verification: {})", X509_verify_cert_error_string(v));
    }
  }
  return m;
}

// Connect: a new connection to the upstream (TCP, then TLS for https),
// within the connect timeout and the request's deadline.
net::awaitable<Result<std::shared_ptr<Connection>>> Connect(const std::shared_ptr<Shared>& sp,
                                                            const net::any_io_executor& ex,
                                                            SteadyClock::time_point request_deadline) {
  Shared& s = *sp;
  if (s.open.fetch_add(1, std::memory_order_relaxed) >= s.ep.max_connections) {
    s.open.fetch_sub(1, std::memory_order_relaxed);
    co_return Unavailable(fmt::format("{}: connection limit ({}) reached", Where(s),
                                      s.ep.max_connections));
  }
  // From here the Connection's destructor gives the slot back.
  auto c = std::make_shared<Connection>(ex, sp);
  if (s.open_gauge) s.open_gauge->add(1);
  if (s.created) s.created->inc();
  c->busy = true;
  c->phase = Phase::kConnect;
  SetDeadline(c, std::min(SteadyClock::now() + s.ep.connect_timeout, request_deadline));

  std::vector<tcp::endpoint> endpoints;
  if (s.numeric_host) {
    endpoints.emplace_back(s.address, s.ep.port);
  } else {
    // Not bounded by the timer (getaddrinfo cannot be interrupted); the
    // system resolver's own timeouts apply.
    tcp::resolver resolver(ex);
    auto [rec, results] =
        co_await resolver.async_resolve(s.ep.host, std::to_string(s.ep.port), kNoThrow);
    if (rec) {
      co_return Unavailable(fmt::format("{}: cannot resolve host: {}", Where(s), rec.message()));
    }
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  ErrorCode ec = net::error::host_not_found;
  for (const auto& ep : endpoints) {
    if (c->timed_out) break;
    ErrorCode ignored;
    c->socket.close(ignored);
    std::tie(ec) = co_await c->socket.async_connect(ep, kNoThrow);
    if (!ec) break;
  }
  if (c->timed_out) co_return TimeoutStatus(s, *c, request_deadline);
  if (ec) co_return Unavailable(fmt::format("{}: cannot connect: {}", Where(s), ec.message()));
  c->socket.set_option(tcp::no_delay(true), ec);
  c->socket.non_blocking(true, ec);
  if (!s.ep.tls) EnableDrainedReads(c->socket);  // TLS reads go through OpenSSL's buffer

  if (s.ep.tls) {
    c->tls.emplace(c->socket, *s.ssl_ctx);
    SSL* ssl_handle = c->tls->native_handle();
    if (!s.numeric_host) SSL_set_tlsext_host_name(ssl_handle, s.ep.host.c_str());
    if (s.ep.tls_verify) {
      c->tls->set_verify_mode(ssl::verify_peer, ec);
      c->tls->set_verify_callback(ssl::host_name_verification(s.ep.host), ec);
    } else {
      c->tls->set_verify_mode(ssl::verify_none, ec);
    }
    auto [hec] = co_await c->tls->async_handshake(ssl::stream_base::client, kNoThrow);
    if (c->timed_out) co_return TimeoutStatus(s, *c, request_deadline);
    if (hec) {
      co_return Unavailable(
          fmt::format("{}: TLS handshake failed: {}", Where(s), DescribeTlsError(*c, hec)));
    }
  }
  co_return c;
}

// Bodies up to this size are copied behind the head and sent as one buffer.
constexpr size_t kJoinBodyBytes = 4096;

// WriteRest: the async part of a write the socket did not take at once.
net::awaitable<ErrorCode> WriteRest(Connection& c, std::array<net::const_buffer, 2> bufs,
                                    size_t skip) {
  for (auto& b : bufs) {
    size_t n = std::min(skip, b.size());
    b += n;
    skip -= n;
  }
  auto [ec, n] = co_await net::async_write(c.socket, bufs, kNoThrow);
  (void)n;
  co_return ec;
}

enum class Outcome { kDone, kRetry, kFailed, kCancelled };

// Exchange: one request and its response on the caller's io_context, with
// one transparent retry on a fresh connection when a pooled one turns out
// dead before any byte of the answer. `sink` null = whole-body mode.
// `started`: when the exchange began (its whole-request deadline counts from it).
net::awaitable<Status> Exchange(const std::shared_ptr<Shared>& sp, const UpstreamRequest& req,
                                UpstreamResponse& out, StreamSink* sink, bool* cancelled,
                                SteadyClock::time_point started) {
  Shared& s = *sp;
  if (Status v = ValidateRequest(s, req); !v.ok()) co_return v;
  net::any_io_executor ex = co_await net::this_coro::executor;
  auto& pool = net::use_service<PoolService>(net::query(ex, net::execution::context)).idle(s.id);
  const auto request_deadline = started + s.ep.request_timeout;

  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<Connection> c;
    bool reused = false;
    if (attempt == 0 && !pool.empty()) {
      c = std::move(pool.back());
      pool.pop_back();
      s.AddIdle(-1);
      reused = true;
    } else {
      auto r = co_await Connect(sp, ex, request_deadline);
      if (!r.ok()) co_return r.status();
      c = std::move(*r);
    }
    c->busy = true;
    c->phase = Phase::kFirstByte;
    // A pooled connection came without a wait: the exchange's start will do.
    const auto waited_from = reused ? started : SteadyClock::now();
    SetDeadline(c, std::min(waited_from + s.ep.first_byte_timeout, request_deadline));

    // Write the request: head and body together, at once when the socket
    // takes it (the usual case), else asynchronously.
    SerializeHead(s, req, sink != nullptr, c->wbuf);
    ErrorCode wec;
    if (c->tls) {
      c->wbuf.append(req.body);  // one TLS record rather than two
      auto [e, n] = co_await net::async_write(*c->tls, net::buffer(c->wbuf), kNoThrow);
      (void)n;
      wec = e;
    } else {
      // A small body joins the head in one buffer: Asio sends one buffer with
      // send(2), which costs the kernel less than a gather write's sendmsg(2)
      // (copying the message header and the iovecs in).
      const bool joined = req.body.size() <= kJoinBodyBytes;
      if (joined) c->wbuf.append(req.body);
      std::array<net::const_buffer, 2> bufs{
          net::buffer(c->wbuf),
          joined ? net::const_buffer() : net::buffer(req.body.data(), req.body.size())};
      size_t total = net::buffer_size(bufs);
      size_t n = joined ? c->socket.write_some(bufs[0], wec) : c->socket.write_some(bufs, wec);
      if (wec == net::error::would_block || wec == net::error::try_again) {
        wec = {};
        n = 0;
      }
      if (!wec && n < total) wec = co_await WriteRest(*c, bufs, n);
    }
    if (wec) {
      if (c->timed_out) co_return TimeoutStatus(s, *c, request_deadline);
      if (reused && attempt == 0) {
        if (s.retries) s.retries->inc();
        continue;
      }
      co_return BadGateway(fmt::format("{}: sending the request failed: {}", Where(s), wec.message()));
    }

    // Read and parse the response.
    out.status = 0;
    out.content_type.clear();
    out.headers.clear();
    out.body.clear();
    c->pieces.clear();
    std::optional<ResponseParser> parser;
    auto reset_parser = [&] {
      parser.emplace(out, sink ? &c->pieces : nullptr);
      parser->eager(true);
      parser->header_limit(static_cast<std::uint32_t>(s.ep.max_header_bytes));
      if (sink) {
        parser->body_limit(boost::none);
      } else {
        parser->body_limit(static_cast<std::uint64_t>(s.ep.max_response_bytes));
      }
      if (req.method == HttpMethod::kHead) parser->skip(true);
    };
    reset_parser();
    bool received = false;
    bool read_now = false;  // a FIN may wait behind the last read: ReadNow first
    bool head_delivered = false;
    Outcome outcome = Outcome::kFailed;
    Status failure;
    for (;;) {
      // Parse what is buffered; hand streamed pieces over before the
      // buffer they point into moves.
      while (c->rpos < c->rlen) {
        ErrorCode pec;
        size_t used = parser->put(net::const_buffer(c->rbuf.data() + c->rpos, c->rlen - c->rpos), pec);
        if (pec == http::error::need_more) pec = {};
        if (pec) {
          failure = BadGateway(pec == http::error::body_limit
                                   ? fmt::format("{}: response body over the limit of {} bytes",
                                                 Where(s), s.ep.max_response_bytes)
                                   : fmt::format("{}: malformed HTTP response: {}", Where(s),
                                                 pec.message()));
          break;
        }
        if (sink) {
          if (!head_delivered && parser->is_header_done() && !Informational(out.status)) {
            head_delivered = true;
            const bool body_in_hand = c->rpos + used < c->rlen || !c->pieces.empty();
            if (!co_await sink->on_head(out, body_in_hand)) outcome = Outcome::kCancelled;
          }
          if (outcome != Outcome::kCancelled && !c->pieces.empty() &&
              !co_await sink->on_data(c->pieces, parser->is_done())) {
            outcome = Outcome::kCancelled;
          }
          c->pieces.clear();
          if (outcome == Outcome::kCancelled) break;
        }
        c->rpos += used;
        if (parser->is_done() || used == 0) break;
      }
      if (!failure.ok() || outcome == Outcome::kCancelled) break;
      if (parser->is_done()) {
        if (Informational(out.status)) {  // 1xx interim answer: the real one follows
          out.headers.clear();
          out.content_type.clear();
          reset_parser();
          continue;
        }
        outcome = Outcome::kDone;
        break;
      }
      // Make room, keeping unparsed bytes at the front.
      if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
      } else if (c->rpos > 0) {
        std::memmove(c->rbuf.data(), c->rbuf.data() + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
      }
      if (c->rlen == c->rbuf.size()) {
        if (c->rbuf.size() > s.ep.max_header_bytes + kReadChunk) {
          failure = BadGateway(fmt::format("{}: response header section too large", Where(s)));
          break;
        }
        c->rbuf.resize(c->rbuf.size() * 2);
      }
      net::mutable_buffer into(c->rbuf.data() + c->rlen, c->rbuf.size() - c->rlen);
      ErrorCode rec;
      size_t n = 0;
      if (c->tls) {
        std::tie(rec, n) = co_await c->tls->async_read_some(into, kNoThrow);
      } else if (read_now) {
        RecvResult r = ReadNow(c->socket, into);
        read_now = !r.ec && !r.drained;
        if (r.ec == net::error::would_block) {
          std::tie(rec, n) = co_await c->socket.async_read_some(DrainedRead{into}, kNoThrow);
        } else {
          rec = r.ec;
          n = r.bytes;
        }
      } else if (!received) {
        // Most responses arrive whole in their first read: a plain recv(2).
        std::tie(rec, n) = co_await c->socket.async_read_some(ShortRead{into}, kNoThrow);
        read_now = !rec && n < into.size();
      } else {
        std::tie(rec, n) = co_await c->socket.async_read_some(DrainedRead{into}, kNoThrow);
      }
      if (rec) {
        if (c->timed_out) {
          failure = TimeoutStatus(s, *c, request_deadline);
          break;
        }
        bool eof = rec == net::error::eof || rec == ssl::error::stream_truncated;
        if (!received && reused && attempt == 0 &&
            (eof || rec == net::error::connection_reset || rec == net::error::broken_pipe)) {
          outcome = Outcome::kRetry;  // the server closed it while idle
          break;
        }
        if (eof && !received) {
          failure = BadGateway(fmt::format("{}: connection closed without an answer", Where(s)));
          break;
        }
        if (eof) {
          ErrorCode eec;
          parser->put_eof(eec);
          if (!eec && parser->is_done()) {
            outcome = Outcome::kDone;
            break;
          }
          failure = BadGateway(fmt::format(
              "{}: connection closed before the response was complete", Where(s)));
          break;
        }
        failure = BadGateway(fmt::format("{}: reading the response failed: {}", Where(s),
                                         rec.message()));
        break;
      }
      if (!received) {
        received = true;
        c->phase = Phase::kBody;
        c->deadline = request_deadline;  // the armed timer re-arms itself to it
      }
      c->rlen += n;
    }

    c->busy = false;
    c->pieces.clear();
    switch (outcome) {
      case Outcome::kRetry:
        if (s.retries) s.retries->inc();
        continue;
      case Outcome::kCancelled:
        if (cancelled) *cancelled = true;
        if (s.cancelled) s.cancelled->inc();
        co_return Status::Ok();  // `c` is dropped: closed, never reused
      case Outcome::kFailed:
        co_return failure;
      case Outcome::kDone:
        break;
    }
    if (sink && !head_delivered) {
      // Defensive: every complete response has a head.
      if (!co_await sink->on_head(out, /*body_in_hand=*/false)) {
        if (cancelled) *cancelled = true;
        co_return Status::Ok();
      }
    }
    bool reusable = parser->keep_alive() && !parser->need_eof() && c->rpos == c->rlen &&
                    !c->timed_out && s.alive.load(std::memory_order_relaxed);
    if (reusable) {
      c->rpos = c->rlen = 0;
      pool.push_back(std::move(c));
      s.AddIdle(1);
    }
    co_return Status::Ok();
  }
}

// ExchangeMetrics: the request metrics around one Exchange (a plain object
// rather than a wrapping coroutine: one coroutine frame less per request).
// Its start is the exchange's start too (one clock read for both).
class ExchangeMetrics {
 public:
  explicit ExchangeMetrics(const Shared& s) : s_(s), start_(SteadyClock::now()) {
    if (s_.requests) s_.requests->inc();
  }
  SteadyClock::time_point start() const { return start_; }
  // done: `status` is the upstream's answer (0 when there was none).
  void done(const Status& st, int status) const {
    if (!st.ok()) s_.CountError(st.code());
    ProfileSite* site = s_.profile.load(std::memory_order_relaxed);
    const bool profiled = site != nullptr && site->enabled();
    if (!s_.latency && !profiled) return;
    const auto elapsed = SteadyClock::now() - start_;
    if (s_.latency) s_.latency->observe(std::chrono::duration<double>(elapsed).count());
    if (profiled) {
      // The call's end for "last call" needs only milliseconds: the coarse clock.
      site->record_ended(std::chrono::duration_cast<Nanos>(elapsed), !st.ok() || status >= 500,
                         site->clock().coarse_monotonic());
    }
  }

 private:
  const Shared& s_;
  const SteadyClock::time_point start_;
};

uint16_t DefaultPort(bool tls) { return tls ? 443 : 80; }

}  // namespace

Result<UpstreamEndpoint> UpstreamEndpoint::Create(UpstreamEndpoint e) {
  if (e.name.empty()) return InvalidArgument("upstream: name is required");
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format("upstream '{}': base_url '{}': {}", e.name, e.base_url, why));
  };
  std::string_view url = e.base_url;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("must start with http:// or https://");
  std::string_view scheme = url.substr(0, sep);
  if (IEquals(scheme, "https")) {
    e.tls = true;
  } else if (IEquals(scheme, "http")) {
    e.tls = false;
  } else {
    return bad("scheme must be http or https");
  }
  std::string_view rest = url.substr(sep + 3);
  for (char c : rest) {
    if (c <= 0x20 || c == 0x7f) return bad("contains a space or control character");
    if (c == '?' || c == '#') return bad("must not have a query or fragment");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return bad("must not contain user info");
  if (authority.empty()) return bad("has no host");
  std::string_view host;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after the IPv6 literal");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
    ErrorCode ec;
    net::ip::make_address_v6(std::string(host), ec);
    if (ec) return bad("invalid IPv6 literal");
  } else {
    size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
    for (char c : host) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-' || c == '_';
      if (!ok) return bad("invalid host name");
    }
  }
  if (host.empty()) return bad("has no host");
  e.host.assign(host);
  if (port.empty()) {
    e.port = DefaultPort(e.tls);
  } else {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("port must be a number from 1 to 65535");
    }
    e.port = static_cast<uint16_t>(value);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  e.path_prefix.assign(path);
  if (e.connect_timeout <= Nanos::zero() || e.first_byte_timeout <= Nanos::zero() ||
      e.request_timeout <= Nanos::zero()) {
    return InvalidArgument(fmt::format("upstream '{}': timeouts must be positive", e.name));
  }
  if (e.max_connections <= 0) {
    return InvalidArgument(fmt::format("upstream '{}': max_connections must be positive", e.name));
  }
  if (!ValidFieldValue(e.api_key)) {
    return InvalidArgument(fmt::format("upstream '{}': api_key contains a line break", e.name));
  }
  return e;
}

UpstreamClient::UpstreamClient(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

UpstreamClient::~UpstreamClient() { shared_->alive.store(false, std::memory_order_relaxed); }

const UpstreamEndpoint& UpstreamClient::endpoint() const { return shared_->ep; }

void UpstreamClient::profile_into(ProfileSite* site) {
  shared_->profile.store(site, std::memory_order_relaxed);
}

Result<std::unique_ptr<UpstreamClient>> UpstreamClient::Create(UpstreamEndpoint endpoint,
                                                               MetricsRegistry* metrics) {
  Result<UpstreamEndpoint> parsed = UpstreamEndpoint::Create(std::move(endpoint));
  if (!parsed.ok()) return parsed.status();
  static std::atomic<uint64_t> next_id{1};
  auto s = std::make_shared<Shared>();
  s->ep = std::move(parsed).value();
  s->id = next_id.fetch_add(1, std::memory_order_relaxed);
  const UpstreamEndpoint& ep = s->ep;

  ErrorCode ec;
  s->address = net::ip::make_address(ep.host, ec);
  s->numeric_host = !ec;
  std::string host = s->address.is_v6() && s->numeric_host ? "[" + ep.host + "]" : ep.host;
  s->fixed_head = "Host: " + host;
  if (ep.port != DefaultPort(ep.tls)) s->fixed_head += ":" + std::to_string(ep.port);
  s->fixed_head += "\r\n"sv;
  if (!ep.api_key.empty()) s->fixed_head += "Authorization: Bearer " + ep.api_key + "\r\n";

  if (ep.tls) {
    s->ssl_ctx.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(s->ssl_ctx->native_handle(), TLS1_2_VERSION);
    if (ep.tls_verify) {
      if (!ep.ca_file.empty()) {
        s->ssl_ctx->load_verify_file(ep.ca_file, ec);
        if (ec) {
          return InvalidArgument(fmt::format("upstream '{}': cannot load ca_file '{}': {}", ep.name,
                                             ep.ca_file, ec.message()));
        }
      } else {
        s->ssl_ctx->set_default_verify_paths(ec);
        if (ec) {
          return InvalidArgument(fmt::format("upstream '{}': cannot load the system CA store: {}",
                                             ep.name, ec.message()));
        }
      }
    } else {
      spdlog::warn(
          "upstream '{}': TLS certificate verification is DISABLED (tls_verify: false); "
          "connections to {} can be intercepted",
          ep.name, ep.base_url);
    }
  }

  if (metrics) {
    Labels l = {{"upstream", ep.name}};
    s->requests = &metrics->counter("agentgate_upstream_requests_total",
                                    "Requests sent to an upstream", l);
    s->created = &metrics->counter("agentgate_upstream_connections_created_total",
                                   "Connections opened to an upstream", l);
    s->retries = &metrics->counter("agentgate_upstream_retries_total",
                                   "Requests retried on a fresh connection after a pooled one "
                                   "was found closed",
                                   l);
    s->cancelled = &metrics->counter("agentgate_upstream_streams_cancelled_total",
                                     "Streamed responses stopped by the receiver", l);
    const char* kErrHelp = "Upstream requests that failed, by kind";
    auto err = [&](const char* kind) {
      return &metrics->counter("agentgate_upstream_errors_total", kErrHelp,
                               {{"upstream", ep.name}, {"kind", kind}});
    };
    s->err_unavailable = err("unavailable");
    s->err_deadline = err("deadline_exceeded");
    s->err_bad_gateway = err("bad_gateway");
    s->err_invalid = err("invalid_request");
    s->open_gauge = &metrics->gauge("agentgate_upstream_open_connections",
                                    "Connections currently open to an upstream", l);
    s->idle_gauge = &metrics->gauge("agentgate_upstream_idle_connections",
                                    "Open connections to an upstream waiting in a pool", l);
    s->latency = &metrics->histogram("agentgate_upstream_request_duration_seconds",
                                     "Upstream exchange time, request written to answer read",
                                     Histogram::LatencySeconds(), l);
  }
  return std::unique_ptr<UpstreamClient>(new UpstreamClient(std::move(s)));
}

net::awaitable<Result<UpstreamResponse>> UpstreamClient::send(const UpstreamRequest& request) {
  UpstreamResponse out;
  const ExchangeMetrics metrics(*shared_);
  Status st = co_await Exchange(shared_, request, out, nullptr, nullptr, metrics.start());
  metrics.done(st, out.status);
  if (!st.ok()) co_return st;
  co_return Result<UpstreamResponse>(std::move(out));
}

net::awaitable<Result<int>> UpstreamClient::send_streaming(const UpstreamRequest& request,
                                                           StreamSink& sink) {
  UpstreamResponse head;
  bool cancelled = false;
  const ExchangeMetrics metrics(*shared_);
  Status st = co_await Exchange(shared_, request, head, &sink, &cancelled, metrics.start());
  metrics.done(st, head.status);
  if (!st.ok()) co_return st;
  co_return Result<int>(head.status);
}

}  // namespace agentgate
