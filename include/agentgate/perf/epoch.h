// Epoch-based reclamation (EBR) for LruCache's lock-free reads.
//
// A reader pins the current epoch for the length of one read (EpochPin) and
// may then follow pointers published with release stores. A writer that
// unlinks an object (under its own lock) stamps it with RetireStamp() and
// frees it only once SafeToFree(stamp): every reader that could still have
// seen it has unpinned since. TryAdvanceEpoch() moves the global epoch by one
// when every pinned reader is at the current epoch, so an object stamped s
// is free to go when the epoch reaches s + 2 (the scheme of Fraser's thesis
// and crossbeam-epoch).
//
// Slots: each thread takes one of kEpochSlots on its first pin and gives it
// back when it exits; the slot index is dense among live threads, so callers
// may use it to index per-thread data (LruCache's hit counters). With every
// slot taken, EpochPin::pinned() is false and the caller takes its locked
// path instead.
//
// Thread-safety: every function may be called from any thread. A pin costs
// one full barrier and writes only the calling thread's own cache line.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace agentgate::perf_detail {

inline constexpr size_t kEpochSlots = 64;
inline constexpr uint64_t kEpochIdle = ~uint64_t{0};

// Full barrier between a store and later loads (store-load order). Under
// ThreadSanitizer, which does not model fences, the seq_cst atomics around
// it carry the ordering instead.
inline void FullFence() {
#if defined(__SANITIZE_THREAD__)
  std::atomic_signal_fence(std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

// kNoFalseSharing: the alignment that keeps two threads' data apart. 128,
// not the 64-byte line: x86 cores fetch lines in adjacent pairs (the spatial
// prefetcher), so data one thread writes on every call makes the other's
// line in the same pair bounce too (folly and crossbeam use 128 for this).
inline constexpr size_t kNoFalseSharing = 128;

struct alignas(kNoFalseSharing) EpochSlot {
  std::atomic<uint64_t> epoch{kEpochIdle};  // pinned epoch, or kEpochIdle
  std::atomic<bool> used{false};            // owned by a live thread
};

struct EpochDomain {
  std::atomic<uint64_t> global{0};
  alignas(kNoFalseSharing) std::atomic<size_t> high_water{0};  // slots ever used
  EpochSlot slots[kEpochSlots];
};

inline EpochDomain g_epoch_domain;  // process-wide; constant-initialized

// g_next_cache_id: numbers LruCache instances (for EpochThread::shared_cache).
inline std::atomic<uint64_t> g_next_cache_id{0};

// EpochThread: the calling thread's state (trivially destructible, so that a
// read reaches it without a TLS guard).
struct EpochThread {
  int slot = -1;       // index into g_epoch_domain.slots, -1 before the first pin
  int depth = 0;       // nested pins
  uint64_t tick = 0;   // LruCache's recency clock of this thread
  uint64_t shared_cache = 0;  // LruCache::Touch: the cache last seen shared with another thread
  uint64_t shared_until = 0;  // ... until this tick
};
inline thread_local EpochThread t_epoch_thread;

// SlotRelease: gives the thread's slot back when the thread exits.
struct SlotRelease {
  int slot = -1;
  ~SlotRelease() {
    if (slot < 0) return;
    EpochSlot& s = g_epoch_domain.slots[slot];
    s.epoch.store(kEpochIdle, std::memory_order_release);
    s.used.store(false, std::memory_order_release);
    t_epoch_thread.slot = -1;
  }
};

inline bool AcquireEpochSlot(EpochThread& t) {
  static thread_local SlotRelease release;
  for (size_t i = 0; i < kEpochSlots; ++i) {
    EpochSlot& s = g_epoch_domain.slots[i];
    bool expected = false;
    if (!s.used.load(std::memory_order_relaxed) &&
        s.used.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      size_t hw = g_epoch_domain.high_water.load(std::memory_order_relaxed);
      while (hw < i + 1 && !g_epoch_domain.high_water.compare_exchange_weak(
                               hw, i + 1, std::memory_order_acq_rel)) {
      }
      t.slot = static_cast<int>(i);
      release.slot = t.slot;
      return true;
    }
  }
  return false;
}

// EpochPin: pins the current epoch for its lifetime (nested pins keep the
// outer one). Check pinned() before reading.
class EpochPin {
 public:
  EpochPin() : t_(t_epoch_thread) {
    if (t_.depth > 0) {
      ++t_.depth;
      pinned_ = true;
      return;
    }
    if (t_.slot < 0 && !AcquireEpochSlot(t_)) return;
    EpochSlot& s = g_epoch_domain.slots[t_.slot];
    s.epoch.exchange(g_epoch_domain.global.load(std::memory_order_relaxed),
                     std::memory_order_seq_cst);
#if defined(__x86_64__) || defined(__i386__)
    // A locked exchange is a full barrier on x86; keep the compiler from
    // moving the reads above it.
    std::atomic_signal_fence(std::memory_order_seq_cst);
#else
    FullFence();
#endif
    t_.depth = 1;
    pinned_ = true;
  }
  ~EpochPin() {
    if (pinned_ && --t_.depth == 0) {
      g_epoch_domain.slots[t_.slot].epoch.store(kEpochIdle, std::memory_order_release);
    }
  }
  EpochPin(const EpochPin&) = delete;
  EpochPin& operator=(const EpochPin&) = delete;

  bool pinned() const { return pinned_; }
  // slot: this thread's slot index (valid while pinned).
  int slot() const { return t_.slot; }

 private:
  EpochThread& t_;
  bool pinned_ = false;
};

// RetireStamp: the stamp of objects unlinked before this call.
inline uint64_t RetireStamp() {
  FullFence();
  return g_epoch_domain.global.load(std::memory_order_seq_cst);
}

// TryAdvanceEpoch: moves the epoch on by one if no reader is pinned at an
// older one; returns the epoch now.
inline uint64_t TryAdvanceEpoch() {
  EpochDomain& d = g_epoch_domain;
  uint64_t g = d.global.load(std::memory_order_acquire);
  FullFence();
  const size_t n = d.high_water.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t e = d.slots[i].epoch.load(std::memory_order_seq_cst);
    if (e != kEpochIdle && e != g) return g;
  }
  if (d.global.compare_exchange_strong(g, g + 1, std::memory_order_acq_rel)) return g + 1;
  return g;  // another thread advanced it: g now holds the newer epoch
}

// SafeToFree: true once no reader can still hold an object stamped `stamp`.
inline bool SafeToFree(uint64_t stamp, uint64_t epoch_now) { return epoch_now >= stamp + 2; }

}  // namespace agentgate::perf_detail
