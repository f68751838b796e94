// Upstream TLS verification cannot be silently disabled: the real agentgate
// binary in front of `openssl s_server` with a self-signed certificate.
// By default (and whatever TLS-sounding environment variables say) the
// handshake is refused; only `tls_verify: false` turns verification off,
// and then the gateway says so with a warning before it listens. A value
// that is not a boolean is a config error naming the key.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "integration/support/child_process.h"
#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using testing::WaitFor;

using namespace std::chrono_literals;

constexpr const char* kWarning = "TLS certificate verification is DISABLED";
constexpr const char* kChat = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})";

class SecurityTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("tls_upstream");
    std::string cmd = "cd '" + dir_ +
                      "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                      "-nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=127.0.0.1 "
                      "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl CLI failed";
    port_ = FreePort();
    // -www: a TLS server that never answers a POST: past the handshake the
    // gateway times out waiting for the first byte (504), before it the
    // handshake fails (502).
    std::string error;
    server_ = ChildProcess::Spawn(
        "/usr/bin/openssl",
        {"s_server", "-accept", "127.0.0.1:" + std::to_string(port_), "-cert", dir_ + "/cert.pem",
         "-key", dir_ + "/key.pem", "-www", "-quiet"},
        {.merge_stderr = true}, &error);
    ASSERT_NE(server_, nullptr) << error;
    ASSERT_TRUE(WaitFor([&] { return Listening(); }, 2s)) << server_->output();
  }
  bool Listening() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }
  std::string Config(const std::string& upstream_extra = "") {
    return "server:\n  admin_key: tls-admin\n"
           "upstreams:\n  - name: tls\n    base_url: https://127.0.0.1:" + std::to_string(port_) +
           "/v1\n    api_key: k\n    models: [gpt-4o-mini]\n    first_byte_timeout_ms: 1000\n" +
           upstream_extra +
           "rate_limit:\n  enabled: false\ncache:\n  enabled: false\n"
           "circuit_breaker: {enabled: false}\nerror_recovery: {max_attempts: 1}\n";
  }

  std::string dir_;
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> server_;
};

TEST_F(SecurityTlsTest, VerificationIsOnByDefaultWhateverTheEnvironmentSays) {
  auto gw = GatewayProcess::Start(Config(),
                                  {"AGENTGATE_TLS_VERIFY=false", "TLS_VERIFY=0", "SSL_VERIFY=0",
                                   "NODE_TLS_REJECT_UNAUTHORIZED=0", "PYTHONHTTPSVERIFY=0",
                                   "CURL_INSECURE=1", "UPSTREAM_TLS_VERIFY=false"});
  ASSERT_NE(gw, nullptr);
  HttpResult r = Request(gw->port(), "POST", "/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("certificate"), std::string::npos)
      << r.body;
  EXPECT_EQ(gw->process().output().find(kWarning), std::string::npos);
}

TEST_F(SecurityTlsTest, OnlyAnExplicitOptionDisablesItAndItIsLoggedAtStart) {
  auto gw = GatewayProcess::Start(Config("    tls_verify: false\n"));
  ASSERT_NE(gw, nullptr);
  const std::string log = gw->process().output();
  size_t warned = log.find(kWarning);
  ASSERT_NE(warned, std::string::npos) << log;
  EXPECT_LT(warned, log.find("agentgate listening on"));  // at start, before serving
  EXPECT_NE(log.find("upstream 'tls'"), std::string::npos);
  // Past the handshake now: s_server never answers the POST.
  HttpResult r = Request(gw->port(), "POST", "/v1/chat/completions", kChat);
  EXPECT_EQ(r.status, 504) << r.body;
}

TEST_F(SecurityTlsTest, ANonBooleanValueIsAConfigErrorNamingTheKey) {
  for (const char* value : {"maybe", "\"\"", "0.5", "[false]"}) {
    std::string path = dir_ + "/bad.yaml";
    {
      std::ofstream f(path);
      f << Config(std::string("    tls_verify: ") + value + "\n");
    }
    ChildProcessOptions o;
    o.merge_stderr = true;
    auto child = ChildProcess::Spawn(AGENTGATE_BINARY, {"check-config", path}, o);
    ASSERT_NE(child, nullptr);
    auto code = child->wait(20s);
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0) << value;
    EXPECT_NE(child->output().find("tls_verify"), std::string::npos) << value << ": " << child->output();
  }
}

}  // namespace
}  // namespace agentgate::test
