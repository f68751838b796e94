#include "integration/support/load_generator.h"

#include <memory>

#include "integration/support/keepalive_connection.h"

namespace agentgate::test {

LoadGenerator::LoadGenerator(LoadOptions options)
    : options_(std::move(options)), per_instance_(options_.ports.size()) {}

LoadGenerator::~LoadGenerator() { stop(); }

void LoadGenerator::start() {
  for (int c = 0; c < options_.clients; ++c) threads_.emplace_back([this, c] { run(c); });
}

void LoadGenerator::stop() {
  stop_.store(true);
  wait();
}

void LoadGenerator::wait() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

LoadTotals LoadGenerator::totals() const {
  LoadTotals t;
  t.ok = classes_[0].load();
  t.limited = classes_[1].load();
  t.client_error = classes_[2].load();
  t.server_error = classes_[3].load();
  t.transport = classes_[4].load();
  t.requests = t.ok + t.limited + t.client_error + t.server_error + t.transport;
  for (const auto& n : per_instance_) t.per_instance.push_back(n.load());
  return t;
}

void LoadGenerator::run(int client) {
  const size_t n = options_.ports.size();
  if (n == 0) return;
  std::vector<std::unique_ptr<KeepAliveConnection>> conns;
  for (uint16_t port : options_.ports) conns.push_back(std::make_unique<KeepAliveConnection>(port));
  const auto end = std::chrono::steady_clock::now() + options_.max_duration;
  for (int64_t seq = 0; !stop_.load(std::memory_order_relaxed); ++seq) {
    if (options_.max_requests > 0 &&
        issued_.fetch_add(1, std::memory_order_relaxed) >= options_.max_requests) {
      break;
    }
    if (std::chrono::steady_clock::now() >= end) break;
    LoadSample s;
    s.client = client;
    s.seq = seq;
    s.instance = static_cast<int>((static_cast<size_t>(client) + static_cast<size_t>(seq)) % n);
    const LoadRequest req = options_.make(client, seq);
    s.request = &req;
    s.sent = std::chrono::steady_clock::now();
    s.result = conns[static_cast<size_t>(s.instance)]->request(req.method, req.target, req.body,
                                                               req.headers, options_.timeout);
    s.received = std::chrono::steady_clock::now();
    const int st = s.result.status;
    int cls = st == 0 ? 4 : st / 100 == 2 ? 0 : st == 429 ? 1 : st / 100 == 4 ? 2 : 3;
    classes_[static_cast<size_t>(cls)].fetch_add(1, std::memory_order_relaxed);
    if (st != 0)
      per_instance_[static_cast<size_t>(s.instance)].fetch_add(1, std::memory_order_relaxed);
    if (options_.on_response) options_.on_response(s);
    completed_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace agentgate::test
