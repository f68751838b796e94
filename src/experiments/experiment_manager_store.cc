// ExperimentManager, the store side: the write-behind batches (flush) and
// the sync with a store shared by other instances (sync), both run by the
// background thread or called directly.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <set>

#include "experiments/experiment_manager_state.h"

namespace agentgate {

using experiment_detail::Add;
using experiment_detail::IsZero;

Status ExperimentManager::flush() {
  if (!bg_) return Status::Ok();
  std::unique_lock lock(bg_->mu);
  const uint64_t mine = ++bg_->requested;
  bg_->wake.notify_one();
  bg_->flushed.wait(lock, [&] { return bg_->completed >= mine; });
  return bg_->last;
}

Status ExperimentManager::sync() {
  if (store_ == nullptr) return Status::Ok();
  if (!bg_) return sync_once();
  std::unique_lock lock(bg_->mu);
  bg_->sync_requested = true;
  const uint64_t mine = ++bg_->requested;
  bg_->wake.notify_one();
  bg_->flushed.wait(lock, [&] { return bg_->completed >= mine; });
  return bg_->last;
}

Status ExperimentManager::flush_once() {
  std::vector<PendingOutcome> durable;
  {
    std::lock_guard lock(bg_->mu);
    durable.swap(bg_->durable);
  }
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, e] : experiments_) entries.push_back(e);
  }
  WriteBatch b;
  std::unordered_map<std::string, std::shared_ptr<Entry>> by_name;
  for (const auto& e : entries) {
    std::lock_guard lock(e->mu);
    if (!e->dirty || e->deleted) continue;
    by_name[e->spec.name] = e;
    for (size_t v = 0; v < e->unflushed.size(); ++v) {
      if (IsZero(e->unflushed[v])) continue;
      b.counts.push_back({e->spec.name, static_cast<int>(v), e->unflushed[v]});
      e->unflushed[v] = {};
    }
    for (auto& [user, v] : e->unflushed_sticky) b.sticky.push_back({e->spec.name, user, v});
    e->unflushed_sticky.clear();
    e->dirty = false;
  }
  const size_t batched_counts = b.counts.size();
  std::vector<PendingOutcome> written;
  for (PendingOutcome& p : durable) {
    bool deleted = false;
    {
      std::lock_guard lock(p.entry->mu);
      deleted = p.entry->deleted;
    }
    if (deleted) {
      p.done(NotFound(fmt::format("experiment '{}' not found", p.record.experiment)));
      continue;
    }
    b.counts.push_back({p.record.experiment, p.record.variant, p.delta});
    b.outcomes.push_back(p.record);
    written.push_back(std::move(p));
  }
  if (b.empty()) return Status::Ok();
  auto lost = store_->apply(b, options_.outcome_log_size);
  if (!lost.ok()) {
    if (metrics_) metrics_->write_errors.inc();
    // Retry the batched part with the next batch; the outcomes fail (nothing counted).
    for (size_t i = 0; i < batched_counts; ++i) {
      const WriteBatch::Count& c = b.counts[i];
      Entry& e = *by_name[c.id];
      std::lock_guard lock(e.mu);
      if (e.deleted) continue;
      Add(e.unflushed[static_cast<size_t>(c.variant)], c.delta);
      e.dirty = true;
    }
    for (const WriteBatch::Sticky& st : b.sticky) {
      Entry& e = *by_name[st.id];
      std::lock_guard lock(e.mu);
      if (e.deleted) continue;
      e.unflushed_sticky.emplace_back(st.user, st.variant);
      e.dirty = true;
    }
    for (PendingOutcome& p : written) p.done(lost.status());
    return lost.status();
  }
  if (metrics_) metrics_->flushes.inc();
  for (const WriteBatch::Sticky& st : *lost) {  // another instance chose first: adopt its choice
    auto it = by_name.find(st.id);
    if (it == by_name.end()) continue;
    std::lock_guard lock(it->second->mu);
    if (auto s = it->second->sticky.find(st.user); s != it->second->sticky.end())
      s->second = st.variant;
  }
  for (PendingOutcome& p : written) {
    {
      std::lock_guard lock(p.entry->mu);
      if (!p.entry->deleted)
        count_outcome_locked(*p.entry, p.record.variant, p.record.success, p.record.value);
    }
    p.done(Status::Ok());
  }
  return Status::Ok();
}

Status ExperimentManager::restore_definitions() {
  struct Definition {
    ExperimentSpec spec;
    ExperimentStatus status;
    std::string winner;
  };
  std::vector<Definition> known;
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, e] : experiments_) {
      std::lock_guard elock(e->mu);
      known.push_back({e->spec, e->status,
                       e->selected_winner
                           ? e->spec.variants[static_cast<size_t>(*e->selected_winner)]
                           : std::string()});
    }
  }
  spdlog::warn("experiment store lost its data (version went back): writing back {} experiments",
               known.size());
  for (const Definition& d : known) {
    if (Status s = store_->put_experiment(d.spec, d.status, d.winner); !s.ok()) return s;
  }
  return Status::Ok();
}

Status ExperimentManager::sync_once() {
  std::lock_guard slock(sync_mu_);
  auto version = store_->version();
  if (!version.ok()) {
    if (metrics_) metrics_->write_errors.inc();
    return version.status();
  }
  if (*version == 0) return Status::Ok();  // one process owns the store
  bool known = false;
  {
    std::shared_lock lock(mu_);
    known = !experiments_.empty();
  }
  if (*version < synced_version_ || (*version == 1 && known)) {
    // Versions only grow, and a store that ever held these experiments is
    // past 1: the store lost its data (Redis restarted empty).
    // Write back the definitions this instance knows rather than reading
    // them as deleted; counts start again from what is written next.
    if (Status s = restore_definitions(); !s.ok()) {
      if (metrics_) metrics_->write_errors.inc();
      return s;
    }
    auto now = store_->version();
    if (!now.ok()) return now.status();
    synced_version_ = *now;
    return Status::Ok();
  }
  const uint64_t changes = definition_changes_.load(std::memory_order_acquire);
  auto snaps = store_->load(false);
  if (!snaps.ok()) {
    if (metrics_) metrics_->write_errors.inc();
    return snaps.status();
  }
  // The store changed while it was read (another instance's write, or Redis
  // restarted empty in between): this snapshot may be torn; the next sync
  // reads again.
  if (auto after = store_->version(); !after.ok() || *after != *version) return Status::Ok();
  std::unique_lock lock(mu_);
  // A local change raced this read: keep memory, the next sync sees both.
  if (definition_changes_.load(std::memory_order_acquire) != changes) return Status::Ok();
  std::set<std::string> seen;
  for (ExperimentStore::Snapshot& s : *snaps) {
    if (!ValidateExperimentSpec(s.spec).ok()) continue;
    const std::string name = s.spec.name;
    seen.insert(name);
    auto it = experiments_.find(name);
    std::shared_ptr<Entry> e;
    if (it != experiments_.end() && DumpJson(ExperimentSpecToJson(it->second->spec)) ==
                                        DumpJson(ExperimentSpecToJson(s.spec))) {
      e = it->second;
    } else {  // new here, or deleted and created again elsewhere with another definition
      if (it != experiments_.end()) {
        std::lock_guard elock(it->second->mu);
        it->second->deleted = true;
      }
      e = make_entry(std::move(s.spec));
      experiments_[name] = e;
    }
    std::lock_guard elock(e->mu);
    e->status = s.status;
    e->selected_winner.reset();
    for (size_t i = 0; i < e->spec.variants.size(); ++i) {
      if (e->spec.variants[i] == s.selected_winner) e->selected_winner = static_cast<int>(i);
    }
    restore_counts(*e, s.counts);
  }
  for (auto it = experiments_.begin(); it != experiments_.end();) {
    if (seen.contains(it->first)) {
      ++it;
      continue;
    }
    {
      std::lock_guard elock(it->second->mu);
      it->second->deleted = true;  // deleted by another instance
    }
    it = experiments_.erase(it);
  }
  publish_count_locked();
  synced_version_ = *version;
  if (*version != 0) shared_store_.store(true, std::memory_order_relaxed);
  if (metrics_) metrics_->syncs.inc();
  return Status::Ok();
}

}  // namespace agentgate
