#include "agentgate/experiments/experiment_manager.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace agentgate {

// Entry: one experiment. `spec` and `ranges` are constant after creation;
// the rest is guarded by `mu`.
struct ExperimentManager::Entry {
  ExperimentSpec spec;
  std::vector<BucketRange> ranges;
  mutable std::mutex mu;
  ExperimentStatus status = ExperimentStatus::kRunning;  // GUARDED_BY(mu)
  std::optional<int> selected_winner;                    // GUARDED_BY(mu)
  std::vector<VariantCounts> counts;                     // GUARDED_BY(mu)
  std::vector<RunningMoments> values;                    // GUARDED_BY(mu)
  std::unordered_map<std::string, int> sticky;           // GUARDED_BY(mu): bandits
  std::mt19937_64 rng;                                   // GUARDED_BY(mu)
  // Always-valid tests, one per unordered pair (i < j) at index i * k + j.
  mutable std::vector<SequentialTest> pairs;  // GUARDED_BY(mu)
};

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

}  // namespace

ExperimentManager::ExperimentManager(ExperimentStore* store, ExperimentManagerOptions options)
    : store_(store), options_(options) {}

ExperimentManager::~ExperimentManager() = default;

std::shared_ptr<ExperimentManager::Entry> ExperimentManager::make_entry(ExperimentSpec spec) const {
  auto e = std::make_shared<Entry>();
  e->ranges = GrowthBookBucketRanges(spec.traffic_split, spec.coverage);
  const size_t k = spec.variants.size();
  e->counts.assign(k, {});
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

Status ExperimentManager::load() {
  if (store_ == nullptr) return Status::Ok();
  auto snaps = store_->load();
  if (!snaps.ok()) return snaps.status();
  std::unique_lock lock(mu_);
  for (ExperimentStore::Snapshot& s : *snaps) {
    if (Status v = ValidateExperimentSpec(s.spec); !v.ok()) {
      return Internal("stored experiment '" + s.spec.name + "' is invalid: " + v.message());
    }
    auto e = make_entry(std::move(s.spec));
    e->status = s.status;
    const size_t k = e->spec.variants.size();
    for (size_t i = 0; i < k && i < s.counts.size(); ++i) {
      const VariantCounts& c = s.counts[i];
      e->counts[i] = c;
      if (c.value_count > 0) {
        const double n = static_cast<double>(c.value_count);
        const double mean = c.value_sum / n;
        e->values[i].restore(c.value_count, mean,
                             std::max(0.0, c.value_sum_sq - c.value_sum * mean));
      }
    }
    for (auto& [user, v] : s.sticky) {
      if (v >= 0 && static_cast<size_t>(v) < k) e->sticky.emplace(std::move(user), v);
    }
    for (size_t i = 0; i < k; ++i) {
      if (e->spec.variants[i] == s.selected_winner) e->selected_winner = static_cast<int>(i);
    }
    const std::string name = e->spec.name;
    experiments_[name] = std::move(e);
  }
  return Status::Ok();
}

Status ExperimentManager::create(ExperimentSpec spec) {
  if (Status s = ValidateExperimentSpec(spec); !s.ok()) return s;
  std::unique_lock lock(mu_);
  if (experiments_.contains(spec.name)) {
    return AlreadyExists("experiment '" + spec.name + "' already exists");
  }
  if (store_ != nullptr) {
    if (Status s = store_->put_experiment(spec, ExperimentStatus::kRunning, ""); !s.ok()) return s;
  }
  auto e = make_entry(std::move(spec));
  const std::string name = e->spec.name;
  experiments_.emplace(name, std::move(e));
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
  if (store_ != nullptr) {
    if (Status s = store_->put_experiment(e->spec, ExperimentStatus::kStopped, ""); !s.ok())
      return s;
  }
  e->status = ExperimentStatus::kStopped;
  return Status::Ok();
}

Status ExperimentManager::remove(std::string_view id) {
  std::unique_lock lock(mu_);
  auto it = experiments_.find(id);
  if (it == experiments_.end()) return NotFound(fmt::format("experiment '{}' not found", id));
  if (store_ != nullptr) {
    if (Status s = store_->erase_experiment(id); !s.ok()) return s;
  }
  experiments_.erase(it);
  return Status::Ok();
}

Result<Assignment> ExperimentManager::assign(std::string_view id, std::string_view user,
                                             bool serve_on_store_error) {
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
    Status failed;
    if (store_ != nullptr) {
      if (fresh_sticky) {  // another instance may have chosen first: its choice stands
        Result<int> stored = store_->put_assignment(e->spec.name, user, v);
        if (!stored.ok()) {
          failed = stored.status();
        } else if (*stored >= 0 && static_cast<size_t>(*stored) < e->spec.variants.size()) {
          v = *stored;
        }
      }
      if (failed.ok()) failed = store_->add_counts(e->spec.name, v, {.impressions = 1});
    }
    if (!failed.ok()) {
      if (!serve_on_store_error) return failed;
      a.store_error = std::move(failed);  // served, neither counted nor remembered
    } else {
      if (fresh_sticky) e->sticky.emplace(std::string(user), v);
      ++e->counts[static_cast<size_t>(v)].impressions;
    }
  }
  a.in_experiment = true;
  a.variant = v;
  a.variant_name = e->spec.variants[static_cast<size_t>(v)];
  if (a.kind == VariantKind::kSystemPrompt) a.prompt = e->spec.prompts[static_cast<size_t>(v)];
  return a;
}

Status ExperimentManager::record_outcome(std::string_view id, std::string_view user, bool success,
                                         std::optional<double> value) {
  auto e = find(id);
  if (!e) return NotFound(fmt::format("experiment '{}' not found", id));
  std::lock_guard lock(e->mu);
  if (e->status != ExperimentStatus::kRunning) return Conflict(id, e->status);
  int v = -1;
  if (e->spec.bandit_algorithm == BanditAlgorithm::kNone) {
    v = GrowthBookChooseVariation(GrowthBookHashV2(e->spec.seed, user), e->ranges);
    if (v < 0)
      return InvalidArgument(fmt::format("user '{}' is outside experiment '{}'", user, id));
  } else {
    auto it = e->sticky.find(std::string(user));
    if (it == e->sticky.end()) {
      return InvalidArgument(
          fmt::format("user '{}' has no assignment in experiment '{}'", user, id));
    }
    v = it->second;
  }
  return record_locked(*e, v, success, value);
}

Status ExperimentManager::record_variant_outcome(std::string_view id, int variant, bool success,
                                                 std::optional<double> value) {
  auto e = find(id);
  if (!e) return NotFound(fmt::format("experiment '{}' not found", id));
  std::lock_guard lock(e->mu);
  if (e->status != ExperimentStatus::kRunning) return Conflict(id, e->status);
  if (variant < 0 || static_cast<size_t>(variant) >= e->spec.variants.size()) {
    return InvalidArgument(fmt::format("variant index {} out of range", variant));
  }
  return record_locked(*e, variant, success, value);
}

Status ExperimentManager::record_locked(Entry& e, int variant, bool success,
                                        std::optional<double> value) {
  if (value && !std::isfinite(*value)) return InvalidArgument("value: expected a finite number");
  VariantCounts delta{.conversions = success ? 1u : 0u, .outcomes = 1};
  if (value) delta.value_count = 1, delta.value_sum = *value, delta.value_sum_sq = *value * *value;
  if (store_ != nullptr) {
    if (Status s = store_->add_counts(e.spec.name, variant, delta); !s.ok()) return s;
  }
  VariantCounts& c = e.counts[static_cast<size_t>(variant)];
  c.conversions += delta.conversions;
  c.outcomes += 1;
  if (value) {
    c.value_count += 1, c.value_sum += *value, c.value_sum_sq += *value * *value;
    e.values[static_cast<size_t>(variant)].add(*value);
  }
  // Continuous monitoring: every outcome is a look for the sequential tests.
  const size_t k = e.counts.size();
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = i + 1; j < k; ++j)
      e.pairs[i * k + j].look(Conv(e.counts[i]), Conv(e.counts[j]));
  }
  // Automated winner selection.
  if (e.spec.min_samples <= 0) return Status::Ok();
  for (const VariantCounts& vc : e.counts) {
    if (vc.impressions < static_cast<uint64_t>(e.spec.min_samples)) return Status::Ok();
  }
  ExperimentResults r;
  fill_results(e, r);
  if (!r.significant || !r.winner) return Status::Ok();
  int winner =
      static_cast<int>(std::find(e.spec.variants.begin(), e.spec.variants.end(), *r.winner) -
                       e.spec.variants.begin());
  if (store_ != nullptr) {
    if (Status s = store_->put_experiment(e.spec, ExperimentStatus::kCompleted, *r.winner);
        !s.ok()) {
      return Status::Ok();  // the outcome is counted; completion is retried on the next one
    }
  }
  e.status = ExperimentStatus::kCompleted;
  e.selected_winner = winner;
  return Status::Ok();
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

std::optional<ExperimentTarget> ExperimentManager::experiment_for_model(
    std::string_view model) const {
  std::optional<ExperimentTarget> found;
  std::shared_lock lock(mu_);
  for (const auto& [name, e] : experiments_) {
    if (e->spec.target_model.empty() || e->spec.target_model != model) continue;
    if (found && found->id < name) continue;
    std::lock_guard elock(e->mu);
    if (e->status == ExperimentStatus::kRunning ||
        (e->status == ExperimentStatus::kCompleted && e->spec.route_to_winner)) {
      found = ExperimentTarget{name, e->spec.variant_kind};
    }
  }
  return found;
}

}  // namespace agentgate
