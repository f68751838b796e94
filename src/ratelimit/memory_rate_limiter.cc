// The in-process RateLimiter: users sharded by hash; each shard is a flat
// open-addressing table (linear probing) of 64-byte slots, one cache line
// per user: the 64-bit hash of the user id and the user's RunLog inline (up
// to kInlineRuns runs, enough for a user well under the limits). A busier
// user's log moves to a block of the limiter's huge-page arena (a "spill")
// and back when it shrinks.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "agentgate/core/hash.h"
#include "agentgate/ratelimit/rate_limiter.h"
#include "ratelimit/huge_page_arena.h"
#include "ratelimit/run_log.h"

namespace agentgate {

namespace {

constexpr int kInlineRuns = 8;
constexpr int kMaxRunsPerLog = kRateWindowCount * kMaxRunsPerWindow;
constexpr uint8_t kSpilled = 0xFF;  // in header[4] (n[0] <= kMaxRunsPerWindow otherwise)
constexpr size_t kMinSlots = 16;
constexpr size_t kMinSweep = 1024;  // a shard sweeps idle users from this size on

struct alignas(64) Slot {
  uint64_t key;                            // Hash64 of the user id, never 0; 0: empty
  uint8_t header[kRunHeaderBytes];         // the log's header, or kSpilled in header[4]
  uint8_t runs[kInlineRuns * kRunBytes];   // the runs, or the Spill* and its capacity (int32)
};
static_assert(sizeof(Slot) == 64);

// Spill: a block of the limiter's HugePageArena: this header, then `capacity` runs.
struct Spill {
  int32_t capacity;
  uint8_t header[kRunHeaderBytes];
  uint8_t* runs() { return reinterpret_cast<uint8_t*>(this + 1); }
  static size_t Bytes(int capacity) { return sizeof(Spill) + static_cast<size_t>(capacity) * kRunBytes; }
};

bool IsSpilled(const Slot& s) { return s.header[4] == kSpilled; }
Spill* SpillOf(const Slot& s) {
  Spill* p;
  std::memcpy(&p, s.runs, sizeof p);
  return p;
}
// SpillCapacityOf: the spill's capacity, as its slot keeps a copy (read
// without waiting for the spill's first line).
int32_t SpillCapacityOf(const Slot& s) {
  int32_t capacity;
  std::memcpy(&capacity, s.runs + sizeof(Spill*), sizeof capacity);
  return capacity;
}
constexpr int kMaxPrefetchLines = 8;  // of a spill: a saturated user's log is larger

// AllocSlots: a zeroed table. From 2 MB on, huge pages of its own: one TLB
// entry covers 32768 users. (From the heap it could reuse memory already
// mapped in 4 KB pages.)
Slot* AllocSlots(size_t n) {
  const size_t bytes = n * sizeof(Slot);
  if (bytes < kHugePageBytes) {
    void* p = std::aligned_alloc(alignof(Slot), bytes);
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return static_cast<Slot*>(p);
  }
  return static_cast<Slot*>(MapHugePages(bytes));  // a power of two: whole huge pages
}

void FreeSlots(Slot* p, size_t n) {
  const size_t bytes = n * sizeof(Slot);
  if (bytes < kHugePageBytes) {
    std::free(p);
  } else {
    UnmapHugePages(p, bytes);
  }
}

// SpinLock: a one-byte lock for the shards' short critical sections (a
// lookup and a few dozen bytes of arithmetic): an uncontended lock/unlock is
// one exchange and one store. Waiters spin briefly, then yield the CPU (the
// holder may have been descheduled).
class SpinLock {
 public:
  void lock() {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      for (int spins = 0; flag_.load(std::memory_order_relaxed);) {
        if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();
          spins = 0;
        }
      }
    }
  }
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

// Shard: a pair of cache lines of its own (lock, table, hints): x86 cores
// fetch lines in adjacent pairs, so 64 bytes would still share with a neighbour.
class alignas(128) Shard {
 public:
  Shard() : slots_(AllocSlots(kMinSlots)), mask_(kMinSlots - 1) { publish(); }
  ~Shard() {
    for (size_t i = 0; i <= mask_; ++i) {
      if (slots_[i].key != 0 && IsSpilled(slots_[i])) FreeSpill(SpillOf(slots_[i]));
    }
    FreeSlots(slots_, mask_ + 1);
  }
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // prefetch: starts loading the slot `key` probably lives in, without the
  // lock (a hint: the table may be replaced meanwhile; prefetch never faults).
  void prefetch(uint64_t key) const {
    const Slot* s = hint_slots_.load(std::memory_order_relaxed);
    const size_t m = hint_mask_.load(std::memory_order_relaxed);
    __builtin_prefetch(&s[key & m], 1, 3);
    __builtin_prefetch(&s[(key + 1) & m], 1, 3);  // linear probing's next slot (1 in 4 users)
  }

  // find: the slot of `key`, or null. REQUIRES: mu held.
  Slot* find(uint64_t key) {
    for (size_t i = key & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.key == key) return &s;
      if (s.key == 0) return nullptr;
    }
  }

  // find_or_add: the slot of `key`; a new one holds an empty log. Each time
  // the users have doubled since the last sweep, idle ones (nothing counted
  // any more) are dropped first.
  // REQUIRES: mu held.
  Slot* find_or_add(uint64_t key, const RunClock& c) {
    size_t i = key & mask_;
    for (;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.key == key) return &s;
      if (s.key == 0) break;
    }
    const bool sweep = used_ >= next_sweep_;
    if (sweep || Overloaded(used_ + 1, mask_ + 1)) {
      const size_t keep = sweep ? CountBusy(c) : used_;
      size_t n = mask_ + 1;
      while (Overloaded(keep + 1, n)) n *= 2;
      rebuild(n, sweep ? &c : nullptr);
      if (sweep) next_sweep_ = std::max(kMinSweep, used_ * 2);
      for (i = key & mask_; slots_[i].key != 0; i = (i + 1) & mask_) {
      }
    }
    Slot& s = slots_[i];
    s.key = key;
    RunLogView::InitHeader(s.header, c.now_s);
    ++used_;
    return &s;
  }

  // view: the log of `s`.
  RunLogView view(Slot& s) {
    if (!IsSpilled(s)) return RunLogView(s.header, s.runs, kInlineRuns);
    // Every line of the spill at once: otherwise those after the first
    // would be read only once it arrives (where the runs are depends on it).
    Spill* p = SpillOf(s);
    const uintptr_t begin = reinterpret_cast<uintptr_t>(p);
    const uintptr_t end = begin + Spill::Bytes(SpillCapacityOf(s));
    uintptr_t line = begin & ~uintptr_t{63};
    for (int n = 0; line < end && n < kMaxPrefetchLines; line += 64, ++n) {
      __builtin_prefetch(reinterpret_cast<const void*>(line), 1, 3);
    }
    return RunLogView(p->header, p->runs(), p->capacity);
  }

  // make_room: the log of `s` with room for `runs` runs (moved to a larger
  // spill block).
  RunLogView make_room(Slot& s, int runs) {
    RunLogView old = view(s);
    const int total = old.total();
    const int capacity = std::max(runs, std::min(std::max(16, 2 * old.capacity()), kMaxRunsPerLog));
    Spill* p = static_cast<Spill*>(arena_->allocate(Spill::Bytes(capacity)));
    p->capacity = capacity;
    if (IsSpilled(s)) {
      Spill* q = SpillOf(s);
      std::memcpy(p->header, q->header, kRunHeaderBytes);
      std::memcpy(p->runs(), q->runs(), static_cast<size_t>(total) * kRunBytes);
      FreeSpill(q);
    } else {
      std::memcpy(p->header, s.header, kRunHeaderBytes);
      std::memcpy(p->runs(), s.runs, static_cast<size_t>(total) * kRunBytes);
      s.header[4] = kSpilled;
    }
    std::memcpy(s.runs, &p, sizeof p);
    std::memcpy(s.runs + sizeof p, &capacity, sizeof capacity);
    return view(s);
  }

  // settle: a spilled log that has shrunk to two runs under the inline
  // room moves back (the margin: a user at the edge does not move each call).
  void settle(Slot& s) {
    if (!IsSpilled(s)) return;
    Spill* p = SpillOf(s);
    RunLogView log(p->header, p->runs(), p->capacity);
    const int total = log.total();
    if (total > kInlineRuns - 2) return;
    std::memcpy(s.runs, p->runs(), static_cast<size_t>(total) * kRunBytes);
    std::memcpy(s.header, p->header, kRunHeaderBytes);
    FreeSpill(p);
  }

  // clear: forgets the counts of `s`.
  void clear(Slot& s, uint32_t now_s) {
    if (IsSpilled(s)) FreeSpill(SpillOf(s));
    RunLogView::InitHeader(s.header, now_s);
  }

  size_t size() const { return used_; }
  // table_bytes: the table's memory (spills are the arena's).
  size_t table_bytes() const { return (mask_ + 1) * sizeof(Slot); }
  // set_arena: where spills go. REQUIRES: called once, before any use.
  void set_arena(HugePageArena* arena) { arena_ = arena; }

  mutable SpinLock mu;

 private:
  // Overloaded: `users` in `slots` exceed the maximum load, 0.6.
  static bool Overloaded(size_t users, size_t slots) { return users * 10 > slots * 6; }

  void FreeSpill(Spill* p) { arena_->free(p, Spill::Bytes(p->capacity)); }

  // Idle: nothing of `s` counts any more at `c` (expires it).
  bool Idle(Slot& s, const RunClock& c) {
    RunLogView log = view(s);
    log.expire(c);
    return log.total() == 0;
  }

  size_t CountBusy(const RunClock& c) {
    size_t n = 0;
    for (size_t i = 0; i <= mask_; ++i) {
      if (slots_[i].key != 0 && !Idle(slots_[i], c)) ++n;
    }
    return n;
  }

  // rebuild: moves every user (with `sweep`, every busy one) to a new
  // table of `n` slots.
  void rebuild(size_t n, const RunClock* sweep) {
    Slot* old = slots_;
    const size_t old_n = mask_ + 1;
    slots_ = AllocSlots(n);
    mask_ = n - 1;
    used_ = 0;
    for (size_t j = 0; j < old_n; ++j) {
      Slot& s = old[j];
      if (s.key == 0) continue;
      if (sweep != nullptr && Idle(s, *sweep)) {
        if (IsSpilled(s)) FreeSpill(SpillOf(s));
        continue;
      }
      size_t i = s.key & mask_;
      while (slots_[i].key != 0) i = (i + 1) & mask_;
      slots_[i] = s;
      ++used_;
    }
    FreeSlots(old, old_n);
    publish();
  }

  void publish() {
    hint_slots_.store(slots_, std::memory_order_relaxed);
    hint_mask_.store(mask_, std::memory_order_relaxed);
  }

  Slot* slots_;        // GUARDED_BY(mu): mask_ + 1 slots
  size_t mask_;        // GUARDED_BY(mu)
  size_t used_ = 0;    // GUARDED_BY(mu)
  HugePageArena* arena_ = nullptr;  // the limiter's, for spills
  size_t next_sweep_ = kMinSweep;  // GUARDED_BY(mu): sweep idle users before growing from here
  std::atomic<const Slot*> hint_slots_{nullptr};  // slots_ and mask_ for prefetch()
  std::atomic<size_t> hint_mask_{0};
};

class MemoryRateLimiter final : public RateLimiter {
 public:
  MemoryRateLimiter(const RateLimitPolicy& policy, const Clock& clock,
                    MemoryRateLimiterOptions options)
      : policy_(policy), clock_(clock), epoch_(clock.monotonic().count()) {
    const size_t n = std::bit_ceil(static_cast<size_t>(std::max(1, options.shards)));
    shard_shift_ = 64 - std::countr_zero(n);
    shards_ = std::make_unique<Shard[]>(n);
    for (size_t i = 0; i < n; ++i) shards_[i].set_arena(&arena_);
    shard_count_ = n;
    for (int w = 0; w < kRateWindowCount; ++w) {
      if (RateWindowWidth(static_cast<RateWindow>(w)).count() != kRunWindowTicks * kRunTickNs[w]) {
        std::abort();  // run_log.h's constants must match the windows
      }
    }
    for (const auto& [name, limits] : policy.tiers())
      tier_caps_.push_back(RunCaps::Of(limits.requests));
  }

  Result<RateDecision> acquire(std::string_view user, std::string_view tier, int64_t cost) override {
    return decide(user, tier, cost, Mode::kAcquire);
  }
  Result<RateDecision> check_limit(std::string_view user, std::string_view tier,
                                   int64_t cost) override {
    return decide(user, tier, cost, Mode::kCheck);
  }
  Status record_request(std::string_view user, int64_t cost, std::string_view tier) override {
    Result<RateDecision> d = decide(user, tier, cost, Mode::kRecord);
    return d.ok() ? Status::Ok() : d.status();
  }

  Status reset(std::string_view user) override {
    const uint64_t key = KeyOf(user);
    const RunClock c = RunClock::At(now());
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mu);
    if (Slot* s = shard.find(key)) shard.clear(*s, c.now_s);
    return Status::Ok();
  }

  size_t users() const override {
    size_t n = 0;
    for (size_t i = 0; i < shard_count_; ++i) {
      std::lock_guard lock(shards_[i].mu);
      n += shards_[i].size();
    }
    return n;
  }

  double bytes_per_user() const override {
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < shard_count_; ++i) {
      std::lock_guard lock(shards_[i].mu);
      n += shards_[i].size();
      bytes += shards_[i].table_bytes();
    }
    bytes += arena_.bytes_in_use();
    return n == 0 ? static_cast<double>(sizeof(Slot)) : static_cast<double>(bytes) / n;
  }

 private:
  enum class Mode {
    kAcquire,  // check every window, record if all admit
    kCheck,    // check only
    kRecord,   // record without checking
  };

  static uint64_t KeyOf(std::string_view user) {
    const uint64_t h = Hash64(user);
    return h == 0 ? 1 : h;
  }
  int64_t now() const { return clock_.monotonic().count() - epoch_; }
  Shard& shard_of(uint64_t key) const {
    return shards_[shard_shift_ >= 64 ? 0 : key >> shard_shift_];
  }

  Result<RateDecision> decide(std::string_view user, std::string_view tier, int64_t cost,
                              Mode mode) {
    // First the slot's address, to start its likely cache miss; it overlaps
    // what follows up to the lock (the result's zeroing, the limits, the clock).
    const uint64_t key = KeyOf(user);
    Shard& shard = shard_of(key);
    shard.prefetch(key);
    // One object for both returns: built in the caller's (NRVO).
    Result<RateDecision> out = cost < 0 ? Result<RateDecision>(InvalidArgument("cost must be >= 0"))
                                        : Result<RateDecision>(std::in_place);
    if (!out.ok()) return out;
    const RequestLimits limits = policy_.resolve_requests(user, tier);
    const RunCaps caps = limits.custom || limits.tier_index < 0
                             ? RunCaps::Of(limits.requests)
                             : tier_caps_[static_cast<size_t>(limits.tier_index)];
    const RunClock c = RunClock::At(now());
    RateDecision& d = *out;
    if (limits.tier != nullptr) d.tier = *limits.tier;  // still before the slot is read
    {
      std::lock_guard lock(shard.mu);
      Slot* s = mode == Mode::kCheck ? shard.find(key) : shard.find_or_add(key, c);
      if (s == nullptr) {  // never seen: an empty log
        uint8_t header[kRunHeaderBytes];
        RunLogView::InitHeader(header, c.now_s);
        const RunLogView log(header, nullptr, 0);
        const int64_t used[kRateWindowCount] = {};
        FillRateDecision(log, c, limits.requests, used, cost, Admits(used, limits.requests, cost),
                         /*acquire=*/false, &d);
      } else {
        RunLogView log = shard.view(*s);
        int fast = RunLogView::kAdmitGeneral;
        if (mode == Mode::kAcquire) {
          fast = log.admit(c, limits.requests, caps, cost, &d);
          if (fast > 0) {
            log = shard.make_room(*s, fast);
            fast = log.admit(c, limits.requests, caps, cost, &d);
          }
        }
        if (fast == RunLogView::kAdmitGeneral) {
          decide_general(shard, *s, log, c, limits, caps, cost, mode, &d);
        }
        shard.settle(*s);
      }
    }
    return out;
  }

  // decide_general: decide's steps for what RunLogView::admit leaves: expire,
  // check, record, fill. REQUIRES: shard.mu held; `log` is shard.view(s).
  static void decide_general(Shard& shard, Slot& s, RunLogView log, const RunClock& c,
                             const RequestLimits& limits, const RunCaps& caps, int64_t cost,
                             Mode mode, RateDecision* d) {
    int64_t used[kRateWindowCount];
    log.expire(c, &used);
    const bool allowed = mode == Mode::kRecord || Admits(used, limits.requests, cost);
    if (mode != Mode::kCheck && allowed && cost > 0) {
      bool saturated = false;
      if (const int need = log.record(c, cost, caps, &saturated); need > 0) {
        log = shard.make_room(s, need);
        (void)log.record(c, cost, caps, &saturated);
      }
      if (saturated) {
        log.counts(used);
      } else {
        for (int64_t& u : used) u += cost;
      }
    }
    if (mode != Mode::kRecord) {
      FillRateDecision(log, c, limits.requests, used, cost, allowed, mode == Mode::kAcquire, d);
    }
  }

  const RateLimitPolicy& policy_;
  std::vector<RunCaps> tier_caps_;  // RunCaps of each tier's limits, in policy_.tiers() order
  const Clock& clock_;
  const int64_t epoch_;  // monotonic ns at construction: times are relative to it
  int shard_shift_ = 64;
  size_t shard_count_ = 0;
  HugePageArena arena_;              // the shards' spills (outlives them)
  std::unique_ptr<Shard[]> shards_;  // constant; each shard locks itself
};

}  // namespace

std::unique_ptr<RateLimiter> NewMemoryRateLimiter(const RateLimitPolicy& policy,
                                                  const Clock& clock,
                                                  MemoryRateLimiterOptions options) {
  return std::make_unique<MemoryRateLimiter>(policy, clock, options);
}

}  // namespace agentgate
