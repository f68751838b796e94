#include "server/request_parser.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <simdjson.h>

namespace agentgate {
namespace {

namespace http = boost::beast::http;

// Parse: feeds `wire` to a fresh parser on `storage`/`body`; returns the
// bytes used and leaves the parser's error in `ec`.
size_t Parse(RequestParser& p, std::string_view wire, boost::beast::error_code& ec) {
  return p.put(boost::asio::buffer(wire.data(), wire.size()), ec);
}

TEST(RequestParserTest, ReadsTheRequestLineFieldsAndBody) {
  RequestStorage storage;
  std::string body;
  RequestParser p(storage, body);
  p.eager(true);
  boost::beast::error_code ec;
  std::string_view wire =
      "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
      "X-Request-Id: abc\r\nContent-Length: 13\r\n\r\n{\"model\":\"m\"}";
  EXPECT_EQ(Parse(p, wire, ec), wire.size());
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(p.is_done());
  EXPECT_EQ(p.method(), http::verb::post);
  EXPECT_EQ(p.method_string(), "POST");
  EXPECT_EQ(p.target(), "/v1/chat/completions?x=1");
  EXPECT_EQ(p.version(), 11);
  EXPECT_TRUE(p.keep_alive());
  EXPECT_EQ(p.field("x-request-id"), "abc");
  EXPECT_EQ(p.field("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(p.field("absent"), "");
  EXPECT_EQ(body, "{\"model\":\"m\"}");
  // Room for simdjson to parse the body in place.
  EXPECT_GE(body.capacity(), body.size() + simdjson::SIMDJSON_PADDING);
  HeaderList headers;
  p.headers(headers);
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers[0].first, "Host");
  EXPECT_EQ(headers[0].second, "gw");
  EXPECT_EQ(headers[3].first, "Content-Length");
}

TEST(RequestParserTest, TheNextRequestOnTheSameStorageStartsClean) {
  RequestStorage storage;
  std::string body;
  boost::beast::error_code ec;
  {
    RequestParser p(storage, body);
    p.eager(true);
    Parse(p, "POST /a HTTP/1.1\r\nX-One: 1\r\nContent-Length: 3\r\n\r\nabc", ec);
    ASSERT_TRUE(p.is_done());
  }
  RequestParser p(storage, body);
  p.eager(true);
  Parse(p, "GET /b HTTP/1.0\r\nX-Two: 2\r\n\r\n", ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(p.is_done());
  EXPECT_EQ(p.method(), http::verb::get);
  EXPECT_EQ(p.target(), "/b");
  EXPECT_EQ(p.version(), 10);
  EXPECT_FALSE(p.keep_alive());
  EXPECT_EQ(p.field("x-one"), "");
  EXPECT_EQ(p.field("x-two"), "2");
  EXPECT_EQ(body, "");
}

TEST(RequestParserTest, ChunkedBodiesAreJoined) {
  RequestStorage storage;
  std::string body;
  RequestParser p(storage, body);
  p.eager(true);
  boost::beast::error_code ec;
  Parse(p, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(p.is_done());
  EXPECT_EQ(body, "abcde");
}

TEST(RequestParserTest, LimitsAreBeastsOwn) {
  RequestStorage storage;
  std::string body;
  boost::beast::error_code ec;
  {
    RequestParser p(storage, body);
    p.body_limit(4);
    Parse(p, "POST /d HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde", ec);
    EXPECT_EQ(ec, http::error::body_limit);
  }
  {
    RequestParser p(storage, body);
    p.header_limit(32);
    Parse(p, "GET /e HTTP/1.1\r\nX-Big: " + std::string(100, 'a') + "\r\n\r\n", ec);
    EXPECT_EQ(ec, http::error::header_limit);
  }
  {
    RequestParser p(storage, body);
    Parse(p, "NOT HTTP\r\n\r\n", ec);
    EXPECT_TRUE(ec);
  }
}

}  // namespace
}  // namespace agentgate
