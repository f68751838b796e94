#include "integration/support/http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "server/http_types.h"

namespace agentgate::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
constexpr uint64_t kBodyLimit = 256ull * 1024 * 1024;

std::string FindHeader(const TestHeaders& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

struct Exchange {
  int status = 0;
  std::string error;
  TestHeaders headers;
  std::string body;
  size_t chunks = 0;
  std::chrono::steady_clock::time_point first_body_at{};  // streaming: first body bytes
};

// Run: one request on a fresh connection. With `streaming`, the body is
// collected through the chunk callbacks so that a cut-short body is kept.
net::awaitable<void> Run(uint16_t port, std::string method, std::string target, std::string body,
                         TestHeaders headers, std::chrono::milliseconds timeout, bool streaming,
                         Exchange& out) {
  auto executor = co_await net::this_coro::executor;
  beast::tcp_stream stream(executor);
  stream.expires_after(timeout);
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
  auto [cec] = co_await stream.async_connect(ep, kNoThrow);
  if (cec) {
    out.error = "connect: " + cec.message();
    co_return;
  }

  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req.insert(k, v);
    has_type = has_type || EqualsIgnoreCase(k, "Content-Type");
  }
  if (!body.empty() && !has_type) req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  auto [wec, wn] = co_await http::async_write(stream, req, kNoThrow);
  (void)wn;
  if (wec) {
    out.error = "write: " + wec.message();
    co_return;
  }

  // The callbacks are declared before the parser, which keeps pointers to them.
  std::string streamed;
  auto on_header = [&out](std::uint64_t, beast::string_view, beast::error_code&) { ++out.chunks; };
  auto on_body = [&streamed, &out](std::uint64_t, beast::string_view data, beast::error_code&) {
    if (streamed.empty() && !data.empty()) out.first_body_at = std::chrono::steady_clock::now();
    streamed.append(data.data(), data.size());
    return data.size();
  };
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  if (streaming) {
    parser.on_chunk_header(on_header);
    parser.on_chunk_body(on_body);
  }
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
  (void)hn;
  if (hec) {
    out.error = "read header: " + hec.message();
    co_return;
  }
  out.status = static_cast<int>(parser.get().result_int());
  for (const auto& f : parser.get()) out.headers.emplace_back(f.name_string(), f.value());
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kNoThrow);
  (void)rn;
  if (rec) out.error = "read body: " + rec.message();
  out.body = streaming && parser.chunked() ? std::move(streamed) : std::move(parser.get().body());
  if (streaming && !parser.chunked() && out.body.empty()) out.body = std::move(streamed);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

Exchange Perform(uint16_t port, std::string_view method, std::string_view target,
                 std::string_view body, const TestHeaders& headers,
                 std::chrono::milliseconds timeout, bool streaming) {
  Exchange out;
  net::io_context ioc;
  net::co_spawn(ioc,
                Run(port, std::string(method), std::string(target), std::string(body), headers,
                    timeout, streaming, out),
                [&out](std::exception_ptr e) {
                  if (!e) return;
                  try {
                    std::rethrow_exception(e);
                  } catch (const std::exception& ex) {
                    out.error = std::string("exception: ") + ex.what();
                  }
                });
  ioc.run();
  return out;
}

}  // namespace

std::string HttpResult::header(std::string_view name) const { return FindHeader(headers, name); }

Json HttpResult::json() const {
  return Json::parse(body, nullptr, /*allow_exceptions=*/false);
}

std::string SseResult::header(std::string_view name) const { return FindHeader(headers, name); }

std::vector<Json> SseResult::json_events() const {
  std::vector<Json> out;
  for (const std::string& e : events) {
    if (e == "[DONE]") continue;
    Json j = Json::parse(e, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

HttpResult Request(uint16_t port, std::string_view method, std::string_view target,
                   std::string_view body, const TestHeaders& headers,
                   std::chrono::milliseconds timeout) {
  Exchange x = Perform(port, method, target, body, headers, timeout, /*streaming=*/false);
  HttpResult r;
  r.status = x.status;
  r.error = std::move(x.error);
  r.headers = std::move(x.headers);
  r.body = std::move(x.body);
  return r;
}

SseResult RequestSse(uint16_t port, std::string_view method, std::string_view target,
                     std::string_view body, const TestHeaders& headers,
                     std::chrono::milliseconds timeout) {
  Exchange x = Perform(port, method, target, body, headers, timeout, /*streaming=*/true);
  SseResult r;
  r.status = x.status;
  r.error = std::move(x.error);
  r.headers = std::move(x.headers);
  r.body = std::move(x.body);
  r.http_chunks = x.chunks;
  r.first_data_at = x.first_body_at;
  r.finished_at = std::chrono::steady_clock::now();
  r.events = ParseSseEvents(r.body);
  return r;
}

std::vector<std::string> ParseSseEvents(std::string_view text) {
  std::vector<std::string> events;
  std::string data;
  bool has_data = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) break;  // incomplete line: dropped
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      if (has_data) events.push_back(std::move(data));
      data.clear();
      has_data = false;
      continue;
    }
    if (line.substr(0, 5) == "data:") {
      std::string_view v = line.substr(5);
      if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (has_data) data += '\n';
      data.append(v);
      has_data = true;
    }
  }
  return events;
}

}  // namespace agentgate::test
