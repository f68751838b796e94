// UpstreamClient over TLS against an in-test HTTPS server whose CA and
// certificate are generated at run time with the openssl CLI.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "unit/upstream/upstream_test_util.h"
#include "upstream/upstream_client.h"

namespace agentgate {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using testing::ClientLoop;

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);

// TestPki: a CA and a server certificate for 127.0.0.1 and localhost.
class TestPki {
 public:
  TestPki() {
    char tmpl[] = "/tmp/agentgate-tls-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::string d = dir_;
    std::string cmd =
        "cd " + d + " && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 2 -subj '/CN=agentgate test CA' && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout server.key -out server.csr -subj '/CN=localhost' && "
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n' "
        "> ext.cnf && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile ext.cnf";
    ok_ = std::system(("(" + cmd + ") >/dev/null 2>&1").c_str()) == 0;
  }
  ~TestPki() { std::filesystem::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string file(const char* name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
  bool ok_ = false;
};

// TlsServer: HTTPS on 127.0.0.1, answering "tls ok <target>" with keep-alive.
class TlsServer {
 public:
  explicit TlsServer(const TestPki& pki) : ctx_(ssl::context::tls_server), acceptor_(ioc_) {
    ctx_.use_certificate_chain_file(pki.file("server.pem"));
    ctx_.use_private_key_file(pki.file("server.key"), ssl::context::pem);
    tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(ioc_, Accept(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TlsServer() {
    ioc_.stop();
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int handshakes() const { return handshakes_.load(); }

 private:
  net::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (ec) co_return;
      net::co_spawn(ioc_, Session(std::move(socket)), net::detached);
    }
  }
  net::awaitable<void> Session(tcp::socket socket) {
    ssl::stream<tcp::socket> stream(std::move(socket), ctx_);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kNoThrow);
    if (hec) co_return;
    ++handshakes_;
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      auto [rec, rn] = co_await http::async_read(stream, buffer, req, kNoThrow);
      if (rec) co_return;
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "text/plain");
      res.body() = "tls ok " + std::string(req.target());
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, kNoThrow);
      if (wec || !req.keep_alive()) co_return;
    }
  }

  net::io_context ioc_{1};
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<int> handshakes_{0};
  std::thread thread_;
};

class UpstreamTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.ok()) << "openssl CLI failed to make test certificates";
    server_ = std::make_unique<TlsServer>(pki_);
  }

  Result<UpstreamResponse> Get(UpstreamEndpoint e) {
    e.name = "tls";
    auto client = UpstreamClient::Create(e, &metrics_);
    if (!client.ok()) return client.status();
    UpstreamRequest req{HttpMethod::kGet, "/hello", "", {}};
    return loop_.run((*client)->send(req));
  }
  std::string Url(std::string_view host = "127.0.0.1") {
    return "https://" + std::string(host) + ":" + std::to_string(server_->port());
  }

  MetricsRegistry metrics_;
  TestPki pki_;
  std::unique_ptr<TlsServer> server_;
  ClientLoop loop_;
};

TEST_F(UpstreamTlsTest, TrustedByCaFileSucceeds) {
  auto r = Get({.base_url = Url(), .ca_file = pki_.file("ca.pem")});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "tls ok /hello");
}

TEST_F(UpstreamTlsTest, HostNameWithSniAndKeepAlive) {
  auto client = UpstreamClient::Create(
      {.name = "tls", .base_url = Url("localhost"), .ca_file = pki_.file("ca.pem")}, &metrics_);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  UpstreamRequest req{HttpMethod::kGet, "/a", "", {}};
  for (int i = 0; i < 3; ++i) {
    auto r = loop_.run((*client)->send(req));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, "tls ok /a");
  }
  EXPECT_EQ(server_->handshakes(), 1);
  EXPECT_EQ(metrics_.value("agentgate_upstream_connections_created_total", {{"upstream", "tls"}}),
            1);
}

TEST_F(UpstreamTlsTest, SystemStoreRejectsTheTestCertificate) {
  auto r = Get({.base_url = Url()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("certificate"), std::string::npos) << r.status().ToString();
}

TEST_F(UpstreamTlsTest, WrongHostNameIsRejected) {
  // The certificate names 127.0.0.1 and localhost, not 127.0.0.2 (which
  // also reaches the server on Linux loopback).
  auto r = Get({.base_url = "https://127.0.0.2:" + std::to_string(server_->port()),
                .ca_file = pki_.file("ca.pem")});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST_F(UpstreamTlsTest, VerificationOffSucceeds) {
  auto r = Get({.base_url = Url(), .tls_verify = false});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "tls ok /hello");
}

TEST_F(UpstreamTlsTest, MissingCaFileIsInvalidArgument) {
  auto r = Get({.base_url = Url(), .ca_file = pki_.file("nope.pem")});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
}

}  // namespace
}  // namespace agentgate
