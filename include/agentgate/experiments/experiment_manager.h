// ExperimentManager: runs experiments. Creates and validates them, assigns
// users to variants (GrowthBook hashing, or a bandit with sticky
// assignments), counts impressions and outcomes incrementally, computes the
// results (O(variants): chi-square, mSPRT, sample-ratio mismatch, Wilson
// intervals) and completes an experiment when its test declares a winner and
// every variant has min_samples impressions.
//
//   ExperimentManager m(store.get(), {.seed = 42});
//   Status s = m.create(spec);                      // kInvalidArgument: nothing stored
//   Result<Assignment> a = m.assign("checkout", "user-1");
//   s = m.record_outcome("checkout", "user-1", true, 1.0);
//   Result<ExperimentResults> r = m.results("checkout");
//
// Impressions are counted per assign() call and conversions per successful
// outcome, so record at most one outcome per exposure. The mSPRT looks at
// every recorded outcome (continuous monitoring); with more than two variants
// it compares the best variant with each other one, Bonferroni-corrected.
// Its running p-value is kept in memory only: after a restart it starts
// again from 1 (conservative). With a store, every new impression, outcome
// and sticky assignment is one synchronous write before the call returns.
//
// Error codes: kNotFound (unknown experiment), kAlreadyExists (create with a
// taken name; record/assign on a stopped or completed experiment: "conflicts
// with stored state", HTTP 409), kInvalidArgument (bad spec, unassigned user),
// and the store's errors (nothing changes in memory when the store fails).
//
// Thread-safety: internally synchronized. One reader-writer lock guards the
// set of experiments; each experiment has its own mutex for its counts.
// Ownership: borrows the store (may be null: memory only), which must
// outlive the manager.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agentgate/core/status.h"
#include "agentgate/experiments/experiment.h"
#include "agentgate/experiments/growthbook_hash.h"
#include "agentgate/experiments/statistics.h"

namespace agentgate {

// VariantCounts: what is counted per variant. Additive (stores add deltas).
struct VariantCounts {
  uint64_t impressions = 0;
  uint64_t conversions = 0;
  uint64_t outcomes = 0;
  uint64_t value_count = 0;
  double value_sum = 0;
  double value_sum_sq = 0;
};

// ExperimentStore: where experiments persist. Implementations: SQLite
// (src/experiments/sqlite_experiment_store.h). Thread-safety: internally
// synchronized.
class ExperimentStore {
 public:
  struct Snapshot {
    ExperimentSpec spec;
    ExperimentStatus status = ExperimentStatus::kRunning;
    std::string selected_winner;
    std::vector<VariantCounts> counts;                // one per variant
    std::vector<std::pair<std::string, int>> sticky;  // user -> variant (bandits)
  };
  virtual ~ExperimentStore() = default;
  // put_experiment: inserts or replaces the definition and status.
  virtual Status put_experiment(const ExperimentSpec& spec, ExperimentStatus status,
                                std::string_view selected_winner) = 0;
  // erase_experiment: the experiment with its counts and assignments.
  virtual Status erase_experiment(std::string_view id) = 0;
  // add_counts: adds `delta` to the stored counts of one variant.
  virtual Status add_counts(std::string_view id, int variant, const VariantCounts& delta) = 0;
  // put_assignment: stores a sticky assignment unless the user already has
  // one (another instance on a shared store may have chosen first); returns
  // the stored variant, which the caller uses: the first choice wins.
  virtual Result<int> put_assignment(std::string_view id, std::string_view user, int variant) = 0;
  // load: every stored experiment.
  virtual Result<std::vector<Snapshot>> load() = 0;
};

struct ExperimentManagerOptions {
  // seed: seeds each experiment's bandit generator (mixed with its name), so
  // bandit choices are reproducible. Default 0: a random seed.
  uint64_t seed = 0;
};

// Assignment: a user's variant.
struct Assignment {
  std::string experiment;
  bool in_experiment = false;  // false: outside the coverage (variant -1)
  int variant = -1;
  std::string variant_name;
  ExperimentStatus status = ExperimentStatus::kRunning;
  // For the gateway stage: what the variant changes.
  VariantKind kind = VariantKind::kModel;
  std::string prompt;            // kSystemPrompt: the variant's system prompt
  bool client_outcomes = false;  // the client records outcomes itself
  // Not OK only from assign(..., serve_on_store_error = true) when the store
  // failed: the variant is served but neither counted nor remembered.
  Status store_error;
};

// ExperimentTarget: an experiment a proxied request enters.
struct ExperimentTarget {
  std::string id;
  VariantKind kind = VariantKind::kModel;
};

// ExperimentInfo: a definition with its state.
struct ExperimentInfo {
  ExperimentSpec spec;
  ExperimentStatus status = ExperimentStatus::kRunning;
  std::optional<std::string> selected_winner;
};

class ExperimentManager {
 public:
  explicit ExperimentManager(ExperimentStore* store, ExperimentManagerOptions options = {});
  ~ExperimentManager();
  ExperimentManager(const ExperimentManager&) = delete;
  ExperimentManager& operator=(const ExperimentManager&) = delete;

  // load: reads every stored experiment (call once, before serving).
  Status load();

  // create: validates and stores a new running experiment.
  Status create(ExperimentSpec spec);
  Result<ExperimentInfo> get(std::string_view id) const;
  std::vector<ExperimentInfo> list() const;  // sorted by name
  // stop: running -> stopped (idempotent on stopped; completed stays completed).
  Status stop(std::string_view id);
  // remove: deletes the experiment, its counts and assignments.
  Status remove(std::string_view id);

  // assign: the user's variant; counts one impression. Stable for a user:
  // hashing is deterministic; bandit choices are remembered. A completed
  // experiment with route_to_winner gives every user the winner (no
  // impression counted). kAlreadyExists when stopped. A store error fails
  // the call, unless `serve_on_store_error` (the gateway stage: a request is
  // served while the store is away): then the variant is still answered (the
  // hash, a remembered choice, or a fresh bandit choice not remembered),
  // nothing changes in memory, and Assignment::store_error says why.
  Result<Assignment> assign(std::string_view id, std::string_view user,
                            bool serve_on_store_error = false);
  // record_outcome: one outcome of the user's exposure. `value` (optional)
  // feeds the average value. kAlreadyExists when stopped or completed;
  // kInvalidArgument when the user was never assigned (bandits) or is outside
  // the coverage.
  Status record_outcome(std::string_view id, std::string_view user, bool success,
                        std::optional<double> value);
  // record_variant_outcome: the same for a known variant index (the gateway
  // stage, which assigned it).
  Status record_variant_outcome(std::string_view id, int variant, bool success,
                                std::optional<double> value);

  // results: per-variant estimates and the verdict. O(variants).
  Result<ExperimentResults> results(std::string_view id) const;

  // experiment_for_model: the running (or completed with route_to_winner)
  // experiment whose target_model is `model`, if any (the first by name).
  std::optional<ExperimentTarget> experiment_for_model(std::string_view model) const;

 private:
  struct Entry;
  std::shared_ptr<Entry> find(std::string_view id) const;
  std::shared_ptr<Entry> make_entry(ExperimentSpec spec) const;
  Status record_locked(Entry& e, int variant, bool success, std::optional<double> value);
  void fill_results(const Entry& e, ExperimentResults& r) const;  // REQUIRES: e.mu held

  ExperimentStore* const store_;  // may be null
  const ExperimentManagerOptions options_;
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Entry>, NameHash, std::equal_to<>>
      experiments_;  // GUARDED_BY(mu_)
};

}  // namespace agentgate
