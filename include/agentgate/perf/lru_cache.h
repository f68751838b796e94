// LruCache: a sharded, thread-safe, in-memory LRU cache with optional TTLs.
//
//   ManualClock clock;
//   LruCache<std::string, int> cache({.max_size = 1000, .default_ttl = 5s}, clock);
//   cache.set("a", 1);                     // expires 5 s from now
//   cache.set("b", 2, Nanos(0));           // never expires
//   cache.set("c", 3, 1s, /*charge=*/10);  // counts 10 towards max_size
//   std::optional<int> v = cache.get("a"); // 1, and "a" becomes most recent
//
// Capacity. Every entry has a charge (1 by default); an insert that takes a
// shard's total charge over its capacity evicts that shard's entries, expired
// ones first, then the least recently used live ones, until it fits again
// (LevelDB's "charge"). With the default charge of 1, max_size is a number
// of entries.
//
// Sharding. Keys are spread over `shards` independent shards by hash, each
// with its own mutex and capacity ceil(max_size / shards). What sharding
// changes: recency is per shard, not global; a shard can evict while another
// still has room; the cache can hold up to shards - 1 more charge than
// max_size (rounding up). With `shards = 1` and one thread the cache is an
// exact LRU: on any trace its hits, misses and evictions equal a textbook
// LRU of max_size entries.
//
// Reads take no lock. get() finds the entry through the shard's hash index
// with acquire loads (entries are immutable once published: set() publishes
// a new node in place of the old one), pins the reclamation epoch
// (perf/epoch.h) so that no node it may still see is freed, counts the hit
// in a counter of its own thread's, and stamps the entry with a recency
// tick: the thread's Lamport clock (one more than both its last tick and
// the entry's). Writers (set, erase, eviction) take the shard's mutex.
// Eviction takes the entry with the smallest tick from a per-shard min-heap
// whose keys are refreshed lazily (an entry touched since it was placed is
// re-placed with its new tick when it reaches the top), so on one thread
// the order is exactly least recently used. When a thread sees that other
// threads use the same cache, its recency is sampled (Caffeine drops read
// samples under load the same way): it re-stamps one get in 8, and no entry
// touched in its last 1024 ticks, so that most gets write no shared cache
// line. Eviction under concurrent gets is therefore approximately LRU (the
// benchmark's trace as get-or-set on 2 threads: hit rate 60.4-62.5 % over
// six runs, against 62.7 % exact on one thread).
//
// Expiry. An entry set with a ttl > 0 is never returned after ttl has passed
// (by clock.coarse_monotonic(), which may lag a few milliseconds behind real
// time; a ManualClock is exact). Expired entries are reclaimed without a
// scan: when looked up (get/contains/set/erase of that key), and through a
// per-shard min-heap ordered by expiry time that is popped whenever a shard
// must make room, and by stats(). Entries without ttl are not in that heap,
// so a cache without TTLs pays nothing for it. get() reads the clock only
// when the entry found has a ttl.
//
// Thread-safety: every method may be called concurrently from any thread.
// get() returns a copy of the stored value, made without the lock, so V
// should be cheap to copy (use std::shared_ptr<const T> for large values).
// Ownership: the cache owns its keys and values; `clock` must outlive it.
// Replaced and evicted values are destroyed a little later (when no reader
// can still see them), on the thread of a later writer of the same shard.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <utility>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/perf/epoch.h"

namespace agentgate {

struct LruCacheOptions {
  // Capacity of the whole cache in charge units: a number of entries when
  // every entry has the default charge of 1. Split evenly over the shards
  // (rounded up). 0 stores nothing. Default 1000.
  size_t max_size = 1000;
  // TTL of entries set without an explicit ttl. Nanos(0) means they never
  // expire. Default 0.
  Nanos default_ttl = Nanos(0);
  // Number of independent shards (each with its own lock and LRU order). 1
  // gives an exact global LRU; more lets writers work in parallel. 0 is
  // taken as 1. Default 16.
  size_t shards = 16;
};

// LruCacheStats: a snapshot, summed over shards.
struct LruCacheStats {
  size_t size = 0;           // entries stored (live; expired ones are reclaimed first)
  size_t max_size = 0;       // options.max_size
  double utilization = 0;    // total charge / max_size (0 when max_size is 0)
  uint64_t hits = 0;         // get() calls that returned a value
  uint64_t misses = 0;       // get() calls that returned nothing (absent or expired)
  uint64_t evictions = 0;    // live entries dropped to make room
  uint64_t expirations = 0;  // expired entries reclaimed
};

template <typename K, typename V, typename Hash = std::hash<K>>
class LruCache {
 public:
  LruCache(const LruCacheOptions& options, const Clock& clock)
      : options_(Normalize(options)),
        clock_(clock),
        num_shards_(options_.shards),
        shards_(new Shard[num_shards_]),
        counters_(new ThreadCounters[perf_detail::kEpochSlots]) {
    const size_t per_shard = (options_.max_size + num_shards_ - 1) / num_shards_;
    for (size_t i = 0; i < num_shards_; ++i) shards_[i].capacity_ = per_shard;
  }
  ~LruCache() = default;  // shards free their nodes (no reader may be left)

  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // set: stores `value` under `key`, replacing any previous value, and makes
  // it the most recently used. `ttl`: nullopt uses options.default_ttl,
  // Nanos(0) means no expiry. `charge`: what the entry counts towards
  // max_size. Returns false (and stores nothing, dropping any previous value)
  // when `charge` exceeds the capacity of one shard.
  bool set(const K& key, V value, std::optional<Nanos> ttl = std::nullopt, size_t charge = 1) {
    const uint64_t h = Mix(hasher_(key));
    const Nanos t = ttl.value_or(options_.default_ttl);
    Shard& s = shard(h);
    // Read the clock outside the lock, and only when the entry has a TTL.
    const int64_t expires = t.count() > 0 ? (clock_.coarse_monotonic() + t).count() : kNever;
    ShardLock lock(s.mu_);
    const bool stored = s.insert(key, h, std::move(value), expires, charge, clock_, NextTick());
    s.maybe_compact();
    return stored;
  }

  // get: the value of `key` if stored and not expired; makes it the most
  // recently used. Counts a hit or a miss.
  std::optional<V> get(const K& key) {
    const uint64_t h = Mix(hasher_(key));
    Shard& s = shard(h);
    {
      perf_detail::EpochPin pin;
      // Lock-free path. Gives way to the locked one for an expired entry
      // (to reclaim it), a miss seen while the index was being resized, and
      // a thread without an epoch slot.
      if (pin.pinned()) {
        const uint64_t seq = s.resize_seq_.load(std::memory_order_acquire);
        if ((seq & 1) == 0) {
          const Node* n = s.find_published(key, h);
          ThreadCounters& mine = counters_[static_cast<size_t>(pin.slot())];
          if (n == nullptr) {
            if (s.resize_seq_.load(std::memory_order_acquire) == seq) {
              Bump(mine.misses);
              return std::nullopt;
            }
          } else if (n->expires_at_ == kNever ||
                     n->expires_at_ > clock_.coarse_monotonic().count()) {
            Touch(n);
            std::optional<V> out(std::in_place, n->value_);
            Bump(mine.hits);
            return out;
          }
        }
      }
    }
    return get_locked(key, h, s);
  }

  // contains: true if `key` holds a live value (even one that is itself an
  // empty optional). Does not change recency or hit/miss counts.
  bool contains(const K& key) {
    const uint64_t h = Mix(hasher_(key));
    Shard& s = shard(h);
    ShardLock lock(s.mu_);
    Node* n = s.find(key, h);
    if (n != nullptr && n->expires_at_ != kNever && s.expired(n, clock_)) {
      s.drop(n);
      ++s.expirations_;
      s.maybe_compact();
      return false;
    }
    return n != nullptr;
  }

  // erase: removes `key`; true if a live value was removed.
  bool erase(const K& key) {
    const uint64_t h = Mix(hasher_(key));
    Shard& s = shard(h);
    ShardLock lock(s.mu_);
    Node* n = s.find(key, h);
    if (n == nullptr) return false;
    const bool live = n->expires_at_ == kNever || !s.expired(n, clock_);
    if (!live) ++s.expirations_;
    s.drop(n);
    s.maybe_compact();
    return live;
  }

  // clear: removes every entry. Counters are kept.
  void clear() {
    for (size_t i = 0; i < num_shards_; ++i) {
      ShardLock lock(shards_[i].mu_);
      shards_[i].drop_all();
    }
  }

  // stats: sizes and counters summed over shards; reclaims expired entries
  // first (a heap pop each, no scan). Shards are read one after the other,
  // so under concurrent writes the sums are not one instant's.
  LruCacheStats stats() {
    LruCacheStats st;
    st.max_size = max_size_.load(std::memory_order_relaxed);
    size_t charge = 0;
    for (size_t i = 0; i < num_shards_; ++i) {
      Shard& s = shards_[i];
      ShardLock lock(s.mu_);
      s.reclaim_expired(clock_);
      s.maybe_compact();
      st.size += s.count_;
      charge += s.usage_;
      st.hits += s.hits_;
      st.misses += s.misses_;
      st.evictions += s.evictions_;
      st.expirations += s.expirations_;
    }
    for (size_t i = 0; i < perf_detail::kEpochSlots; ++i) {
      st.hits += counters_[i].hits.load(std::memory_order_relaxed);
      st.misses += counters_[i].misses.load(std::memory_order_relaxed);
    }
    st.utilization =
        st.max_size == 0 ? 0.0 : static_cast<double>(charge) / static_cast<double>(st.max_size);
    return st;
  }

  const LruCacheOptions& options() const { return options_; }

  // set_max_size: changes the capacity at runtime (options() keeps the
  // original); a smaller one evicts each shard's least recently used at once.
  void set_max_size(size_t max_size) {
    max_size_.store(max_size, std::memory_order_relaxed);
    const size_t per_shard = (max_size + num_shards_ - 1) / num_shards_;
    for (size_t i = 0; i < num_shards_; ++i) {
      ShardLock lock(shards_[i].mu_);
      shards_[i].capacity_ = per_shard;
      shards_[i].make_room(0, clock_);
      shards_[i].maybe_compact();
    }
  }

 private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  static constexpr size_t kNotInHeap = std::numeric_limits<size_t>::max();
  static constexpr size_t kReclaimBatch = 64;
  static constexpr size_t kMaxSpare = 256;

  // ShardMutex: a 4-byte lock (Drepper's futex mutex on std::atomic
  // wait/notify). Writers hold it for well under a microsecond, so a waiter
  // first spins reading it (no writes to the line while the holder works),
  // and sleeps only after that.
  class ShardMutex {
   public:
    void lock() {
      for (int i = 0; i < kSpins; ++i) {
        uint32_t free = 0;
        if (state_.load(std::memory_order_relaxed) == 0 &&
            state_.compare_exchange_strong(free, 1, std::memory_order_acquire)) {
          return;
        }
        CpuRelax();
      }
      // 2: locked, and someone may be asleep on it.
      while (state_.exchange(2, std::memory_order_acquire) != 0) state_.wait(2);
    }
    void unlock() {
      if (state_.exchange(0, std::memory_order_release) == 2) state_.notify_one();
    }

   private:
    static constexpr int kSpins = 1000;
    static void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    std::atomic<uint32_t> state_{0};  // 0 free, 1 locked, 2 locked with sleepers
  };
  using ShardLock = std::lock_guard<ShardMutex>;

  // Node: one entry. Key, value and expiry never change once the node is
  // published in the hash index (readers copy them without the lock); set()
  // replaces the node instead. One allocation per entry.
  struct Node {
    Node(const K& k, V v, uint64_t h, int64_t e, size_t c, uint64_t tick)
        : hash_(h), key_(k), expires_at_(e), tick_(tick), value_(std::move(v)), charge_(c) {}
    // Fields in the order a get() reads them.
    const uint64_t hash_;
    std::atomic<Node*> next_hash_{nullptr};  // hash chain (written under the lock)
    const K key_;
    const int64_t expires_at_;    // coarse_monotonic ns; kNever without TTL
    mutable std::atomic<uint64_t> tick_;  // last access, by the accessing thread's tick
    // Guarded by the shard's mutex (dead_ next to tick_: eviction reads both):
    bool dead_ = false;  // unlinked; waits in the recency heap to be retired
    Node* successor_ = nullptr;  // the node that replaced this one (set())
    const V value_;
    size_t charge_;
    size_t heap_index_ = kNotInHeap;  // in the expiry heap
  };

  // Table: a shard's hash index, a power of 2 of chains. Replaced (never
  // resized in place) when it grows; the old one is retired like a node.
  struct Table {
    explicit Table(size_t n) : mask(n - 1), buckets(new std::atomic<Node*>[n]()) {}
    const size_t mask;
    const std::unique_ptr<std::atomic<Node*>[]> buckets;
  };

  // RecencyEntry: a node and the tick it was placed in the heap with (a
  // lower bound of its current tick).
  struct RecencyEntry {
    uint64_t tick;
    Node* node;
  };

  template <typename T>
  struct Retired {
    T* ptr;
    uint64_t stamp;
  };

  // ThreadCounters: get() hits and misses of the thread holding one epoch
  // slot; written only by that thread, summed by stats().
  struct alignas(perf_detail::kNoFalseSharing) ThreadCounters {
    std::atomic<uint64_t> hits{0};
    std::atomic<uint64_t> misses{0};
  };

  // Shard: one lock and everything it guards, plus the published index.
  struct alignas(perf_detail::kNoFalseSharing) Shard {
    Shard() = default;
    ~Shard() {
      for (const RecencyEntry& e : recency_) {
        for (Node* n = e.node; n != nullptr;) {
          Node* next = n->successor_;
          free_node(n);
          n = next;
        }
      }
      for (Node* n : pending_) free_node(n);
      for (const auto& r : limbo_) free_node(r.ptr);
      for (const auto& r : old_tables_) delete r.ptr;
      delete table_.load(std::memory_order_relaxed);
      std::allocator<Node> alloc;
      for (Node* n : spare_) alloc.deallocate(n, 1);
    }
    Shard(const Shard&) = delete;
    Shard& operator=(const Shard&) = delete;

    // Read by every get() without the lock; written (under it) only when
    // the index grows. Alone on its pair of cache lines.
    std::atomic<Table*> table_{nullptr};
    std::atomic<uint64_t> resize_seq_{0};  // odd while the index is rewired

    // Writer state, in the order a set() touches it: one cache line for
    // the lock and sizes, one for the recency heap and node memory (a set
    // on a shard last written by another core pulls as few lines as can be).
    alignas(perf_detail::kNoFalseSharing) ShardMutex mu_;
    size_t count_ = 0;                      // GUARDED_BY(mu_)
    size_t usage_ = 0;                      // GUARDED_BY(mu_) sum of charges
    size_t capacity_ = 0;                   // GUARDED_BY(mu_) (set_max_size)
    std::vector<RecencyEntry> recency_;     // GUARDED_BY(mu_) min-heap on tick, every node once
    size_t dead_in_recency_ = 0;            // GUARDED_BY(mu_)
    std::vector<Node*> spare_;              // GUARDED_BY(mu_) node memory for reuse
    uint64_t evictions_ = 0;                // GUARDED_BY(mu_)
    std::vector<Node*> pending_;            // GUARDED_BY(mu_) unlinked, not yet stamped
    std::vector<Node*> heap_;               // GUARDED_BY(mu_) min-heap on expires_at_
    uint64_t expirations_ = 0;              // GUARDED_BY(mu_)
    uint64_t hits_ = 0;                     // GUARDED_BY(mu_) of the locked get path
    uint64_t misses_ = 0;                   // GUARDED_BY(mu_) of the locked get path
    std::vector<Retired<Node>> limbo_;      // GUARDED_BY(mu_) unlinked, waiting for readers
    std::vector<Retired<Table>> old_tables_;  // GUARDED_BY(mu_)

    // find_published: lock-free lookup; the caller holds an epoch pin.
    const Node* find_published(const K& key, uint64_t h) const {
      const Table* t = table_.load(std::memory_order_acquire);
      if (t == nullptr) return nullptr;
      for (const Node* n = t->buckets[h & t->mask].load(std::memory_order_acquire); n != nullptr;
           n = n->next_hash_.load(std::memory_order_acquire)) {
        if (n->hash_ == h && n->key_ == key) return n;
      }
      return nullptr;
    }

    // All below: REQUIRES mu_ held.

    Node* find(const K& key, uint64_t h) const {
      const Table* t = table_.load(std::memory_order_relaxed);
      if (t == nullptr) return nullptr;
      for (Node* n = t->buckets[h & t->mask].load(std::memory_order_relaxed); n != nullptr;
           n = n->next_hash_.load(std::memory_order_relaxed)) {
        if (n->hash_ == h && n->key_ == key) return n;
      }
      return nullptr;
    }

    bool expired(const Node* n, const Clock& clock) const {
      return n->expires_at_ <= clock.coarse_monotonic().count();
    }

    bool insert(const K& key, uint64_t h, V value, int64_t expires, size_t charge,
                const Clock& clock, uint64_t tick) {
      Node* old = find(key, h);
      if (charge > capacity_) {
        if (old != nullptr) drop(old);
        return false;
      }
      if (old == nullptr && (table_.load(std::memory_order_relaxed) == nullptr ||
                             count_ + 1 > table_.load(std::memory_order_relaxed)->mask + 1)) {
        grow();
      }
      Node* n = new_node(key, std::move(value), h, expires, charge, tick);
      if (old != nullptr) {
        // The new node takes the old one's place in its chain, so that a
        // concurrent reader finds one or the other, and its place in the
        // recency heap (the old entry's tick is a lower bound of n's).
        n->next_hash_.store(old->next_hash_.load(std::memory_order_relaxed),
                            std::memory_order_relaxed);
        *link_to(old) = n;  // release (atomic assignment is seq_cst)
        old->successor_ = n;
        forget(old);
        add(n);
        make_room(0, clock);
        return true;
      }
      std::atomic<Node*>& bucket = bucket_of(h);
      n->next_hash_.store(bucket.load(std::memory_order_relaxed), std::memory_order_relaxed);
      bucket.store(n, std::memory_order_release);
      // n is in no heap yet and its charge not counted: make_room cannot
      // take it.
      make_room(charge, clock);
      recency_push({tick, n});
      add(n);
      return true;
    }

    // add: counts a linked node and puts it in the expiry heap.
    void add(Node* n) {
      if (n->expires_at_ != kNever) heap_push(n);
      ++count_;
      usage_ += n->charge_;
    }

    // resolve: follows the top entry's replacements to the node it now
    // stands for, retiring the replaced ones.
    Node* resolve(RecencyEntry& e) {
      Node* n = e.node;
      while (n->successor_ != nullptr) {
        Node* next = n->successor_;
        retire(n);
        n = next;
      }
      e.node = n;
      return n;
    }

    // make_room: drops entries until `extra` more charge fits: expired ones
    // first, then the least recently used.
    void make_room(size_t extra, const Clock& clock) {
      if (usage_ + extra <= capacity_) return;
      if (!heap_.empty()) reclaim_expired(clock);
      size_t refreshed = 0;
      while (usage_ + extra > capacity_ && !recency_.empty()) {
        // The next candidates are the top's children: start loading them.
        for (size_t c = 1; c <= kArity && c < recency_.size(); ++c) {
          __builtin_prefetch(&recency_[c].node->tick_);
        }
        RecencyEntry& top = recency_.front();
        Node* n = resolve(top);
        if (!n->dead_) {
          const uint64_t tick = n->tick_.load(std::memory_order_relaxed);
          // Touched since placed: re-place it with its tick and look again
          // (bounded, in case gets on other threads keep touching the top).
          if (tick != top.tick && refreshed++ < recency_.size()) {
            top.tick = tick;
            recency_sift_down(0);
            continue;
          }
          drop(n);
          ++evictions_;
        }
        recency_pop();
        --dead_in_recency_;
        retire(n);
      }
    }

    // drop: unlinks `n` from the index and the expiry heap and uncounts it.
    // It stays in the recency heap (dead) until popped or compacted.
    void drop(Node* n) {
      *link_to(n) = n->next_hash_.load(std::memory_order_relaxed);
      forget(n);
    }

    // forget: what drop does besides unlinking from the index. A replaced
    // node (with a successor) leaves its recency entry to the successor.
    void forget(Node* n) {
      if (n->heap_index_ != kNotInHeap) heap_erase(n);
      --count_;
      usage_ -= n->charge_;
      n->dead_ = true;
      if (n->successor_ == nullptr) ++dead_in_recency_;
    }

    void drop_all() {
      Table* t = table_.load(std::memory_order_relaxed);
      if (t != nullptr) {
        for (size_t i = 0; i <= t->mask; ++i) t->buckets[i].store(nullptr, std::memory_order_release);
      }
      for (const RecencyEntry& e : recency_) {
        for (Node* n = e.node; n != nullptr; n = n->successor_) pending_.push_back(n);
      }
      recency_.clear();
      heap_.clear();
      dead_in_recency_ = 0;
      count_ = 0;
      usage_ = 0;
      reclaim();
    }

    // reclaim_expired: drops every expired entry, cheapest first; O(k log n)
    // for k expired entries.
    void reclaim_expired(const Clock& clock) {
      if (heap_.empty()) return;
      const int64_t now = clock.coarse_monotonic().count();
      while (!heap_.empty() && heap_.front()->expires_at_ <= now) {
        drop(heap_.front());
        ++expirations_;
      }
    }

    // maybe_compact: retires the dead entries of the recency heap once they
    // are as many as the live ones (amortized O(1) per drop).
    void maybe_compact() {
      if (dead_in_recency_ <= count_ + 16) return;
      size_t kept = 0;
      for (RecencyEntry& e : recency_) {
        Node* n = resolve(e);
        if (n->dead_) {
          pending_.push_back(n);
        } else {
          recency_[kept++] = e;
        }
      }
      recency_.resize(kept);
      for (size_t i = kept / kArity + 1; i-- > 0;) {
        if (i < kept) recency_sift_down(i);
      }
      dead_in_recency_ = 0;
      if (pending_.size() >= kReclaimBatch) reclaim();
    }

    // retire: frees `n` once no reader can still see it. Nodes are stamped
    // by the batch (one fence per kReclaimBatch nodes): a later stamp than
    // the unlink's is only more careful.
    void retire(Node* n) {
      pending_.push_back(n);
      if (pending_.size() >= kReclaimBatch) reclaim();
    }

    void reclaim() {
      const uint64_t stamp = perf_detail::RetireStamp();
      for (Node* n : pending_) limbo_.push_back({n, stamp});
      pending_.clear();
      const uint64_t now = perf_detail::TryAdvanceEpoch();
      size_t k = 0;
      while (k < limbo_.size() && perf_detail::SafeToFree(limbo_[k].stamp, now)) {
        free_node(limbo_[k++].ptr);
      }
      limbo_.erase(limbo_.begin(), limbo_.begin() + static_cast<std::ptrdiff_t>(k));
      k = 0;
      while (k < old_tables_.size() && perf_detail::SafeToFree(old_tables_[k].stamp, now)) {
        delete old_tables_[k++].ptr;
      }
      old_tables_.erase(old_tables_.begin(), old_tables_.begin() + static_cast<std::ptrdiff_t>(k));
    }

    // Node memory is kept per shard for reuse (up to kMaxSpare), so that a
    // writer's churn does not go through malloc, whose arenas other threads
    // would share.
    Node* new_node(const K& key, V value, uint64_t h, int64_t expires, size_t charge,
                   uint64_t tick) {
      std::allocator<Node> alloc;
      Node* mem;
      if (spare_.empty()) {
        mem = alloc.allocate(1);
      } else {
        mem = spare_.back();
        spare_.pop_back();
      }
      try {
        return new (mem) Node(key, std::move(value), h, expires, charge, tick);
      } catch (...) {
        spare_.push_back(mem);
        throw;
      }
    }
    void free_node(Node* n) {
      n->~Node();
      if (spare_.size() < kMaxSpare) {
        spare_.push_back(n);
      } else {
        std::allocator<Node>().deallocate(n, 1);
      }
    }

    std::atomic<Node*>& bucket_of(uint64_t h) {
      Table* t = table_.load(std::memory_order_relaxed);
      return t->buckets[h & t->mask];
    }

    // link_to: the pointer that links `n` into its chain.
    std::atomic<Node*>* link_to(Node* n) {
      std::atomic<Node*>* p = &bucket_of(n->hash_);
      while (p->load(std::memory_order_relaxed) != n) {
        p = &p->load(std::memory_order_relaxed)->next_hash_;
      }
      return p;
    }

    // grow: doubles the index. Nodes are relinked in place, so readers that
    // miss while resize_seq_ is odd (or has changed) retry under the lock.
    void grow() {
      Table* old = table_.load(std::memory_order_relaxed);
      auto* t = new Table(old == nullptr ? 16 : (old->mask + 1) * 2);
      const uint64_t seq = resize_seq_.load(std::memory_order_relaxed);
      resize_seq_.store(seq + 1, std::memory_order_relaxed);
      if (old != nullptr) {
        for (size_t i = 0; i <= old->mask; ++i) {
          Node* n = old->buckets[i].load(std::memory_order_relaxed);
          while (n != nullptr) {
            Node* next = n->next_hash_.load(std::memory_order_relaxed);
            std::atomic<Node*>& b = t->buckets[n->hash_ & t->mask];
            n->next_hash_.store(b.load(std::memory_order_relaxed), std::memory_order_release);
            b.store(n, std::memory_order_relaxed);
            n = next;
          }
        }
      }
      table_.store(t, std::memory_order_release);
      resize_seq_.store(seq + 2, std::memory_order_release);
      if (old != nullptr) old_tables_.push_back({old, perf_detail::RetireStamp()});
    }

    // Recency heap: a 4-ary min-heap on tick (shallower than a binary one;
    // the four children of a slot share a cache line).
    static constexpr size_t kArity = 4;
    void recency_push(RecencyEntry e) {
      recency_.push_back(e);
      size_t i = recency_.size() - 1;
      while (i > 0) {
        const size_t parent = (i - 1) / kArity;
        if (recency_[parent].tick <= e.tick) break;
        recency_[i] = recency_[parent];
        i = parent;
      }
      recency_[i] = e;
    }
    void recency_pop() {
      recency_[0] = recency_.back();
      recency_.pop_back();
      if (!recency_.empty()) recency_sift_down(0);
    }
    // recency_sift_down: restores the heap below `i` after its tick grew.
    void recency_sift_down(size_t i) {
      const RecencyEntry e = recency_[i];
      const size_t size = recency_.size();
      for (;;) {
        const size_t first = kArity * i + 1;
        if (first >= size) break;
        const size_t last = std::min(first + kArity, size);
        size_t child = first;
        for (size_t c = first + 1; c < last; ++c) {
          if (recency_[c].tick < recency_[child].tick) child = c;
        }
        if (e.tick <= recency_[child].tick) break;
        recency_[i] = recency_[child];
        i = child;
      }
      recency_[i] = e;
    }

    // Expiry min-heap on expires_at_; each node knows its index for O(log n) erase.
    void heap_set(size_t i, Node* n) {
      heap_[i] = n;
      n->heap_index_ = i;
    }
    void heap_push(Node* n) {
      heap_.push_back(n);
      heap_set(heap_.size() - 1, n);
      sift_up(heap_.size() - 1);
    }
    void heap_erase(Node* n) {
      const size_t i = n->heap_index_;
      Node* last = heap_.back();
      heap_.pop_back();
      n->heap_index_ = kNotInHeap;
      if (i == heap_.size()) return;  // n was the last
      heap_set(i, last);
      sift_up(i);
      sift_down(last->heap_index_);
    }
    void sift_up(size_t i) {
      Node* n = heap_[i];
      while (i > 0) {
        const size_t parent = (i - 1) / 2;
        if (heap_[parent]->expires_at_ <= n->expires_at_) break;
        heap_set(i, heap_[parent]);
        i = parent;
      }
      heap_set(i, n);
    }
    void sift_down(size_t i) {
      Node* n = heap_[i];
      const size_t size = heap_.size();
      for (;;) {
        size_t child = 2 * i + 1;
        if (child >= size) break;
        if (child + 1 < size && heap_[child + 1]->expires_at_ < heap_[child]->expires_at_) {
          ++child;
        }
        if (n->expires_at_ <= heap_[child]->expires_at_) break;
        heap_set(i, heap_[child]);
        i = child;
      }
      heap_set(i, n);
    }
  };

  // get_locked: get() under the shard's lock.
  std::optional<V> get_locked(const K& key, uint64_t h, Shard& s) {
    ShardLock lock(s.mu_);
    Node* n = s.find(key, h);
    if (n != nullptr && n->expires_at_ != kNever && s.expired(n, clock_)) {
      s.drop(n);
      ++s.expirations_;
      s.maybe_compact();
      n = nullptr;
    }
    if (n == nullptr) {
      ++s.misses_;
      return std::nullopt;
    }
    ++s.hits_;
    Touch(n);
    return n->value_;
  }

  // Recency ticks: a node's tick_ is (counter << kSlotBits) | slot, where
  // counter is the accessing thread's Lamport clock and slot its epoch slot.
  static constexpr int kSlotBits = 6;
  static_assert(perf_detail::kEpochSlots <= (size_t{1} << kSlotBits));
  static constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1;
  // While a thread sees, on this cache, nodes last touched by another
  // thread (for kSharedSpan of its ticks after the last such sighting), its
  // recency is sampled, as Caffeine drops read samples under load: it
  // re-stamps a node on one get in kSampleEvery, and never one touched
  // fewer than kRecentWindow ticks ago. Node cache lines then stay shared
  // between cores instead of moving on every read. A thread alone on a
  // cache never skips, so its order is exact.
  static constexpr uint64_t kRecentWindow = 1024;
  static constexpr uint64_t kSampleEvery = 8;  // a power of 2
  static constexpr uint64_t kSharedSpan = 1 << 16;

  static uint64_t SlotBits(perf_detail::EpochThread& t) {
    if (t.slot < 0) perf_detail::AcquireEpochSlot(t);
    return t.slot < 0 ? kSlotMask : static_cast<uint64_t>(t.slot);
  }

  // NextTick: the calling thread's next recency tick.
  static uint64_t NextTick() {
    perf_detail::EpochThread& t = perf_detail::t_epoch_thread;
    return (++t.tick << kSlotBits) | SlotBits(t);
  }

  // Touch: makes `n` the calling thread's most recent access (Lamport: past
  // both its own last tick and the node's).
  void Touch(const Node* n) const {
    perf_detail::EpochThread& t = perf_detail::t_epoch_thread;
    const uint64_t seen = n->tick_.load(std::memory_order_relaxed);
    const uint64_t seen_count = seen >> kSlotBits;
    if (seen_count > t.tick) t.tick = seen_count;
    ++t.tick;
    const uint64_t me = SlotBits(t);
    if ((seen & kSlotMask) != me) {
      t.shared_cache = id_;
      t.shared_until = t.tick + kSharedSpan;
    }
    if (t.shared_cache == id_ && t.tick < t.shared_until &&
        ((t.tick & (kSampleEvery - 1)) != 0 || seen_count + kRecentWindow > t.tick)) {
      return;  // shared: a sample of the gets is enough
    }
    n->tick_.store((t.tick << kSlotBits) | me, std::memory_order_relaxed);
  }

  // Bump: increments a counter that only this thread writes.
  static void Bump(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  static LruCacheOptions Normalize(LruCacheOptions o) {
    if (o.shards == 0) o.shards = 1;
    return o;
  }

  // Mix: spreads the user hash (std::hash of an integer is the identity) so
  // that both the shard (high bits) and the bucket (low bits) are uniform.
  static uint64_t Mix(size_t h) {
    uint64_t x = static_cast<uint64_t>(h);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
  }

  Shard& shard(uint64_t h) const {
    // Maps the high 32 bits onto [0, num_shards_) without a division.
    return shards_[((h >> 32) * num_shards_) >> 32];
  }

  const LruCacheOptions options_;
  std::atomic<size_t> max_size_{options_.max_size};  // set_max_size
  const Clock& clock_;
  const size_t num_shards_;
  const std::unique_ptr<Shard[]> shards_;
  const std::unique_ptr<ThreadCounters[]> counters_;  // by epoch slot
  const uint64_t id_ = perf_detail::g_next_cache_id.fetch_add(1, std::memory_order_relaxed) + 1;
  [[no_unique_address]] Hash hasher_;
};

}  // namespace agentgate
