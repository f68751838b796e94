// RequestParser: Beast's HTTP/1.1 request parser (framing, Content-Length and
// chunked bodies, header and body limits, keep-alive rules) writing into
// storage that the connection reuses from one request to the next: the
// request line and header fields go into one string, the body straight into
// the caller's string, reserved with room for simdjson's padding so that the
// proxy can parse it in place. Once a connection has served a request or two,
// parsing the next one allocates nothing (Beast's message parser allocates
// one node per header field and a fresh body string).
//
//   RequestStorage storage;  // per connection
//   std::string body;        // per connection
//   RequestParser parser(storage, body);  // per request
//   size_t used = parser.put(buffer, ec);  // as with any basic_parser
//
// Lifetime: the views returned (method_string, target, field, headers) point
// into `storage` and stay valid until the next parser on the same storage
// starts a request. Not thread-safe: one parser per request, on the
// connection's coroutine.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/http_types.h"

namespace agentgate {

// RequestStorage: the per-connection buffers a RequestParser fills.
struct RequestStorage {
  struct Field {
    uint32_t name_at, name_size, value_at, value_size;
  };
  std::string head;           // method, target, then each name and value
  std::vector<Field> fields;  // offsets into `head`, in the order sent
};

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  // Both references must outlive the parser; both are cleared when the
  // request line arrives.
  RequestParser(RequestStorage& storage, std::string& body);

  boost::beast::http::verb method() const { return method_; }
  std::string_view method_string() const { return View(0, method_size_); }
  std::string_view target() const { return View(method_size_, target_size_); }
  int version() const { return version_; }  // 11 for HTTP/1.1
  // field: the first value of header `name` (ASCII case-insensitive), or "".
  std::string_view field(std::string_view name) const;
  // headers: every field as sent, in order, into `out` (cleared first).
  void headers(HeaderList& out) const;

 private:
  using BeastView = boost::beast::string_view;
  using ErrorCode = boost::beast::error_code;

  std::string_view View(size_t at, size_t size) const {
    return std::string_view(storage_.head).substr(at, size);
  }

  void on_request_impl(boost::beast::http::verb method, BeastView method_str, BeastView target,
                       int version, ErrorCode& ec) override;
  void on_response_impl(int, BeastView, int, ErrorCode& ec) override;
  void on_field_impl(boost::beast::http::field, BeastView name, BeastView value,
                     ErrorCode& ec) override;
  void on_header_impl(ErrorCode&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, ErrorCode&) override;
  size_t on_body_impl(BeastView body, ErrorCode&) override;
  void on_chunk_header_impl(std::uint64_t, BeastView, ErrorCode&) override {}
  size_t on_chunk_body_impl(std::uint64_t, BeastView body, ErrorCode&) override;
  void on_finish_impl(ErrorCode&) override {}

  RequestStorage& storage_;
  std::string& body_;
  boost::beast::http::verb method_ = boost::beast::http::verb::unknown;
  size_t method_size_ = 0;
  size_t target_size_ = 0;
  int version_ = 0;
};

}  // namespace agentgate
