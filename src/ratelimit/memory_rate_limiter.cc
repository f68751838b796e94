// The in-process RateLimiter: users sharded by hash; each shard holds a
// linear-probing index of 32-bit slots into a chunked slab of UserState.
#include <algorithm>
#include <bit>
#include <memory>
#include <mutex>
#include <vector>

#include "agentgate/core/hash.h"
#include "agentgate/ratelimit/rate_limiter.h"
#include "ratelimit/sliding_window.h"

namespace agentgate {

namespace {

constexpr size_t kChunk = 64;       // UserStates per slab chunk
constexpr size_t kMinSweep = 1024;  // a shard sweeps idle users from this size on

struct UserState {
  uint64_t key;  // Hash64 of the user id (collisions at 2^-64 per pair are ignored)
  SlidingWindow windows[kRateWindowCount];
};

class Shard {
 public:
  Shard() : index_(16, 0) {}

  // find_or_add: the state of `key`; `fresh` tells whether it was created.
  // Before the shard grows past its sweep mark, the users for which
  // `idle(state)` holds (nothing counted in any window) are dropped.
  template <typename Idle>
  UserState* find_or_add(uint64_t key, bool* fresh, const Idle& idle) {
    size_t mask = index_.size() - 1;
    for (size_t i = key & mask;; i = (i + 1) & mask) {
      uint32_t v = index_[i];
      if (v == 0) break;
      UserState* s = at(v - 1);
      if (s->key == key) {
        *fresh = false;
        return s;
      }
    }
    if (size_ >= next_sweep_) {
      sweep(idle);
      next_sweep_ = std::max(kMinSweep, size_ * 2);
    }
    if ((size_ + 1) * 2 > index_.size()) grow();
    uint32_t id = static_cast<uint32_t>(size_++);
    if (id / kChunk >= chunks_.size()) chunks_.push_back(std::make_unique<UserState[]>(kChunk));
    UserState* s = at(id);
    s->key = key;
    insert(key, id + 1);
    *fresh = true;
    return s;
  }

  UserState* find(uint64_t key) const {
    size_t mask = index_.size() - 1;
    for (size_t i = key & mask;; i = (i + 1) & mask) {
      uint32_t v = index_[i];
      if (v == 0) return nullptr;
      UserState* s = at(v - 1);
      if (s->key == key) return s;
    }
  }

  size_t size() const { return size_; }
  size_t bytes() const {
    return index_.size() * sizeof(uint32_t) + chunks_.size() * kChunk * sizeof(UserState);
  }

  mutable std::mutex mu;

 private:
  UserState* at(uint32_t id) const { return &chunks_[id / kChunk][id % kChunk]; }
  void insert(uint64_t key, uint32_t v) {
    size_t mask = index_.size() - 1;
    size_t i = key & mask;
    while (index_[i] != 0) i = (i + 1) & mask;
    index_[i] = v;
  }
  // sweep: drops idle users, compacting the slab and rebuilding the index.
  template <typename Idle>
  void sweep(const Idle& idle) {
    size_t kept = 0;
    for (size_t id = 0; id < size_; ++id) {
      UserState* s = at(static_cast<uint32_t>(id));
      if (idle(*s)) continue;
      if (kept != id) *at(static_cast<uint32_t>(kept)) = *s;
      ++kept;
    }
    size_ = kept;
    chunks_.resize((size_ + kChunk - 1) / kChunk);
    index_.assign(std::max<size_t>(16, std::bit_ceil(size_ * 2 + 2)), 0);
    for (size_t id = 0; id < size_; ++id) {
      insert(at(static_cast<uint32_t>(id))->key, static_cast<uint32_t>(id + 1));
    }
  }

  void grow() {
    std::vector<uint32_t> old = std::move(index_);
    index_.assign(old.size() * 2, 0);
    for (uint32_t v : old) {
      if (v != 0) insert(at(v - 1)->key, v);
    }
  }

  std::vector<uint32_t> index_;  // power of two; 0 = empty, else slab id + 1
  std::vector<std::unique_ptr<UserState[]>> chunks_;
  size_t size_ = 0;
  size_t next_sweep_ = kMinSweep;  // size at which idle users are swept before growing
};

class MemoryRateLimiter final : public RateLimiter {
 public:
  MemoryRateLimiter(const RateLimitPolicy& policy, const Clock& clock,
                    MemoryRateLimiterOptions options)
      : policy_(policy), clock_(clock), epoch_(clock.monotonic().count()) {
    size_t n = std::bit_ceil(static_cast<size_t>(std::max(1, options.shards)));
    shard_shift_ = 64 - std::countr_zero(n);
    shards_ = std::vector<Shard>(n);
    for (int w = 0; w < kRateWindowCount; ++w) {
      int64_t width = RateWindowWidth(static_cast<RateWindow>(w)).count();
      geometry_[w] = {width, width / kRateBuckets};
    }
  }

  Result<RateDecision> acquire(std::string_view user, std::string_view tier, int64_t cost) override {
    return decide(user, tier, cost, /*record=*/true);
  }
  Result<RateDecision> check_limit(std::string_view user, std::string_view tier,
                                   int64_t cost) override {
    return decide(user, tier, cost, /*record=*/false);
  }

  Status record_request(std::string_view user, int64_t cost) override {
    if (cost < 0) return InvalidArgument("cost must be >= 0");
    int64_t t = now();
    uint64_t key = Hash64(user);
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mu);
    UserState* s = state(shard, key, t);
    for (int w = 0; w < kRateWindowCount; ++w) s->windows[w].record(geometry_[w], t, cost);
    return Status::Ok();
  }

  Status reset(std::string_view user) override {
    int64_t t = now();
    uint64_t key = Hash64(user);
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mu);
    if (UserState* s = shard.find(key)) {
      for (int w = 0; w < kRateWindowCount; ++w) s->windows[w].init(geometry_[w], t);
    }
    return Status::Ok();
  }

  size_t users() const override {
    size_t n = 0;
    for (const Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      n += s.size();
    }
    return n;
  }

  double bytes_per_user() const override {
    size_t n = 0, bytes = 0;
    for (const Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      n += s.size();
      bytes += s.bytes();
    }
    return n == 0 ? static_cast<double>(sizeof(UserState)) : static_cast<double>(bytes) / n;
  }

 private:
  int64_t now() const { return clock_.monotonic().count() - epoch_; }
  Shard& shard_of(uint64_t key) { return shards_[shard_shift_ >= 64 ? 0 : key >> shard_shift_]; }

  UserState* state(Shard& shard, uint64_t key, int64_t t) {
    bool fresh = false;
    UserState* s = shard.find_or_add(key, &fresh, [&](const UserState& u) {
      // Idle: even the day window's ring has moved past everything it held.
      const SlidingWindow& day = u.windows[kRateWindowCount - 1];
      uint32_t cur = static_cast<uint32_t>(t / geometry_[kRateWindowCount - 1].bucket_ns);
      return static_cast<uint32_t>(cur - day.head) >= static_cast<uint32_t>(kRateSlots) &&
             static_cast<uint32_t>(cur - day.head) <= 0x80000000u;
    });
    for (int w = 0; w < kRateWindowCount; ++w) {
      if (fresh) {
        s->windows[w].init(geometry_[w], t);
      } else {
        s->windows[w].advance(geometry_[w], t);
      }
    }
    return s;
  }

  Result<RateDecision> decide(std::string_view user, std::string_view tier, int64_t cost,
                              bool record) {
    if (cost < 0) return InvalidArgument("cost must be >= 0");
    ResolvedLimits limits = policy_.resolve(user, tier);
    RateDecision d;
    d.tier = std::move(limits.tier);
    int64_t t = now();
    uint64_t key = Hash64(user);
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mu);
    UserState* s = state(shard, key, t);
    int64_t used[kRateWindowCount];
    for (int w = 0; w < kRateWindowCount; ++w) {
      used[w] = s->windows[w].count(geometry_[w], t);
      int64_t limit = limits.requests[w];
      if (limit > 0 && used[w] + cost > limit) {
        d.allowed = false;
        int64_t wait = s->windows[w].time_to_free(geometry_[w], t, used[w] + cost - limit);
        if (wait < 0) wait = geometry_[w].width_ns;  // cost above the limit: never passes
        d.retry_after = std::max(d.retry_after, Nanos(wait));
      }
    }
    bool counted = record && d.allowed && cost > 0;
    int64_t best_remaining = 0;
    for (int w = 0; w < kRateWindowCount; ++w) {
      const SlidingWindowGeometry& g = geometry_[w];
      if (counted) {
        s->windows[w].record(g, t, cost);
        used[w] += cost;
      }
      RateWindowStatus& ws = d.windows[w];
      ws.limit = limits.requests[w];
      ws.used = used[w];
      ws.remaining = ws.limit > 0 ? std::max<int64_t>(0, ws.limit - used[w]) : 0;
      if (!record && used[w] > 0) ws.reset = Nanos(std::max<int64_t>(0, s->windows[w].time_to_free(g, t, 1)));
      if (ws.limit > 0 && (d.most_restrictive < 0 || ws.remaining < best_remaining)) {
        d.most_restrictive = w;
        best_remaining = ws.remaining;
      }
    }
    // acquire fills `reset` only for the most restrictive window (the hot path).
    int m = d.most_restrictive;
    if (record && m >= 0 && used[m] > 0) {
      d.windows[m].reset = Nanos(std::max<int64_t>(0, s->windows[m].time_to_free(geometry_[m], t, 1)));
    }
    return d;
  }

  const RateLimitPolicy& policy_;
  const Clock& clock_;
  const int64_t epoch_;  // monotonic ns at construction: times are relative to it
  int shard_shift_ = 64;
  std::vector<Shard> shards_;  // constant size; each shard locks itself
  SlidingWindowGeometry geometry_[kRateWindowCount];
};

}  // namespace

std::unique_ptr<RateLimiter> NewMemoryRateLimiter(const RateLimitPolicy& policy,
                                                  const Clock& clock,
                                                  MemoryRateLimiterOptions options) {
  return std::make_unique<MemoryRateLimiter>(policy, clock, options);
}

}  // namespace agentgate
