// Readiness: what /readyz reports. Each dependency registers a check; the
// gateway is ready when all pass, degraded (still serving, still 200) when an
// optional dependency such as Redis is away, and not ready (503) while
// starting or shutting down.
//
// Thread-safety: add() before serving; report() from any thread. Checks must
// be cheap and thread-safe (read a flag, do no I/O).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace agentgate {

struct CheckResult {
  bool ok = true;
  std::string reason;  // why not ok
};

class Readiness {
 public:
  // add: a check; `required` failures make the gateway not ready, others degraded.
  void add(std::string name, bool required, std::function<CheckResult()> check) {
    checks_.push_back({std::move(name), required, std::move(check)});
  }
  void set_serving(bool serving) { serving_.store(serving, std::memory_order_release); }

  struct Report {
    enum class State { kReady, kDegraded, kNotReady } state = State::kReady;
    std::vector<std::pair<std::string, CheckResult>> checks;
  };
  Report report() const {
    Report r;
    if (!serving_.load(std::memory_order_acquire)) {
      r.state = Report::State::kNotReady;
      r.checks.push_back({"server", {false, "starting or shutting down"}});
    }
    for (const auto& c : checks_) {
      CheckResult res = c.check();
      if (!res.ok) {
        if (c.required) r.state = Report::State::kNotReady;
        else if (r.state == Report::State::kReady) r.state = Report::State::kDegraded;
      }
      r.checks.push_back({c.name, std::move(res)});
    }
    return r;
  }

 private:
  struct Check {
    std::string name;
    bool required;
    std::function<CheckResult()> check;
  };
  std::vector<Check> checks_;
  std::atomic<bool> serving_{false};
};

}  // namespace agentgate
