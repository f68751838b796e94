// BreakerRegistry: one CircuitBreaker per name (per upstream), created on
// first use with the registry's default options.
//
//   BreakerRegistry breakers(CircuitBreakerOptions{}, clock, &metrics);
//   CircuitBreaker& b = breakers.get("openai");
//
// Thread-safety: internally synchronized. Breakers are never removed, so the
// references returned stay valid for the registry's lifetime.
// Ownership: clock and metrics (when given) must outlive the registry.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agentgate/resilience/circuit_breaker.h"

namespace agentgate {

class BreakerRegistry {
 public:
  BreakerRegistry(CircuitBreakerOptions defaults, const Clock& clock,
                  MetricsRegistry* metrics = nullptr);

  // get: the breaker called `name`, made with the default options if new.
  CircuitBreaker& get(std::string_view name);
  // find: the breaker called `name`, or nullptr.
  CircuitBreaker* find(std::string_view name) const;
  // all: every breaker, sorted by name.
  std::vector<CircuitBreaker*> all() const;

  const CircuitBreakerOptions& defaults() const { return defaults_; }

 private:
  const CircuitBreakerOptions defaults_;
  const Clock& clock_;
  MetricsRegistry* const metrics_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<CircuitBreaker>, std::less<>> breakers_;  // GUARDED_BY(mu_)
};

}  // namespace agentgate
