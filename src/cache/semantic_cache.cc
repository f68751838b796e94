// The semantic cache; the one file that includes hnswlib.
#include "agentgate/cache/semantic_cache.h"

// hnswlib 0.6.2's SSE path prefetches one link past the end of a link list
// (harmless on real hardware, a heap-buffer-overflow to AddressSanitizer):
// sanitizer builds use its plain path.
#if defined(__SANITIZE_ADDRESS__) && !defined(NO_MANUAL_VECTORIZATION)
#define NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <list>

#include "agentgate/cache/semantic_guard.h"
#include "agentgate/core/hash.h"
#include "agentgate/core/json.h"

namespace agentgate {

namespace {

bool Normalize(std::vector<float>& v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  if (norm <= 0 || !std::isfinite(norm)) return false;
  const float inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : v) x *= inv;
  return true;
}

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

std::string SemanticNamespace::key() const {
  return Sha256Hex(DumpJson({{"tenant", tenant}, {"agent_type", agent_type}, {"model", model},
                             {"params", params}}));
}

// Partition: one namespace's entries and index. All members GUARDED_BY(mu).
class SemanticCache::Partition {
 public:
  struct Entry {
    std::string query;
    std::string response;
    std::vector<float> vec;
    int64_t expires;
    std::list<uint64_t>::iterator lru;
  };

  std::mutex mu;
  std::unordered_map<uint64_t, Entry> entries;
  std::list<uint64_t> lru;  // front: most recently used
  uint64_t next_label = 0;
  size_t dim = 0;
  std::unique_ptr<hnswlib::InnerProductSpace> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
  size_t hnsw_capacity = 0;
  size_t hnsw_deleted = 0;

  void remove(uint64_t label) {
    auto it = entries.find(label);
    if (it == entries.end()) return;
    lru.erase(it->second.lru);
    entries.erase(it);
    if (hnsw) {
      hnsw->markDelete(label);
      ++hnsw_deleted;
    }
  }

  void build_index(const SemanticCacheOptions& o) {
    hnsw_capacity = std::max<size_t>(1024, entries.size() * 2);
    space = std::make_unique<hnswlib::InnerProductSpace>(dim);
    hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(space.get(), hnsw_capacity, o.hnsw_m,
                                                             o.hnsw_ef_construction);
    hnsw->setEf(o.hnsw_ef_search);
    hnsw_deleted = 0;
    for (const auto& [label, e] : entries) hnsw->addPoint(e.vec.data(), label);
  }

  void index_add(uint64_t label, const std::vector<float>& v) {
    if (hnsw->cur_element_count + 1 > hnsw_capacity) {
      hnsw_capacity *= 2;
      hnsw->resizeIndex(hnsw_capacity);
    }
    hnsw->addPoint(v.data(), label);
  }

  // nearest: up to k (similarity, label) pairs, best first.
  std::vector<std::pair<float, uint64_t>> nearest(const std::vector<float>& q, size_t k) {
    std::vector<std::pair<float, uint64_t>> out;
    if (hnsw) {
      auto pq = hnsw->searchKnn(q.data(), k);
      while (!pq.empty()) {
        out.emplace_back(1.0f - pq.top().first, pq.top().second);  // distance = 1 - dot
        pq.pop();
      }
    } else {
      for (const auto& [label, e] : entries) out.emplace_back(Dot(q, e.vec), label);
    }
    const size_t n = std::min(k, out.size());
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    out.resize(n);
    return out;
  }
};

SemanticCache::SemanticCache(const SemanticCacheOptions& options, const Clock& clock)
    : options_(options),
      threshold_(options.similarity_threshold),
      ttl_ns_(options.ttl.count()),
      max_entries_(options.max_entries),
      clock_(clock) {}

SemanticCacheOptions SemanticCache::options() const {
  SemanticCacheOptions o = options_;
  o.similarity_threshold = threshold_.load(std::memory_order_relaxed);
  o.ttl = Nanos(ttl_ns_.load(std::memory_order_relaxed));
  o.max_entries = max_entries_.load(std::memory_order_relaxed);
  return o;
}

void SemanticCache::set_tunables(double similarity_threshold, Nanos ttl, size_t max_entries) {
  threshold_.store(similarity_threshold, std::memory_order_relaxed);
  ttl_ns_.store(ttl.count(), std::memory_order_relaxed);
  max_entries_.store(max_entries, std::memory_order_relaxed);
  std::vector<std::shared_ptr<Partition>> parts;
  {
    std::lock_guard lock(mu_);
    for (const auto& [k, p] : partitions_) parts.push_back(p);
  }
  for (const auto& p : parts) {
    std::lock_guard lock(p->mu);
    while (p->entries.size() > max_entries) p->remove(p->lru.back());
  }
}

bool SemanticCache::erase(const SemanticNamespace& ns) {
  std::lock_guard lock(mu_);
  return partitions_.erase(ns.key()) > 0;
}

Status SemanticCache::probe() {
  const SemanticNamespace ns{.tenant = "agentgate:probe:" + RandomToken(8)};
  std::vector<float> v(8, 0.0f);
  v[0] = 1.0f;
  const std::string query = "agentgate cache probe";
  const bool stored = set(query, ns, "probe", v);
  std::optional<SemanticHit> hit;
  {
    std::shared_ptr<Partition> p = partition(ns.key(), false);
    if (p) {
      std::lock_guard lock(p->mu);
      for (const auto& [similarity, label] : p->nearest(v, 1)) {
        auto it = p->entries.find(label);
        if (it != p->entries.end()) {
          hit = SemanticHit{it->second.response, it->second.query, static_cast<double>(similarity)};
        }
      }
    }
  }
  (void)erase(ns);
  if (!stored || !hit || hit->response != "probe") {
    return Unavailable("the semantic cache did not return the entry just written");
  }
  return Status::Ok();
}

SemanticCache::~SemanticCache() = default;

std::shared_ptr<SemanticCache::Partition> SemanticCache::partition(const std::string& key,
                                                                   bool create) {
  std::lock_guard lock(mu_);
  auto it = partitions_.find(key);
  if (it != partitions_.end()) return it->second;
  if (!create) return nullptr;
  auto p = std::make_shared<Partition>();
  partitions_.emplace(key, p);
  return p;
}

bool SemanticCache::set(std::string_view query, const SemanticNamespace& ns, std::string response,
                        std::vector<float> embedding) {
  const Nanos ttl(ttl_ns_.load(std::memory_order_relaxed));
  if (!listener_) return store(query, ns, std::move(response), std::move(embedding), ttl, nullptr);
  SemanticEntry e{std::string(query), ns, response, {}, ttl};
  if (!store(query, ns, std::move(response), std::move(embedding), ttl, &e.embedding)) return false;
  listener_(e);
  return true;
}

bool SemanticCache::insert(const SemanticEntry& e) {
  if (e.ttl.count() <= 0) return false;
  return store(e.query, e.ns, e.response, e.embedding, e.ttl, nullptr);
}

bool SemanticCache::store(std::string_view query, const SemanticNamespace& ns, std::string response,
                          std::vector<float> embedding, Nanos ttl, std::vector<float>* stored) {
  const size_t max_entries = max_entries_.load(std::memory_order_relaxed);
  if (!Normalize(embedding) || max_entries == 0) return false;
  if (stored != nullptr) *stored = embedding;
  std::shared_ptr<Partition> p = partition(ns.key(), true);
  const int64_t now = clock_.monotonic().count();
  std::lock_guard lock(p->mu);
  if (p->dim == 0) p->dim = embedding.size();
  if (embedding.size() != p->dim) return false;
  // Make room: expired entries at the cold end first, then the least recently used.
  while (!p->lru.empty() && p->entries.at(p->lru.back()).expires <= now) p->remove(p->lru.back());
  while (p->entries.size() >= max_entries) p->remove(p->lru.back());
  const uint64_t label = p->next_label++;
  p->lru.push_front(label);
  Partition::Entry e{std::string(query), std::move(response), std::move(embedding),
                     now + ttl.count(), p->lru.begin()};
  auto [it, inserted] = p->entries.emplace(label, std::move(e));
  (void)inserted;
  try {
    if (p->hnsw && p->hnsw_deleted > p->entries.size()) {
      p->build_index(options_);  // too many tombstones: rebuild from the live entries
    } else if (p->hnsw) {
      p->index_add(label, it->second.vec);
    } else if (p->entries.size() >= options_.hnsw_from) {
      p->build_index(options_);
    }
  } catch (const std::exception&) {
    p->hnsw.reset();  // fall back to the linear scan
  }
  return true;
}

std::optional<SemanticHit> SemanticCache::get(std::string_view query, const SemanticNamespace& ns,
                                              std::vector<float> embedding) {
  std::optional<SemanticHit> hit;
  uint64_t rejected = 0;
  std::shared_ptr<Partition> p;
  if (Normalize(embedding)) p = partition(ns.key(), false);
  if (p) {
    const int64_t now = clock_.monotonic().count();
    std::lock_guard lock(p->mu);
    const double threshold = threshold_.load(std::memory_order_relaxed);
    if (embedding.size() == p->dim && !p->entries.empty()) {
      for (const auto& [similarity, label] : p->nearest(embedding, options_.candidates)) {
        if (similarity < threshold) break;
        auto it = p->entries.find(label);
        if (it == p->entries.end()) continue;
        if (it->second.expires <= now) {
          p->remove(label);
          continue;
        }
        if (!SemanticGuardAccepts(query, it->second.query)) {
          ++rejected;
          continue;
        }
        p->lru.splice(p->lru.begin(), p->lru, it->second.lru);
        hit = SemanticHit{it->second.response, it->second.query, std::min(1.0, static_cast<double>(similarity))};
        break;
      }
    }
  }
  std::lock_guard lock(stats_mu_);
  guard_rejections_ += rejected;
  if (hit) {
    ++hits_;
    similarity_sum_ += hit->similarity;
  } else {
    ++misses_;
  }
  return hit;
}

void SemanticCache::clear() {
  std::lock_guard lock(mu_);
  partitions_.clear();
}

SemanticCacheStats SemanticCache::stats() {
  SemanticCacheStats s;
  std::vector<std::shared_ptr<Partition>> parts;
  {
    std::lock_guard lock(mu_);
    for (const auto& [k, p] : partitions_) parts.push_back(p);
  }
  s.partitions = parts.size();
  for (const auto& p : parts) {
    std::lock_guard lock(p->mu);
    s.entries += p->entries.size();
  }
  std::lock_guard lock(stats_mu_);
  s.hits = hits_;
  s.misses = misses_;
  s.guard_rejections = guard_rejections_;
  s.average_similarity = hits_ == 0 ? 0.0 : similarity_sum_ / static_cast<double>(hits_);
  return s;
}

}  // namespace agentgate
