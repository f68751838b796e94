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
//   s = m.record_outcome("checkout", "user-1", true, 1.0, R"({"page":"cart"})");
//   Result<ExperimentResults> r = m.results("checkout");
//
// Impressions are counted per assign() call and conversions per successful
// outcome, so record at most one outcome per exposure. The mSPRT looks at
// every recorded outcome (continuous monitoring); with more than two variants
// it compares the best variant with each other one, Bonferroni-corrected.
// Its running p-value is kept in memory only: after a restart it starts
// again from 1 (conservative).
//
// Writes (options.write_behind, the default with a store): definitions and
// status changes (create, stop, remove, automatic completion) are written
// before the call returns. Impressions, the gateway's outcomes
// (record_variant_outcome) and sticky bandit choices are counted in memory at
// once and written by a background thread in one batch every flush_interval,
// so a crash loses at most the last interval's worth of them (a lost sticky
// choice is chosen again). record_outcome / record_outcome_async complete
// only once their outcome is written (a SQLite commit or a Redis reply), and
// count it in memory then: an acknowledged outcome is never lost, a failed
// one changes nothing. flush() waits for everything queued so far.
//
// Several instances (a store with versions: Redis): every sync_interval the
// background thread re-reads definitions, status and counts, so what another
// instance created, stopped, completed or deleted shows here within
// sync_interval (+ one Redis round trip), and results add up every
// instance's counts (theirs as of their last flush). Sticky bandit choices
// are loaded at start; a user first seen by two instances within one flush
// interval may get two different first answers, after which the choice
// written first wins everywhere (the loser adopts it at its next flush).
//
// Error codes: kNotFound (unknown experiment), kAlreadyExists (create with a
// taken name; record/assign on a stopped or completed experiment: "conflicts
// with stored state", HTTP 409), kInvalidArgument (bad spec, unassigned user,
// metadata not an object or too large), and the store's errors.
//
// Thread-safety: internally synchronized. One reader-writer lock guards the
// set of experiments; each experiment has its own mutex for its counts.
// Ownership: borrows the store (may be null: memory only) and the metrics
// registry, which must outlive the manager; owns its background thread
// (joined by the destructor after a last flush).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <atomic>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"
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

// WriteBatch: what the manager writes in one go: count deltas, new sticky
// assignments and outcome records (appended to a bounded per-experiment log).
struct WriteBatch {
  struct Count {
    std::string id;
    int variant = 0;
    VariantCounts delta;
  };
  struct Sticky {
    std::string id;
    std::string user;
    int variant = 0;
  };
  std::vector<Count> counts;
  std::vector<Sticky> sticky;
  std::vector<OutcomeRecord> outcomes;
  bool empty() const { return counts.empty() && sticky.empty() && outcomes.empty(); }
};

// ExperimentStore: where experiments persist. Implementations: SQLite
// (src/experiments/sqlite_experiment_store.h) and Redis
// (src/experiments/redis_experiment_store.h). Thread-safety: internally
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
  // erase_experiment: the experiment with its counts, assignments and outcome log.
  virtual Status erase_experiment(std::string_view id) = 0;
  // apply: writes `batch` atomically (all or nothing): adds the count deltas,
  // stores the sticky assignments unless the user already has one (the first
  // choice wins), appends the outcomes to each experiment's log and trims it
  // to its newest `outcome_log_size` records. Returns the sticky assignments
  // that lost to an existing one, with the stored variant.
  virtual Result<std::vector<WriteBatch::Sticky>> apply(const WriteBatch& batch,
                                                        size_t outcome_log_size) = 0;
  // recent_outcomes: the newest `limit` records of an experiment's log, newest first.
  virtual Result<std::vector<OutcomeRecord>> recent_outcomes(std::string_view id,
                                                             size_t limit) = 0;
  // load: every stored experiment; sticky assignments only with `with_sticky`.
  virtual Result<std::vector<Snapshot>> load(bool with_sticky = true) = 0;
  // version: grows whenever a definition or status changes in the store,
  // whoever changed it; 1 while the store holds no definition ever written
  // (new, or emptied by a Redis restart). 0: the store cannot tell (the
  // manager then never re-reads it: one process owns it).
  virtual Result<uint64_t> version() { return uint64_t{0}; }
};

struct ExperimentManagerOptions {
  // seed: seeds each experiment's bandit generator (mixed with its name), so
  // bandit choices are reproducible. Default 0: a random seed.
  uint64_t seed = 0;
  // write_behind: with a store, batch impressions, gateway outcomes and sticky
  // choices on a background thread (see above). false: every write is made
  // before the call returns. Default true.
  bool write_behind = true;
  // flush_interval: how often the background thread writes a batch (also the
  // bound on what a crash loses). Default 100 ms.
  std::chrono::milliseconds flush_interval{100};
  // sync_interval: how often a versioned store (Redis) is re-read for other
  // instances' changes; 0 disables. Default 1 s.
  std::chrono::milliseconds sync_interval{1000};
  // outcome_log_size: outcome records (with metadata) kept per experiment,
  // newest first. Default 1000.
  size_t outcome_log_size = 1000;
  // metrics: where the store counters go (may be null). Default null.
  MetricsRegistry* metrics = nullptr;
  // clock: the time of outcome records. Default: the system clock.
  const Clock* clock = nullptr;
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
};

// ExperimentManagerMetrics: the manager's store counters, declared once.
struct ExperimentManagerMetrics {
  explicit ExperimentManagerMetrics(MetricsRegistry& r);
  Counter& flushes;       // agentgate_experiment_store_flushes_total: batches written
  Counter& write_errors;  // agentgate_experiment_store_errors_total: failed batches / syncs
  Counter& syncs;         // agentgate_experiment_store_syncs_total: re-reads of a shared store
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
  // impression counted). kAlreadyExists when stopped.
  Result<Assignment> assign(std::string_view id, std::string_view user);
  // record_outcome: one outcome of the user's exposure. `value` (optional)
  // feeds the average value; `metadata` (optional) is a JSON object of at
  // most kMaxOutcomeMetadataBytes kept with the record in the outcome log.
  // kAlreadyExists when stopped or completed; kInvalidArgument when the user
  // was never assigned (bandits) or is outside the coverage. Returns once
  // the outcome is written (see above).
  Status record_outcome(std::string_view id, std::string_view user, bool success,
                        std::optional<double> value, std::string_view metadata = {});
  // record_outcome_async: the same without blocking: `done` is called once,
  // inline for errors found at once (and without a background thread),
  // otherwise on the background thread after the write.
  void record_outcome_async(std::string_view id, std::string_view user, bool success,
                            std::optional<double> value, std::string_view metadata,
                            std::function<void(Status)> done);
  // recent_outcomes: the newest `limit` outcome records of an experiment,
  // newest first (from the store; from memory without one).
  Result<std::vector<OutcomeRecord>> recent_outcomes(std::string_view id, size_t limit) const;
  // flush: waits until everything counted before the call is written.
  // Returns the last batch's status.
  Status flush();
  // sync: re-reads a versioned store now (the background thread does it
  // every sync_interval). No-op for stores without versions.
  Status sync();
  // record_variant_outcome: the same for a known variant index (the gateway
  // stage, which assigned it), without metadata or log record; written
  // behind like impressions.
  Status record_variant_outcome(std::string_view id, int variant, bool success,
                                std::optional<double> value);

  // results: per-variant estimates and the verdict. O(variants).
  Result<ExperimentResults> results(std::string_view id) const;

  // experiment_for_request: the running (or completed with route_to_winner)
  // experiment targeting a request to `route` for `model`: every target it
  // sets matches, and it sets at least one. The first by name.
  std::optional<ExperimentTarget> experiment_for_request(std::string_view route,
                                                         std::string_view model) const;
  // experiment_for_model: experiment_for_request for any route.
  std::optional<ExperimentTarget> experiment_for_model(std::string_view model) const;

 private:
  struct Entry;
  struct Background;
  struct PendingOutcome;
  std::shared_ptr<Entry> find(std::string_view id) const;
  std::shared_ptr<Entry> make_entry(ExperimentSpec spec) const;
  void restore_counts(Entry& e, const std::vector<VariantCounts>& counts) const;  // REQUIRES: e.mu
  // count_outcome_locked: counts in memory, looks, selects a winner.
  void count_outcome_locked(Entry& e, int variant, bool success, std::optional<double> value);
  void fill_results(const Entry& e, ExperimentResults& r) const;  // REQUIRES: e.mu held
  // write_now: a synchronous write (no background thread).
  Result<std::vector<WriteBatch::Sticky>> write_now(const WriteBatch& batch);
  Status flush_once();                        // the background thread's batch
  Status sync_once();
  // restore_definitions: writes every experiment in memory back to the
  // store (after the store lost its data).
  Status restore_definitions();
  void note_definition_change();

  ExperimentStore* const store_;  // may be null
  const ExperimentManagerOptions options_;
  const Clock& clock_;
  std::unique_ptr<ExperimentManagerMetrics> metrics_;  // null without options.metrics
  std::unique_ptr<Background> bg_;  // null without a store or write_behind
  std::mutex sync_mu_;               // serializes sync_once()
  uint64_t synced_version_ = 0;      // GUARDED_BY(sync_mu_)
  // shared_store_: the store has versions (Redis, shared by instances): a
  // fresh bandit choice is checked against it before it is served.
  std::atomic<bool> shared_store_{false};
  // definition_changes_: local create/stop/remove/completion count; a sync
  // that raced one is discarded (the next one sees it).
  std::atomic<uint64_t> definition_changes_{0};
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Entry>, NameHash, std::equal_to<>>
      experiments_;  // GUARDED_BY(mu_)
  // experiments_.size(), stored under mu_ after each change: a request finds
  // "no experiments" without taking the lock.
  std::atomic<size_t> count_{0};
  void publish_count_locked() { count_.store(experiments_.size(), std::memory_order_release); }
};

}  // namespace agentgate
