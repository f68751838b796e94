#include "gateway/usage_tracker.h"

#include "agentgate/core/hash.h"

namespace agentgate {

UsageTracker::Shard& UsageTracker::shard(std::string_view user) const {
  return shards_[Hash64(user) % kShards];
}

void UsageTracker::record(std::string_view user, std::string_view model, const Usage& usage) {
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  auto& by_model = s.by_user[std::string(user)];
  auto it = by_model.find(model);
  if (it == by_model.end()) it = by_model.emplace(std::string(model), UsageTotals{}).first;
  UsageTotals& t = it->second;
  t.requests += 1;
  t.prompt_tokens += usage.prompt_tokens;
  t.completion_tokens += usage.completion_tokens;
  t.total_tokens += usage.total_tokens;
  if (!metrics_ || !usage.known) return;
  auto c = s.counters.find(it->first);
  if (c == s.counters.end()) {
    constexpr std::string_view kHelp = "Tokens reported by upstreams, by model and kind";
    Counter* prompt = &metrics_->counter("agentgate_usage_tokens_total", kHelp,
                                         Labels{{"model", it->first}, {"kind", "prompt"}});
    Counter* completion = &metrics_->counter("agentgate_usage_tokens_total", kHelp,
                                             Labels{{"model", it->first}, {"kind", "completion"}});
    c = s.counters.emplace(it->first, std::make_pair(prompt, completion)).first;
  }
  c->second.first->inc(static_cast<uint64_t>(usage.prompt_tokens));
  c->second.second->inc(static_cast<uint64_t>(usage.completion_tokens));
}

std::map<std::string, UsageTotals, std::less<>> UsageTracker::for_user(std::string_view user) const {
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  auto it = s.by_user.find(std::string(user));
  if (it == s.by_user.end()) return {};
  return it->second;
}

}  // namespace agentgate
