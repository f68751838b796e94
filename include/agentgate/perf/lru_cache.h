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
// Sharding. Keys are spread over `shards` independent LRU lists by hash,
// each with its own mutex and capacity ceil(max_size / shards), so threads
// working on different keys rarely wait on one lock. What sharding changes:
// recency is per shard, not global; a shard can evict while another still
// has room; the cache can hold up to shards - 1 more charge than max_size
// (rounding up). With `shards = 1` the cache is an exact LRU: on any trace
// its hits, misses and evictions equal a textbook LRU of max_size entries.
//
// Expiry. An entry set with a ttl > 0 is never returned after ttl has passed
// (by clock.coarse_monotonic(), which may lag a few milliseconds behind real
// time; a ManualClock is exact). Expired entries are reclaimed without a
// scan: when looked up (get/contains/set/erase of that key), and through a
// per-shard min-heap ordered by expiry time that is popped whenever a shard
// must make room, and by stats(). Entries without ttl are not in the heap, so
// a cache without TTLs pays nothing for it. get() reads the clock only when
// the entry found has a ttl.
//
// Thread-safety: every method may be called concurrently from any thread.
// get() returns a copy of the value taken under the shard's lock, so V should
// be cheap to copy (use std::shared_ptr<const T> for large values).
// Ownership: the cache owns its keys and values; `clock` must outlive it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "agentgate/core/clock.h"

namespace agentgate {

struct LruCacheOptions {
  // Capacity of the whole cache in charge units: a number of entries when
  // every entry has the default charge of 1. Split evenly over the shards
  // (rounded up). 0 stores nothing. Default 1000.
  size_t max_size = 1000;
  // TTL of entries set without an explicit ttl. Nanos(0) means they never
  // expire. Default 0.
  Nanos default_ttl = Nanos(0);
  // Number of independent LRU lists (each with its own lock). 1 gives an
  // exact global LRU; more lets threads work in parallel. 0 is taken as 1.
  // Default 16.
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
        shards_(new Shard[num_shards_]) {
    const size_t per_shard = (options_.max_size + num_shards_ - 1) / num_shards_;
    for (size_t i = 0; i < num_shards_; ++i) shards_[i].capacity_ = per_shard;
  }
  ~LruCache() = default;  // shards free their nodes

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
    std::lock_guard lock(s.mu_);
    return s.insert(key, h, std::move(value), expires, charge, clock_);
  }

  // get: the value of `key` if stored and not expired; makes it the most
  // recently used. Counts a hit or a miss.
  std::optional<V> get(const K& key) {
    const uint64_t h = Mix(hasher_(key));
    Shard& s = shard(h);
    std::lock_guard lock(s.mu_);
    Node* n = s.find(key, h);
    if (n != nullptr && n->expires_at_ != kNever && s.expired(n, clock_)) {
      s.drop(n);
      ++s.expirations_;
      n = nullptr;
    }
    if (n == nullptr) {
      ++s.misses_;
      return std::nullopt;
    }
    ++s.hits_;
    s.touch(n);
    return n->value_;
  }

  // contains: true if `key` holds a live value (even one that is itself an
  // empty optional). Does not change recency or hit/miss counts.
  bool contains(const K& key) {
    const uint64_t h = Mix(hasher_(key));
    Shard& s = shard(h);
    std::lock_guard lock(s.mu_);
    Node* n = s.find(key, h);
    if (n != nullptr && n->expires_at_ != kNever && s.expired(n, clock_)) {
      s.drop(n);
      ++s.expirations_;
      return false;
    }
    return n != nullptr;
  }

  // erase: removes `key`; true if a live value was removed.
  bool erase(const K& key) {
    const uint64_t h = Mix(hasher_(key));
    Shard& s = shard(h);
    std::lock_guard lock(s.mu_);
    Node* n = s.find(key, h);
    if (n == nullptr) return false;
    const bool live = n->expires_at_ == kNever || !s.expired(n, clock_);
    if (!live) ++s.expirations_;
    s.drop(n);
    return live;
  }

  // clear: removes every entry. Counters are kept.
  void clear() {
    for (size_t i = 0; i < num_shards_; ++i) {
      std::lock_guard lock(shards_[i].mu_);
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
      std::lock_guard lock(s.mu_);
      s.reclaim_expired(clock_);
      st.size += s.count_;
      charge += s.usage_;
      st.hits += s.hits_;
      st.misses += s.misses_;
      st.evictions += s.evictions_;
      st.expirations += s.expirations_;
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
      std::lock_guard lock(shards_[i].mu_);
      shards_[i].capacity_ = per_shard;
      shards_[i].make_room(0, clock_, nullptr);
    }
  }

 private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  static constexpr size_t kNotInHeap = std::numeric_limits<size_t>::max();

  // Node: one entry; in its shard's hash chain, LRU list and (with a TTL)
  // expiry heap at once, so each entry costs one allocation.
  struct Node {
    // Fields in the order a get() reads them, so that a small node's hot
    // part shares a cache line.
    Node(const K& k, V v, uint64_t h, int64_t e, size_t c)
        : hash_(h), key_(k), expires_at_(e), value_(std::move(v)), charge_(c) {}
    uint64_t hash_;
    Node* next_hash_ = nullptr;  // hash chain
    Node* prev_ = nullptr;       // LRU list: towards most recent
    Node* next_ = nullptr;       // LRU list: towards least recent
    K key_;
    int64_t expires_at_;  // coarse_monotonic ns; kNever without TTL
    V value_;
    size_t charge_;
    size_t heap_index_ = kNotInHeap;
  };

  // Shard: one lock and everything it guards. Aligned so that two shards
  // never share a cache line.
  struct alignas(64) Shard {
    Shard() = default;
    ~Shard() { drop_all(); }
    Shard(const Shard&) = delete;
    Shard& operator=(const Shard&) = delete;

    // First cache line: what a get() writes (lock, list head, counters),
    // so that a get touches one line of the shard.
    std::mutex mu_;
    Node* mru_ = nullptr;                 // GUARDED_BY(mu_) most recently used
    uint64_t hits_ = 0;                   // GUARDED_BY(mu_)
    uint64_t misses_ = 0;                 // GUARDED_BY(mu_)

    Node* lru_ = nullptr;                 // GUARDED_BY(mu_) least recently used
    size_t capacity_ = 0;                 // GUARDED_BY(mu_) (set_max_size)
    std::vector<Node*> table_;            // GUARDED_BY(mu_) hash chains, size a power of 2
    std::vector<Node*> heap_;             // GUARDED_BY(mu_) min-heap on expires_at_
    size_t count_ = 0;                    // GUARDED_BY(mu_)
    size_t usage_ = 0;                    // GUARDED_BY(mu_) sum of charges
    uint64_t evictions_ = 0;              // GUARDED_BY(mu_)
    uint64_t expirations_ = 0;            // GUARDED_BY(mu_)

    // All below: REQUIRES mu_ held.

    Node* find(const K& key, uint64_t h) const {
      if (table_.empty()) return nullptr;
      for (Node* n = table_[h & (table_.size() - 1)]; n != nullptr; n = n->next_hash_) {
        if (n->hash_ == h && n->key_ == key) return n;
      }
      return nullptr;
    }

    bool expired(const Node* n, const Clock& clock) const {
      return n->expires_at_ <= clock.coarse_monotonic().count();
    }

    bool insert(const K& key, uint64_t h, V value, int64_t expires, size_t charge,
                const Clock& clock) {
      Node* old = find(key, h);
      if (charge > capacity_) {
        if (old != nullptr) drop(old);
        return false;
      }
      if (old != nullptr) {
        // Update in place: no allocation, the node keeps its hash slot.
        old->value_ = std::move(value);
        usage_ = usage_ - old->charge_ + charge;
        old->charge_ = charge;
        set_expiry(old, expires);
        touch(old);
        make_room(0, clock, old);
        return true;
      }
      make_room(charge, clock, nullptr);
      Node* n = new Node(key, std::move(value), h, expires, charge);
      link_front(n);
      if (count_ + 1 > table_.size()) grow();
      Node*& bucket = table_[h & (table_.size() - 1)];
      n->next_hash_ = bucket;
      bucket = n;
      if (expires != kNever) heap_push(n);
      ++count_;
      usage_ += charge;
      return true;
    }

    // make_room: drops entries until `extra` more charge fits: expired ones
    // first, then the least recently used, never `keep`.
    void make_room(size_t extra, const Clock& clock, const Node* keep) {
      if (usage_ + extra <= capacity_) return;
      if (!heap_.empty()) reclaim_expired(clock, keep);
      while (usage_ + extra > capacity_ && lru_ != nullptr && lru_ != keep) {
        drop(lru_);
        ++evictions_;
      }
    }

    // set_expiry: changes the expiry of a stored node, keeping the heap right.
    void set_expiry(Node* n, int64_t expires) {
      const int64_t before = n->expires_at_;
      n->expires_at_ = expires;
      if (n->heap_index_ == kNotInHeap) {
        if (expires != kNever) heap_push(n);
      } else if (expires == kNever) {
        heap_erase(n);
      } else if (expires < before) {
        sift_up(n->heap_index_);
      } else {
        sift_down(n->heap_index_);
      }
    }

    // touch: moves `n` to the most recent end.
    void touch(Node* n) {
      if (mru_ == n) return;
      unlink(n);
      link_front(n);
    }

    // drop: removes `n` from every structure and frees it.
    void drop(Node* n) {
      Node** p = &table_[n->hash_ & (table_.size() - 1)];
      while (*p != n) p = &(*p)->next_hash_;
      *p = n->next_hash_;
      unlink(n);
      if (n->heap_index_ != kNotInHeap) heap_erase(n);
      --count_;
      usage_ -= n->charge_;
      delete n;
    }

    void drop_all() {
      for (Node* n = mru_; n != nullptr;) {
        Node* next = n->next_;
        delete n;
        n = next;
      }
      mru_ = lru_ = nullptr;
      std::fill(table_.begin(), table_.end(), nullptr);
      heap_.clear();
      count_ = 0;
      usage_ = 0;
    }

    // reclaim_expired: drops every expired entry, cheapest first; O(k log n)
    // for k expired entries.
    void reclaim_expired(const Clock& clock, const Node* keep = nullptr) {
      if (heap_.empty()) return;
      const int64_t now = clock.coarse_monotonic().count();
      while (!heap_.empty() && heap_.front()->expires_at_ <= now && heap_.front() != keep) {
        drop(heap_.front());
        ++expirations_;
      }
    }

    void link_front(Node* n) {
      n->prev_ = nullptr;
      n->next_ = mru_;
      if (mru_ != nullptr) mru_->prev_ = n;
      mru_ = n;
      if (lru_ == nullptr) lru_ = n;
    }

    void unlink(Node* n) {
      if (n->prev_ != nullptr) n->prev_->next_ = n->next_;
      else mru_ = n->next_;
      if (n->next_ != nullptr) n->next_->prev_ = n->prev_;
      else lru_ = n->prev_;
      n->prev_ = n->next_ = nullptr;
    }

    void grow() {
      std::vector<Node*> bigger(std::max<size_t>(16, table_.size() * 2), nullptr);
      const size_t mask = bigger.size() - 1;
      for (Node* head : table_) {
        while (head != nullptr) {
          Node* next = head->next_hash_;
          Node*& b = bigger[head->hash_ & mask];
          head->next_hash_ = b;
          b = head;
          head = next;
        }
      }
      table_.swap(bigger);
    }

    // Min-heap on expires_at_; each node knows its index for O(log n) erase.
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
  [[no_unique_address]] Hash hasher_;
};

}  // namespace agentgate
