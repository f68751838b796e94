// UpstreamClient: HTTP/1.1 (and HTTPS) client for one OpenAI-compatible
// upstream, built for the proxy's hot path.
//
//   Result<UpstreamEndpoint> ep = UpstreamEndpoint::Create(
//       {.name = "openai", .base_url = "https://api.openai.com", .api_key = key});
//   if (!ep.ok()) return ep.status();
//   Result<std::unique_ptr<UpstreamClient>> client = UpstreamClient::Create(*ep, &metrics);
//   ...
//   // inside a coroutine running on the caller's io_context:
//   UpstreamRequest req{HttpMethod::kPost, "/v1/chat/completions", body, {}};
//   Result<UpstreamResponse> r = co_await (*client)->send(req);
//
// The client runs on the io_context of the coroutine that calls it: it
// finds the caller's executor with this_coro::executor and keeps its
// keep-alive connections per io_context (an asio service of that context), so
// that each server worker reuses its own connections without locks.
//
// Errors are values: kUnavailable (cannot resolve/connect, TLS handshake or
// certificate failure, connection cap reached), kDeadlineExceeded (connect,
// first-byte or whole-request timeout), kBadGateway (connection closed early,
// malformed HTTP, truncated body, response over the size limit),
// kInvalidArgument (a request that cannot be sent: bad path or header).
//
// Thread-safety: send() and send_streaming() may be called concurrently from
// any number of threads, each on its own io_context. REQUIRES: an io_context
// that calls the client is run by one thread at a time (the server's model:
// one io_context per worker thread).
// Ownership: the caller owns the client. Idle connections belong to the
// io_context that created them and are closed when that io_context is
// destroyed (or when reused and found dead); the client may be destroyed
// before or after those io_contexts, but not while one of its requests is in
// flight. The MetricsRegistry must outlive the client.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/http_method.h"
#include "agentgate/core/metrics.h"
#include "agentgate/core/status.h"

namespace agentgate {

class ProfileSite;

// UpstreamEndpoint: where one upstream lives and how to talk to it.
struct UpstreamEndpoint {
  std::string name;      // label for metrics, logs and error messages; required
  std::string base_url;  // http://host[:port][/prefix] or https://...; required
  std::string api_key;   // sent as "Authorization: Bearer <key>"; "" = no header
  Nanos connect_timeout = std::chrono::seconds(5);      // DNS + TCP connect + TLS handshake
  Nanos first_byte_timeout = std::chrono::seconds(60);  // request written -> first response byte
  Nanos request_timeout = std::chrono::seconds(300);    // whole exchange, streaming included
  int max_connections = 100;  // open connections to this upstream, all threads together
  bool tls_verify = true;     // verify the certificate chain and host name (https)
  std::string ca_file;        // PEM CA bundle to trust; "" = the system store
  size_t max_response_bytes = 64 * 1024 * 1024;  // send(): larger bodies are kBadGateway
  size_t max_header_bytes = 64 * 1024;           // response header section limit

  // Parsed from base_url by Create().
  bool tls = false;        // https
  std::string host;        // without brackets for IPv6 literals
  uint16_t port = 0;       // explicit or the scheme's default
  std::string path_prefix; // "" or "/prefix" without a trailing '/'

  // Create: validates `e` and fills the parsed fields. kInvalidArgument
  // names the bad field (URL scheme, host, port, query/fragment, userinfo,
  // non-positive timeouts or max_connections).
  static Result<UpstreamEndpoint> Create(UpstreamEndpoint e);
};

// UpstreamRequest: one request to send. Views must stay valid until the
// send completes.
struct UpstreamRequest {
  HttpMethod method = HttpMethod::kPost;
  std::string_view path;  // "/v1/chat/completions", appended to the base URL's prefix
  std::string_view body;  // sent as application/json with a Content-Length
  // Extra end-to-end headers to forward. The client drops the caller's
  // Authorization, Host, Content-Length, Content-Type, Accept-Encoding and
  // hop-by-hop headers; an Accept given here replaces the default.
  std::vector<std::pair<std::string, std::string>> headers;
};

// UpstreamResponse: the upstream's answer. `headers` holds end-to-end
// headers only: hop-by-hop ones (RFC 9110 7.6.1: Connection and the headers
// it names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) are
// removed, and so are Content-Type (in content_type) and Content-Length (the
// proxy frames its own answer).
struct UpstreamResponse {
  int status = 0;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // empty in send_streaming()'s on_head
};

// StreamSink: receives a streamed response. Both methods run on the
// caller's io_context; returning false stops the exchange (the upstream
// connection is closed, never reused).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // on_head: status and headers, before any body byte. Called once.
  // `body_in_hand`: body bytes arrived with the head (on_data follows at
  // once), so the sink may send its own head together with them.
  virtual boost::asio::awaitable<bool> on_head(const UpstreamResponse& head_without_body,
                                               bool body_in_hand) = 0;
  // on_data: the decoded body bytes (chunked framing removed) that one read
  // brought, as soon as they arrive: one piece per upstream chunk, in order,
  // so that a sink can pass them on in one write. `last`: the body's end
  // came in the same read (the response is complete); an end that comes in
  // a read of its own brings no call. The pieces are valid only during the
  // call.
  virtual boost::asio::awaitable<bool> on_data(std::span<const std::string_view> pieces,
                                               bool last) = 0;
};

class UpstreamClient {
 public:
  // Create: a client for `endpoint` (parsed by UpstreamEndpoint::Create
  // here if it was not already). kInvalidArgument for a bad endpoint or an
  // unreadable ca_file. Logs a warning once when tls_verify is off.
  static Result<std::unique_ptr<UpstreamClient>> Create(UpstreamEndpoint endpoint,
                                                        MetricsRegistry* metrics);
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // send: the whole response (any status code is a value, not an error).
  boost::asio::awaitable<Result<UpstreamResponse>> send(const UpstreamRequest& request);

  // send_streaming: hands the head, then the body bytes as they arrive, to
  // `sink`. Returns the upstream's status code once the body ended or the
  // sink stopped it; an error if the exchange failed (after on_head, a
  // truncated stream is kBadGateway and the caller must end its own stream).
  boost::asio::awaitable<Result<int>> send_streaming(const UpstreamRequest& request,
                                                     StreamSink& sink);

  const UpstreamEndpoint& endpoint() const;

  // profile_into: also records each exchange in `site` (its duration, from
  // the same clock reads as the latency metric; an error when it failed or
  // answered 500 or more). Call before the first request; `site` must
  // outlive the client. Null stops it.
  void profile_into(ProfileSite* site);

  struct Shared;  // state shared with the per-io_context pools

 private:
  explicit UpstreamClient(std::shared_ptr<Shared> shared);
  std::shared_ptr<Shared> shared_;
};

}  // namespace agentgate
