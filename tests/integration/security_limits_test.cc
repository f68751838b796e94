// Limits and slow clients, against the real agentgate binary over raw
// sockets: heads and bodies over the configured limits get 431/413 in the
// OpenAI error shape while the gateway's peak memory (VmHWM) stays flat
// although hundreds of MiB are offered; clients that dribble their head or
// body a byte at a time, or say nothing, are cut off by the configured
// timeouts while other clients are served meanwhile.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <map>
#include <future>
#include <thread>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"

namespace agentgate::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Peak-memory growth allowed while hundreds of MiB are offered: ASan keeps
// freed blocks in quarantine and adds shadow memory.
#if defined(__SANITIZE_ADDRESS__)
constexpr int64_t kMaxPeakGrowthKb = 96 * 1024;
#else
constexpr int64_t kMaxPeakGrowthKb = 16 * 1024;
#endif

constexpr const char* kChat = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})";

// ProcStatusKb: a "Vm...:" field of /proc/<pid>/status in KiB; -1 if absent.
int64_t ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// StatusOf: the status code of the first response line in `raw`, 0 if none.
int StatusOf(const std::string& raw) {
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || raw.size() < 12) return 0;
  return std::stoi(raw.substr(9, 3));
}

// Offer: sends `head`, then `body_bytes` bytes made by `piece` (repeated),
// while a reader collects the answer; stops when the server closes or
// everything was sent. Returns the answer and how much the server took.
struct Offered {
  std::string answer;
  size_t sent = 0;
};
Offered Offer(uint16_t port, const std::string& head, size_t body_bytes, const std::string& piece) {
  Offered out;
  int fd = Connect(port);
  if (fd < 0) return out;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::thread reader([&] {
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (out.answer.size() < 65536) out.answer.append(buf, static_cast<size_t>(n));
    }
  });
  auto send_all = [&](std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      out.sent += static_cast<size_t>(n);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  };
  bool ok = send_all(head);
  for (size_t left = body_bytes; ok && left > 0;) {
    size_t n = std::min(left, piece.size());
    ok = send_all(std::string_view(piece).substr(0, n));
    left -= n;
  }
  ::shutdown(fd, SHUT_WR);
  reader.join();
  ::close(fd);
  return out;
}

class SecurityLimitsTest : public ::testing::Test {
 protected:
  void Start(const std::string& server_extra) {
    mock_ = MockProcess::Start();
    ASSERT_NE(mock_, nullptr);
    gw_ = GatewayProcess::Start(
        "server:\n  admin_key: limits-admin\n  access_log: off\n" + server_extra +
        "upstreams:\n  - name: mock\n    base_url: http://127.0.0.1:" +
        std::to_string(mock_->port()) + "/v1\n    models: [gpt-4o-mini]\n"
        "rate_limit:\n  enabled: false\ncache:\n  enabled: false\n");
    ASSERT_NE(gw_, nullptr);
  }
  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(SecurityLimitsTest, OversizedHeadsAndBodiesAreRefusedBeforeMemoryGrows) {
  Start("  max_body_bytes: 1048576\n  max_header_bytes: 16384\n");
  const pid_t pid = gw_->process().pid();
  for (int i = 0; i < 20; ++i) {  // warm up the allocator and the connection path
    ASSERT_EQ(Request(gw_->port(), "POST", "/v1/chat/completions", kChat).status, 200);
  }
  const int64_t hwm_before = ProcStatusKb(pid, "VmHWM");
  ASSERT_GT(hwm_before, 0);

  const size_t kMiB = 1024 * 1024;
  const std::string post = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  struct Case {
    const char* name;
    std::string head;
    size_t body_bytes;
    std::string piece;
    int want;
  };
  std::string chunk = "10000\r\n" + std::string(0x10000, 'a') + "\r\n";
  std::string many;  // 1024 headers "X-a: b\r\n", repeated to 100k
  for (int i = 0; i < 1024; ++i) many += "X-a: b\r\n";
  const std::vector<Case> all = {
      {"Content-Length of 10 GiB, no body", post + "Content-Length: 10737418240\r\n\r\n", 0, "", 413},
      {"64 MiB body (Content-Length)", post + "Content-Length: 67108864\r\n\r\n", 64 * kMiB,
       std::string(0x10000, 'a'), 413},
      {"64 MiB chunked body", post + "Transfer-Encoding: chunked\r\n\r\n", 64 * kMiB, chunk, 413},
      {"one 8 MiB header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", 8 * kMiB,
       std::string(0x10000, 'b'), 431},
      {"100k small headers", "GET /healthz HTTP/1.1\r\nHost: x\r\n", 100000 * 8, many, 431},
      {"8 MiB request target", "GET /healthz?", 8 * kMiB, std::string(0x10000, 'q'), 431},
  };

  size_t offered = 0;
  for (const Case& c : all) {
    // Four at once, as a flood would.
    std::vector<std::future<Offered>> runs;
    for (int i = 0; i < 4; ++i) {
      runs.push_back(std::async(std::launch::async,
                                [&] { return Offer(gw_->port(), c.head, c.body_bytes, c.piece); }));
    }
    for (auto& r : runs) {
      Offered o = r.get();
      offered += c.head.size() + c.body_bytes;
      EXPECT_EQ(StatusOf(o.answer), c.want) << c.name << ": " << o.answer.substr(0, 200);
      EXPECT_NE(o.answer.find(R"("error":{)"), std::string::npos) << c.name;
      EXPECT_LT(o.sent, c.head.size() + c.body_bytes / 2 + 4 * kMiB) << c.name << ": the server read on";
    }
  }
  const int64_t hwm_after = ProcStatusKb(pid, "VmHWM");
  std::printf("[ limits ] offered %zu MiB; gateway VmHWM %lld -> %lld KiB\n", offered / kMiB,
              static_cast<long long>(hwm_before), static_cast<long long>(hwm_after));
  EXPECT_GT(offered, 500 * kMiB);
  EXPECT_LT(hwm_after - hwm_before, kMaxPeakGrowthKb) << "peak memory grew too much";
  EXPECT_EQ(Request(gw_->port(), "POST", "/v1/chat/completions", kChat).status, 200);
  EXPECT_EQ(Request(mock_->port(), "GET", "/_mock/stats").json()["total"], 21);
}

// Dribble: sends `head` then `filler` one byte every 100 ms until the server
// closes the connection (true) or `deadline` passes (false).
bool Dribble(uint16_t port, const std::string& head, Clock::time_point deadline, std::string* answer) {
  int fd = Connect(port);
  if (fd < 0) return false;
  bool closed = false;
  for (size_t i = 0; Clock::now() < deadline && !closed; ++i) {
    char byte = i < head.size() ? head[i] : 'z';
    if (::send(fd, &byte, 1, MSG_NOSIGNAL) != 1) {
      closed = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) answer->append(buf, static_cast<size_t>(n));
      if (n <= 0) closed = true;
    }
  }
  ::close(fd);
  return closed;
}

// WaitClosed: whether the server closes `fd` before `deadline`; appends what it sent.
bool WaitClosed(int fd, Clock::time_point deadline, std::string* answer) {
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      answer->append(buf, static_cast<size_t>(n));
      continue;
    }
    return true;
  }
  return false;
}

TEST_F(SecurityLimitsTest, SlowAndSilentClientsAreCutOffWhileOthersAreServed) {
  Start("  header_timeout_ms: 1000\n  body_timeout_ms: 1000\n  idle_timeout_ms: 1000\n");
  const auto deadline = Clock::now() + 20s;
  std::vector<std::future<std::pair<bool, std::string>>> dribblers;
  const std::string slow_head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ";  // never ends
  const std::string slow_body =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{";
  for (int i = 0; i < 3; ++i) {
    for (const std::string* head : {&slow_head, &slow_body}) {
      dribblers.push_back(std::async(std::launch::async, [&, head] {
        std::string answer;
        bool closed = Dribble(gw_->port(), *head, deadline, &answer);
        return std::make_pair(closed, answer);
      }));
    }
  }
  std::vector<int> silent;
  for (int i = 0; i < 20; ++i) silent.push_back(Connect(gw_->port()));
  std::vector<int> idle;  // keep-alive after one request, then quiet
  for (int i = 0; i < 3; ++i) {
    int fd = Connect(gw_->port());
    std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    EXPECT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    idle.push_back(fd);
  }

  // Meanwhile, other clients are served.
  int served = 0, failed = 0;
  auto until = Clock::now() + 1500ms;  // past the timeouts, while the dribblers still dribble
  while (Clock::now() < until) {
    HttpResult r = Request(gw_->port(), "POST", "/v1/chat/completions", kChat, {}, 5000ms);
    (r.status == 200 ? served : failed)++;
  }
  EXPECT_GT(served, 0);
  EXPECT_EQ(failed, 0);

  int cut = 0;
  std::map<std::string, int> answers;  // first line of what each slow client got
  auto first_line = [](const std::string& a) {
    return a.empty() ? std::string("(closed, no answer)") : a.substr(0, a.find("\r\n"));
  };
  for (auto& d : dribblers) {
    auto [closed, answer] = d.get();
    cut += closed;
    answers["dribbler: " + first_line(answer)]++;
  }
  for (int fd : silent) {
    std::string answer;
    cut += WaitClosed(fd, deadline, &answer);
    answers["silent: " + first_line(answer)]++;
    ::close(fd);
  }
  for (int fd : idle) {
    std::string answer;
    cut += WaitClosed(fd, deadline, &answer);
    answer = answer.substr(answer.find("\r\n\r\n") == std::string::npos ? 0 : answer.find("}") + 1);
    answers["idle keep-alive: " + first_line(answer)]++;
    ::close(fd);
  }
  EXPECT_EQ(cut, 6 + 20 + 3);
  for (const auto& [what, n] : answers) std::printf("[ slow ] %d x %s\n", n, what.c_str());
  EXPECT_EQ(Request(gw_->port(), "GET", "/healthz").status, 200);
  std::string metrics = Request(gw_->port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("agentgate_http_timeouts_total"), std::string::npos);
}

}  // namespace
}  // namespace agentgate::test
