// HTTP request and response as handlers see them, free of Beast types so that
// handlers, routes and stages compile without Beast's headers.
//
// A handler reads an HttpRequest and fills an HttpResponse; to stream instead
// (Server-Sent Events), it calls res.stream().begin(...) then write(...) for
// each chunk and finish(). The server then sends nothing else.
//
// Lifetime: the string_views in HttpRequest point into the connection's
// buffers and stay valid until the handler's coroutine completes.
// Thread-safety: one request is handled by one coroutine on one thread.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agentgate/core/http_method.h"

namespace agentgate {

using HeaderList = std::vector<std::pair<std::string_view, std::string_view>>;

// EqualsIgnoreCase: ASCII case-insensitive comparison (header names).
// Inline: most calls end at the size check.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

struct HttpRequest {
  HttpMethod method = HttpMethod::kOther;
  std::string_view method_name;
  std::string_view target;  // path + query, as sent
  std::string_view path;    // without the query
  std::string_view query;   // after '?', without it
  HeaderList headers;       // as sent, in order
  std::string body;
  std::string_view remote_address;  // peer IP as text
  bool remote_is_loopback = false;
  std::string request_id;  // echoed X-Request-Id or generated
  // Path parameters filled by the router: {"id", "abc"} for /keys/{id}.
  std::vector<std::pair<std::string_view, std::string_view>> path_params;

  // header: the first value of header `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
  // path_param: the router's value for `{name}`, or "".
  std::string_view path_param(std::string_view name) const;
  // query_param: the (percent-decoded) value of `name` in the query, if any.
  bool query_param(std::string_view name, std::string* value) const;
};

// ResponseStream: chunked streaming of one response (SSE). Provided by the
// server; every method returns false once the client has gone away, after
// which the handler should stop (and cancel its upstream work).
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // begin: sends the status line and headers. With `hold`, keeps them until
  // the first write() or finish(), which sends them in the same write (one
  // send, one wakeup of the client, instead of two): for a caller whose
  // first bytes are already in hand. REQUIRES: called once, first.
  virtual boost::asio::awaitable<bool> begin(
      int status, std::string_view content_type,
      const std::vector<std::pair<std::string, std::string>>& headers, bool hold = false) = 0;
  // write: sends one chunk now (not buffered until later).
  virtual boost::asio::awaitable<bool> write(std::string_view data) = 0;
  // write_pieces: sends the pieces now, in order, as if written one by one;
  // a stream may send them as one chunk in one write (the default writes
  // them one by one).
  virtual boost::asio::awaitable<bool> write_pieces(std::span<const std::string_view> pieces) {
    for (std::string_view p : pieces) {
      if (!co_await write(p)) co_return false;
    }
    co_return true;
  }
  // finish: ends the stream. The connection may be reused afterwards.
  virtual boost::asio::awaitable<bool> finish() = 0;
  // finish_with: write_pieces(pieces) and finish(); a stream may send the
  // pieces and its end in one write.
  virtual boost::asio::awaitable<bool> finish_with(std::span<const std::string_view> pieces) {
    if (!co_await write_pieces(pieces)) co_return false;
    co_return co_await finish();
  }
  // started: begin() was called.
  virtual bool started() const = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // close: close the connection after this response.
  bool close = false;
  // abort: close the connection without sending anything (fault injection).
  bool abort = false;
  // route: the route pattern that handled the request (for metrics and logs).
  std::string_view route;

  ResponseStream& stream() { return *stream_; }
  void set_stream(ResponseStream* s) { stream_ = s; }

  void set_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }

 private:
  ResponseStream* stream_ = nullptr;
};

// Handler: answers one request. Runs on the connection's thread.
using Handler = std::function<boost::asio::awaitable<void>(HttpRequest&, HttpResponse&)>;

}  // namespace agentgate
