// UsageTracker: tokens used per user and model, as upstreams reported them.
// Feeds GET /api/v1/usage/{user_id}, the agentgate_usage_tokens_total metric
// (by model and kind; users are not a label, to bound cardinality) and,
// later, token budgets.
//
// Thread-safety: internally synchronized (sharded by user).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agentgate/core/metrics.h"
#include "gateway/request_context.h"

namespace agentgate {

struct UsageTotals {
  int64_t requests = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
};

class UsageTracker {
 public:
  explicit UsageTracker(MetricsRegistry* metrics) : metrics_(metrics) {}

  // record: one answered request of `user` for `model` (usage may be unknown).
  void record(std::string_view user, std::string_view model, const Usage& usage);

  // for_user: totals by model; empty when the user has none.
  std::map<std::string, UsageTotals, std::less<>> for_user(std::string_view user) const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::map<std::string, UsageTotals, std::less<>>> by_user;  // GUARDED_BY(mu)
    // Metric handles by model (prompt, completion), so the registry lock is
    // taken once per model and shard, not per request.
    std::unordered_map<std::string, std::pair<Counter*, Counter*>> counters;  // GUARDED_BY(mu)
  };
  Shard& shard(std::string_view user) const;

  MetricsRegistry* metrics_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace agentgate
