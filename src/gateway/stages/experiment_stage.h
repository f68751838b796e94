// ExperimentStage: puts proxied requests into A/B experiments.
//
// Runs after the rate limits and before the cache (so a cached answer is
// still the variant's). A request matching an experiment's target (its
// route, its `model` alias, or both: ExperimentManager::experiment_for_request)
// is assigned a variant for its user (the authenticated user id): a model variant rewrites `model`; a system-prompt variant (chat
// completions only) replaces the first system message or inserts one. Every
// answer of an assigned request carries X-Experiment and X-Variant. On the
// way back the outcome is recorded automatically, success = a 2xx answer and
// value = the latency in milliseconds, unless the experiment has
// client_outcomes (the client records through the admin API).
//
// Requests without a user id (dead-letter replays, which skip
// authenticate) pass through unassigned.
//
// The stage never waits for the store: impressions and outcomes are counted
// in memory and written behind (ExperimentManager).
//
// Failures of the experiment store never fail the request: the request goes
// on unassigned (or unrecorded) and agentgate_experiment_errors_total counts it.
//
// Thread-safety: immutable; the manager is internally synchronized.
// Ownership: borrows the manager and clock, which outlive the stage.
#pragma once

#include <string>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"
#include "agentgate/experiments/experiment_manager.h"
#include "gateway/stage.h"

namespace agentgate {

// ExperimentStageMetrics: the stage's counters, declared once.
struct ExperimentStageMetrics {
  explicit ExperimentStageMetrics(MetricsRegistry& r);
  Counter& assigned;  // agentgate_experiment_requests_total{outcome="assigned"}
  Counter& recorded;  // agentgate_experiment_outcomes_total
  Counter& errors;    // agentgate_experiment_errors_total
};

class ExperimentStage final : public Stage {
 public:
  ExperimentStage(ExperimentManager& manager, const Clock& clock, MetricsRegistry& metrics);

  std::string_view name() const override { return "experiment"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) override;

 private:
  ExperimentManager& manager_;
  const Clock& clock_;
  ExperimentStageMetrics metrics_;
};

// SetSystemPrompt: makes `prompt` the first system message of the chat
// completion `body` (replacing the content of a leading system message, or
// inserting one). kInvalidArgument when the body has no `messages` array.
Status SetSystemPrompt(std::string& body, std::string_view prompt);

}  // namespace agentgate
