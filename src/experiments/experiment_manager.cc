#include "agentgate/experiments/experiment_manager.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <thread>

#include "experiments/experiment_manager_state.h"

namespace agentgate {

using experiment_detail::Add;

namespace {

ConversionCounts Conv(const VariantCounts& c) {
  return {std::min(c.conversions, c.impressions), c.impressions};
}

double Rate(const VariantCounts& c) {
  return c.impressions == 0 ? 0
                            : static_cast<double>(std::min(c.conversions, c.impressions)) /
                                  static_cast<double>(c.impressions);
}

Status Conflict(std::string_view id, ExperimentStatus s) {
  return AlreadyExists(fmt::format("experiment '{}' is {}", id, ExperimentStatusName(s)));
}

VariantCounts OutcomeDelta(bool success, std::optional<double> value) {
  VariantCounts d{.conversions = success ? 1u : 0u, .outcomes = 1};
  if (value) d.value_count = 1, d.value_sum = *value, d.value_sum_sq = *value * *value;
  return d;
}

// CheckMetadata: empty, or a JSON object of at most kMaxOutcomeMetadataBytes;
// returns it compact.
Result<std::string> CheckMetadata(std::string_view metadata) {
  if (metadata.empty()) return std::string();
  Json j = Json::parse(metadata, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("metadata: expected an object");
  std::string compact = DumpJson(j);
  if (compact.size() > kMaxOutcomeMetadataBytes) {
    return InvalidArgument(fmt::format("metadata: {} bytes, at most {} allowed", compact.size(),
                                       kMaxOutcomeMetadataBytes));
  }
  return compact == "{}" ? std::string() : compact;
}

}  // namespace

ExperimentManagerMetrics::ExperimentManagerMetrics(MetricsRegistry& r)
    : flushes(r.counter("agentgate_experiment_store_flushes_total",
                        "Batches of experiment counts, assignments and outcomes written")),
      write_errors(r.counter("agentgate_experiment_store_errors_total",
                             "Experiment store batches or syncs that failed (retried)")),
      syncs(r.counter("agentgate_experiment_store_syncs_total",
                      "Re-reads of a shared experiment store (other instances' changes)")) {}

ExperimentManager::ExperimentManager(ExperimentStore* store, ExperimentManagerOptions options)
    : store_(store), options_(options), clock_(options.clock ? *options.clock : Clock::system()) {
  if (options_.metrics != nullptr)
    metrics_ = std::make_unique<ExperimentManagerMetrics>(*options_.metrics);
  if (store_ == nullptr || !options_.write_behind) return;
  bg_ = std::make_unique<Background>();
  bg_->thread = std::thread([this] {
    using SteadyClock = std::chrono::steady_clock;
    auto next_sync = SteadyClock::now() + options_.sync_interval;
    std::unique_lock lock(bg_->mu);
    for (;;) {
      bg_->wake.wait_for(lock, options_.flush_interval, [this] {
        return bg_->stopping || bg_->requested > bg_->completed || !bg_->durable.empty();
      });
      const bool stop = bg_->stopping;
      const uint64_t target = bg_->requested;
      bool do_sync = bg_->sync_requested;
      bg_->sync_requested = false;
      lock.unlock();
      Status s = flush_once();
      if (!stop && options_.sync_interval.count() > 0 && SteadyClock::now() >= next_sync) {
        do_sync = true;
        next_sync = SteadyClock::now() + options_.sync_interval;
      }
      if (do_sync && !stop) {
        if (Status sy = sync_once(); s.ok()) s = sy;
      }
      lock.lock();
      bg_->completed = std::max(bg_->completed, target);
      bg_->last = s;
      bg_->flushed.notify_all();
      if (stop && bg_->durable.empty()) break;
    }
  });
}

ExperimentManager::~ExperimentManager() {
  if (!bg_) return;
  {
    std::lock_guard lock(bg_->mu);
    bg_->stopping = true;
  }
  bg_->wake.notify_one();
  bg_->thread.join();
}

void ExperimentManager::note_definition_change() {
  definition_changes_.fetch_add(1, std::memory_order_acq_rel);
}

Result<std::vector<WriteBatch::Sticky>> ExperimentManager::write_now(const WriteBatch& batch) {
  return store_->apply(batch, options_.outcome_log_size);
}

std::shared_ptr<ExperimentManager::Entry> ExperimentManager::make_entry(ExperimentSpec spec) const {
  auto e = std::make_shared<Entry>();
  e->ranges = GrowthBookBucketRanges(spec.traffic_split, spec.coverage);
  const size_t k = spec.variants.size();
  e->counts.assign(k, {});
  e->unflushed.assign(k, {});
  e->values.assign(k, {});
  e->pairs.assign(k * k, SequentialTest({.tau = spec.msprt_tau}));
  uint64_t seed = options_.seed != 0 ? options_.seed : std::random_device{}();
  e->rng.seed(seed ^ Fnv1a32Utf16(spec.name));
  e->spec = std::move(spec);
  return e;
}

std::shared_ptr<ExperimentManager::Entry> ExperimentManager::find(std::string_view id) const {
  std::shared_lock lock(mu_);
  auto it = experiments_.find(id);
  return it == experiments_.end() ? nullptr : it->second;
}

void ExperimentManager::restore_counts(Entry& e, const std::vector<VariantCounts>& counts) const {
  const size_t k = e.spec.variants.size();
  for (size_t i = 0; i < k; ++i) {
    VariantCounts c = i < counts.size() ? counts[i] : VariantCounts{};
    Add(c, e.unflushed[i]);  // counted here, not yet written
    e.counts[i] = c;
    if (c.value_count > 0) {
      const double n = static_cast<double>(c.value_count);
      const double mean = c.value_sum / n;
      e.values[i].restore(c.value_count, mean, std::max(0.0, c.value_sum_sq - c.value_sum * mean));
    } else {
      e.values[i] = RunningMoments();
    }
  }
}

Status ExperimentManager::load() {
  if (store_ == nullptr) return Status::Ok();
  auto version = store_->version();
  if (!version.ok()) return version.status();
  auto snaps = store_->load(true);
  if (!snaps.ok()) return snaps.status();
  std::unique_lock lock(mu_);
  for (ExperimentStore::Snapshot& s : *snaps) {
    if (Status v = ValidateExperimentSpec(s.spec); !v.ok()) {
      return Internal("stored experiment '" + s.spec.name + "' is invalid: " + v.message());
    }
    auto e = make_entry(std::move(s.spec));
    std::lock_guard elock(e->mu);
    e->status = s.status;
    const size_t k = e->spec.variants.size();
    restore_counts(*e, s.counts);
    for (auto& [user, v] : s.sticky) {
      if (v >= 0 && static_cast<size_t>(v) < k) e->sticky.emplace(std::move(user), v);
    }
    for (size_t i = 0; i < k; ++i) {
      if (e->spec.variants[i] == s.selected_winner) e->selected_winner = static_cast<int>(i);
    }
    const std::string name = e->spec.name;
    experiments_[name] = e;
  }
  publish_count_locked();
  std::lock_guard slock(sync_mu_);
  synced_version_ = *version;
  if (*version != 0) shared_store_.store(true, std::memory_order_relaxed);
  return Status::Ok();
}

Status ExperimentManager::create(ExperimentSpec spec) {
  if (Status s = ValidateExperimentSpec(spec); !s.ok()) return s;
  std::unique_lock lock(mu_);
  if (experiments_.contains(spec.name)) {
    return AlreadyExists("experiment '" + spec.name + "' already exists");
  }
  note_definition_change();
  if (store_ != nullptr) {
    if (Status s = store_->put_experiment(spec, ExperimentStatus::kRunning, ""); !s.ok()) return s;
  }
  auto e = make_entry(std::move(spec));
  const std::string name = e->spec.name;
  experiments_.emplace(name, std::move(e));
  publish_count_locked();
  return Status::Ok();
}

Result<ExperimentInfo> ExperimentManager::get(std::string_view id) const {
  auto e = find(id);
  if (!e) return NotFound(fmt::format("experiment '{}' not found", id));
  std::lock_guard lock(e->mu);
  ExperimentInfo info{e->spec, e->status, std::nullopt};
  if (e->selected_winner)
    info.selected_winner = e->spec.variants[static_cast<size_t>(*e->selected_winner)];
  return info;
}

std::vector<ExperimentInfo> ExperimentManager::list() const {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, e] : experiments_) entries.push_back(e);
  }
  std::vector<ExperimentInfo> out;
  for (const auto& e : entries) {
    std::lock_guard lock(e->mu);
    ExperimentInfo info{e->spec, e->status, std::nullopt};
    if (e->selected_winner)
      info.selected_winner = e->spec.variants[static_cast<size_t>(*e->selected_winner)];
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const ExperimentInfo& a, const ExperimentInfo& b) {
    return a.spec.name < b.spec.name;
  });
  return out;
}

Status ExperimentManager::stop(std::string_view id) {
  auto e = find(id);
  if (!e) return NotFound(fmt::format("experiment '{}' not found", id));
  std::lock_guard lock(e->mu);
  if (e->status != ExperimentStatus::kRunning) return Status::Ok();
  note_definition_change();
  if (store_ != nullptr) {
    if (Status s = store_->put_experiment(e->spec, ExperimentStatus::kStopped, ""); !s.ok())
      return s;
  }
  e->status = ExperimentStatus::kStopped;
  return Status::Ok();
}

Status ExperimentManager::remove(std::string_view id) {
  std::shared_ptr<Entry> e;
  {
    std::unique_lock lock(mu_);
    auto it = experiments_.find(id);
    if (it == experiments_.end()) return NotFound(fmt::format("experiment '{}' not found", id));
    note_definition_change();
    e = it->second;
    experiments_.erase(it);
    publish_count_locked();
    std::lock_guard elock(e->mu);
    e->deleted = true;  // its unwritten counts are dropped
  }
  if (store_ == nullptr) return Status::Ok();
  (void)flush();  // a batch already taken is written before the erase
  if (Status s = store_->erase_experiment(id); !s.ok()) {
    std::unique_lock lock(mu_);
    std::lock_guard elock(e->mu);
    e->deleted = false;
    experiments_.emplace(e->spec.name, e);
    publish_count_locked();
    return s;
  }
  return Status::Ok();
}

Result<Assignment> ExperimentManager::assign(std::string_view id, std::string_view user) {
  auto e = find(id);
  if (!e) return NotFound(fmt::format("experiment '{}' not found", id));
  Assignment a;
  a.experiment = e->spec.name;
  a.kind = e->spec.variant_kind;
  a.client_outcomes = e->spec.client_outcomes;
  std::lock_guard lock(e->mu);
  a.status = e->status;
  if (e->status == ExperimentStatus::kStopped) return Conflict(id, e->status);
  if (e->status == ExperimentStatus::kCompleted && e->spec.route_to_winner && e->selected_winner) {
    a.in_experiment = true;
    a.variant = *e->selected_winner;
    a.variant_name = e->spec.variants[static_cast<size_t>(a.variant)];
    if (a.kind == VariantKind::kSystemPrompt)
      a.prompt = e->spec.prompts[static_cast<size_t>(a.variant)];
    return a;
  }
  int v = -1;
  bool fresh_sticky = false;
  if (e->spec.bandit_algorithm == BanditAlgorithm::kNone) {
    v = GrowthBookChooseVariation(GrowthBookHashV2(e->spec.seed, user), e->ranges);
  } else if (auto it = e->sticky.find(std::string(user)); it != e->sticky.end()) {
    v = it->second;
  } else if (GrowthBookHashV2(e->spec.seed, user) < e->spec.coverage) {
    std::vector<ArmStats> arms;
    arms.reserve(e->counts.size());
    for (const VariantCounts& c : e->counts)
      arms.push_back({c.impressions, std::min(c.conversions, c.impressions)});
    v = ChooseArm(e->spec.bandit_algorithm, arms, {.epsilon = e->spec.epsilon}, e->rng);
    fresh_sticky = true;
  }
  if (v < 0) return a;  // outside the coverage
  if (e->status == ExperimentStatus::kRunning) {
    if (bg_) {  // written behind
      bool sticky_written = false;
      if (fresh_sticky && shared_store_.load(std::memory_order_relaxed)) {
        // Another instance may have chosen for this user already: ask the
        // shared store now (one round trip, on a user's first request to this
        // instance only), so that the user sees one variant everywhere. If
        // the store is away, the choice is served and written behind.
        WriteBatch b;
        b.sticky.push_back({e->spec.name, std::string(user), v});
        if (auto lost = write_now(b); lost.ok()) {
          sticky_written = true;
          if (!lost->empty() && lost->front().variant >= 0 &&
              static_cast<size_t>(lost->front().variant) < e->spec.variants.size()) {
            v = lost->front().variant;
          }
        } else if (metrics_) {
          metrics_->write_errors.inc();
        }
      }
      ++e->unflushed[static_cast<size_t>(v)].impressions;
      if (fresh_sticky && !sticky_written) e->unflushed_sticky.emplace_back(std::string(user), v);
      e->dirty = true;
    } else if (store_ != nullptr) {
      WriteBatch b;
      b.counts.push_back({e->spec.name, v, {.impressions = 1}});
      if (fresh_sticky) b.sticky.push_back({e->spec.name, std::string(user), v});
      auto lost = write_now(b);
      if (!lost.ok()) return lost.status();
      if (!lost->empty()) v = lost->front().variant;  // another instance chose first
    }
    if (fresh_sticky) e->sticky.emplace(std::string(user), v);
    ++e->counts[static_cast<size_t>(v)].impressions;
  }
  a.in_experiment = true;
  a.variant = v;
  a.variant_name = e->spec.variants[static_cast<size_t>(v)];
  if (a.kind == VariantKind::kSystemPrompt) a.prompt = e->spec.prompts[static_cast<size_t>(v)];
  return a;
}

Status ExperimentManager::record_outcome(std::string_view id, std::string_view user, bool success,
                                         std::optional<double> value, std::string_view metadata) {
  if (!bg_) {  // `done` runs inline
    Status out = Status::Ok();
    record_outcome_async(id, user, success, value, metadata, [&out](Status s) { out = std::move(s); });
    return out;
  }
  std::promise<Status> promise;
  std::future<Status> done = promise.get_future();
  record_outcome_async(id, user, success, value, metadata,
                       [&promise](Status s) { promise.set_value(std::move(s)); });
  return done.get();
}

void ExperimentManager::record_outcome_async(std::string_view id, std::string_view user,
                                             bool success, std::optional<double> value,
                                             std::string_view metadata,
                                             std::function<void(Status)> done) {
  auto e = find(id);
  if (!e) return done(NotFound(fmt::format("experiment '{}' not found", id)));
  if (value && !std::isfinite(*value)) return done(InvalidArgument("value: expected a finite number"));
  Result<std::string> meta = CheckMetadata(metadata);
  if (!meta.ok()) return done(meta.status());
  std::unique_lock lock(e->mu);
  if (e->status != ExperimentStatus::kRunning) return done(Conflict(id, e->status));
  int v = -1;
  if (e->spec.bandit_algorithm == BanditAlgorithm::kNone) {
    v = GrowthBookChooseVariation(GrowthBookHashV2(e->spec.seed, user), e->ranges);
    if (v < 0) {
      return done(InvalidArgument(fmt::format("user '{}' is outside experiment '{}'", user, id)));
    }
  } else {
    auto it = e->sticky.find(std::string(user));
    if (it == e->sticky.end()) {
      return done(InvalidArgument(
          fmt::format("user '{}' has no assignment in experiment '{}'", user, id)));
    }
    v = it->second;
  }
  OutcomeRecord rec{.experiment = e->spec.name,
                    .user = std::string(user),
                    .variant = v,
                    .variant_name = e->spec.variants[static_cast<size_t>(v)],
                    .success = success,
                    .value = value,
                    .metadata = std::move(*meta),
                    .time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now())
                                   .count()};
  const VariantCounts delta = OutcomeDelta(success, value);
  if (bg_) {  // counted once written, on the background thread
    lock.unlock();
    {
      std::lock_guard qlock(bg_->mu);
      bg_->durable.push_back({std::move(e), std::move(rec), delta, std::move(done)});
    }
    bg_->wake.notify_one();
    return;
  }
  if (store_ != nullptr) {
    WriteBatch b;
    b.counts.push_back({rec.experiment, v, delta});
    b.outcomes.push_back(rec);
    if (auto r = write_now(b); !r.ok()) return done(r.status());
  } else {
    e->log.push_front(std::move(rec));
    while (e->log.size() > options_.outcome_log_size) e->log.pop_back();
  }
  count_outcome_locked(*e, v, success, value);
  lock.unlock();
  done(Status::Ok());
}

Status ExperimentManager::record_variant_outcome(std::string_view id, int variant, bool success,
                                                 std::optional<double> value) {
  auto e = find(id);
  if (!e) return NotFound(fmt::format("experiment '{}' not found", id));
  if (value && !std::isfinite(*value)) return InvalidArgument("value: expected a finite number");
  std::lock_guard lock(e->mu);
  if (e->status != ExperimentStatus::kRunning) return Conflict(id, e->status);
  if (variant < 0 || static_cast<size_t>(variant) >= e->spec.variants.size()) {
    return InvalidArgument(fmt::format("variant index {} out of range", variant));
  }
  const VariantCounts delta = OutcomeDelta(success, value);
  if (bg_) {
    Add(e->unflushed[static_cast<size_t>(variant)], delta);
    e->dirty = true;
  } else if (store_ != nullptr) {
    WriteBatch b;
    b.counts.push_back({e->spec.name, variant, delta});
    if (auto r = write_now(b); !r.ok()) return r.status();
  }
  count_outcome_locked(*e, variant, success, value);
  return Status::Ok();
}

void ExperimentManager::count_outcome_locked(Entry& e, int variant, bool success,
                                             std::optional<double> value) {
  VariantCounts& c = e.counts[static_cast<size_t>(variant)];
  Add(c, OutcomeDelta(success, value));
  if (value) e.values[static_cast<size_t>(variant)].add(*value);
  // Continuous monitoring: every outcome is a look for the sequential tests.
  const size_t k = e.counts.size();
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = i + 1; j < k; ++j)
      e.pairs[i * k + j].look(Conv(e.counts[i]), Conv(e.counts[j]));
  }
  // Automated winner selection.
  if (e.spec.min_samples <= 0 || e.status != ExperimentStatus::kRunning || e.deleted) return;
  for (const VariantCounts& vc : e.counts) {
    if (vc.impressions < static_cast<uint64_t>(e.spec.min_samples)) return;
  }
  ExperimentResults r;
  fill_results(e, r);
  if (!r.significant || !r.winner) return;
  int winner =
      static_cast<int>(std::find(e.spec.variants.begin(), e.spec.variants.end(), *r.winner) -
                       e.spec.variants.begin());
  note_definition_change();
  if (store_ != nullptr) {
    if (Status s = store_->put_experiment(e.spec, ExperimentStatus::kCompleted, *r.winner);
        !s.ok()) {
      return;  // the outcome is counted; completion is retried on the next one
    }
  }
  e.status = ExperimentStatus::kCompleted;
  e.selected_winner = winner;
}

void ExperimentManager::fill_results(const Entry& e, ExperimentResults& r) const {
  const ExperimentSpec& s = e.spec;
  const size_t k = s.variants.size();
  r.id = s.name;
  r.status = e.status;
  r.test = s.test;
  std::vector<ConversionCounts> table;
  std::vector<uint64_t> impressions;
  size_t best = 0;
  for (size_t i = 0; i < k; ++i) {
    const VariantCounts& c = e.counts[i];
    VariantResult v;
    v.name = s.variants[i];
    v.impressions = c.impressions;
    v.conversions = c.conversions;
    v.conversion_rate = Rate(c);
    Interval ci = WilsonInterval(std::min(c.conversions, c.impressions), c.impressions);
    v.ci_low = ci.low, v.ci_high = ci.high;
    v.outcomes = c.outcomes;
    v.value_mean = e.values[i].mean();
    v.value_stderr = e.values[i].standard_error();
    r.variants.push_back(std::move(v));
    table.push_back(Conv(c));
    impressions.push_back(c.impressions);
    if (Rate(c) > Rate(e.counts[best])) best = i;
  }
  ChiSquareResult chi = ChiSquareTest(table, {.yates = s.yates});
  r.chi_square = chi.statistic, r.chi_square_df = chi.df, r.chi_square_p = chi.p_value,
  r.yates = chi.yates;
  // mSPRT: the best variant against every other one, Bonferroni over the k - 1 pairs.
  double worst = 0;
  for (size_t j = 0; j < k; ++j) {
    if (j == best) continue;
    const size_t lo = std::min(best, j), hi = std::max(best, j);
    SequentialTest& t = e.pairs[lo * k + hi];
    worst = std::max(worst, t.look(Conv(e.counts[lo]), Conv(e.counts[hi])));
  }
  r.msprt_p = std::min(1.0, worst * static_cast<double>(k - 1));
  r.p_value = s.test == SignificanceTest::kMsprt ? r.msprt_p : r.chi_square_p;
  r.confidence = 1 - r.p_value;
  r.significant = r.p_value < s.alpha && (s.test == SignificanceTest::kMsprt || chi.valid);
  if (r.significant) r.winner = s.variants[best];
  GoodnessOfFitResult srm = GoodnessOfFit(impressions, s.traffic_split);
  r.srm_chi_square = srm.statistic, r.srm_p = srm.p_value;
  r.srm_detected = srm.p_value < kSrmThreshold;
  if (e.selected_winner) r.selected_winner = s.variants[static_cast<size_t>(*e.selected_winner)];
}

Result<ExperimentResults> ExperimentManager::results(std::string_view id) const {
  auto e = find(id);
  if (!e) return NotFound(fmt::format("experiment '{}' not found", id));
  ExperimentResults r;
  std::lock_guard lock(e->mu);
  fill_results(*e, r);
  return r;
}

Result<std::vector<OutcomeRecord>> ExperimentManager::recent_outcomes(std::string_view id,
                                                                      size_t limit) const {
  auto e = find(id);
  if (!e) return NotFound(fmt::format("experiment '{}' not found", id));
  if (store_ != nullptr) return store_->recent_outcomes(id, limit);
  std::lock_guard lock(e->mu);
  std::vector<OutcomeRecord> out;
  for (const OutcomeRecord& r : e->log) {
    if (out.size() >= limit) break;
    out.push_back(r);
  }
  return out;
}

std::optional<ExperimentTarget> ExperimentManager::experiment_for_request(
    std::string_view route, std::string_view model) const {
  std::optional<ExperimentTarget> found;
  if (count_.load(std::memory_order_acquire) == 0) return found;
  std::shared_lock lock(mu_);
  for (const auto& [name, e] : experiments_) {
    const ExperimentSpec& s = e->spec;
    if (s.target_route.empty() && s.target_model.empty()) continue;
    if (!s.target_route.empty() && !route.empty() && s.target_route != route) continue;
    if (!s.target_model.empty() && s.target_model != model) continue;
    if (found && found->id < name) continue;
    std::lock_guard elock(e->mu);
    if (e->status == ExperimentStatus::kRunning ||
        (e->status == ExperimentStatus::kCompleted && e->spec.route_to_winner)) {
      found = ExperimentTarget{name, e->spec.variant_kind};
    }
  }
  return found;
}

std::optional<ExperimentTarget> ExperimentManager::experiment_for_model(
    std::string_view model) const {
  return experiment_for_request({}, model);
}

}  // namespace agentgate
