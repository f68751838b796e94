// ExperimentManager's private state, shared by its two source files:
// experiment_manager.cc (experiments, assignment, outcomes, results) and
// experiment_manager_store.cc (the write-behind to the store and the sync
// with other instances).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agentgate/experiments/experiment_manager.h"

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
  // Write-behind: counted in `counts` but not yet written.
  std::vector<VariantCounts> unflushed;                       // GUARDED_BY(mu)
  std::vector<std::pair<std::string, int>> unflushed_sticky;  // GUARDED_BY(mu)
  bool dirty = false;                                         // GUARDED_BY(mu)
  bool deleted = false;           // GUARDED_BY(mu): removed; pending writes are dropped
  std::deque<OutcomeRecord> log;  // GUARDED_BY(mu): the outcome log without a store
};

// PendingOutcome: an outcome waiting for the background thread's write.
struct ExperimentManager::PendingOutcome {
  std::shared_ptr<Entry> entry;
  OutcomeRecord record;
  VariantCounts delta;
  std::function<void(Status)> done;
};

// Background: the write-behind thread and its queue.
struct ExperimentManager::Background {
  std::mutex mu;
  std::condition_variable wake;         // the thread waits on it
  std::condition_variable flushed;      // flush() / sync() wait on it
  std::vector<PendingOutcome> durable;  // GUARDED_BY(mu)
  uint64_t requested = 0;               // GUARDED_BY(mu): flush requests
  uint64_t completed = 0;               // GUARDED_BY(mu): requests served
  bool sync_requested = false;          // GUARDED_BY(mu)
  bool stopping = false;                // GUARDED_BY(mu)
  Status last = Status::Ok();           // GUARDED_BY(mu): the last batch's status
  std::thread thread;
};

namespace experiment_detail {

// Add: a += d, field by field.
inline void Add(VariantCounts& a, const VariantCounts& d) {
  a.impressions += d.impressions;
  a.conversions += d.conversions;
  a.outcomes += d.outcomes;
  a.value_count += d.value_count;
  a.value_sum += d.value_sum;
  a.value_sum_sq += d.value_sum_sq;
}

inline bool IsZero(const VariantCounts& c) {
  return c.impressions == 0 && c.conversions == 0 && c.outcomes == 0 && c.value_count == 0;
}

}  // namespace experiment_detail

}  // namespace agentgate
