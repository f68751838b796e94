// Experiment: the definition of an A/B test (or bandit) and its results, as
// values. ExperimentManager (experiment_manager.h) runs them.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agentgate/core/json.h"
#include "agentgate/core/status.h"
#include "agentgate/experiments/bandit.h"

namespace agentgate {

// ExperimentStatus: the lifecycle of an experiment.
enum class ExperimentStatus {
  kRunning,    // assigning users and counting outcomes
  kStopped,    // stopped by an operator: no new assignments or outcomes
  kCompleted,  // a winner was selected automatically; outcomes are no longer counted
};
std::string_view ExperimentStatusName(ExperimentStatus s);  // "running", "stopped", "completed"

// SignificanceTest: which test decides the winner.
enum class SignificanceTest {
  kChiSquare,  // fixed-horizon Pearson chi-square on variants x {converted, not}
  kMsprt,      // always-valid mixture SPRT, best variant against each other one
};
std::string_view SignificanceTestName(SignificanceTest t);  // "chi_square", "msprt"

// VariantKind: what a variant changes when the gateway stage applies it.
enum class VariantKind {
  kModel,         // the variant is the model name sent upstream
  kSystemPrompt,  // the variant's prompt becomes the request's system message
};

// ExperimentSpec: what an operator creates. Field defaults are the API's.
struct ExperimentSpec {
  // name: the experiment's id, 1-64 characters of [A-Za-z0-9._-]. Required.
  std::string name;
  std::string description;
  // variants: at least two distinct names. Required.
  std::vector<std::string> variants;
  // traffic_split: one weight per variant, each in [0, 1], summing to 1
  // within 1e-9. Default: equal weights.
  std::vector<double> traffic_split;
  // bandit_algorithm: kNone (hash the split) or a bandit policy for new
  // users (sticky afterwards). Default kNone.
  BanditAlgorithm bandit_algorithm = BanditAlgorithm::kNone;
  double epsilon = 0.1;  // epsilon-greedy exploration, in [0, 1]. Default 0.1.
  // seed: the GrowthBook hash seed. Default: the name.
  std::string seed;
  double coverage = 1.0;  // share of users included, in (0, 1]. Default 1.
  SignificanceTest test = SignificanceTest::kChiSquare;
  bool yates = false;       // Yates' correction for 2 variants (chi-square). Default false.
  double alpha = 0.05;      // significance level, in (0, 0.5]. Default 0.05.
  double msprt_tau = 0.02;  // mSPRT mixing standard deviation (> 0). Default 0.02.
  // min_samples: impressions every variant needs before a winner is selected
  // automatically; 0 disables automated selection. Default 0.
  int64_t min_samples = 0;
  // route_to_winner: once completed, assign every user the winner. Default false.
  bool route_to_winner = false;
  // Gateway integration (ignored by the library itself). API: `target:
  // {route?, model?}` (or the older top-level `target_model`). A proxied
  // request enters the experiment when it matches every target given; with
  // neither, the experiment is API only.
  // target_route: a proxy route, one of kExperimentRoutes. Default empty (any).
  std::string target_route;
  // target_model: the request's `model` (a model alias), 1-256 characters.
  // Default empty (any).
  std::string target_model;
  VariantKind variant_kind = VariantKind::kModel;
  // prompts: with kSystemPrompt, one system prompt per variant.
  std::vector<std::string> prompts;
  // client_outcomes: the client records outcomes through the API; the stage
  // then only assigns. Default false (the stage records 2xx + latency).
  bool client_outcomes = false;
};

// kExperimentRoutes: the routes an experiment can target.
inline constexpr std::string_view kExperimentRoutes[] = {"/v1/chat/completions", "/v1/completions",
                                                         "/v1/embeddings"};

// kMaxOutcomeMetadataBytes: the largest outcome metadata (serialized JSON).
inline constexpr size_t kMaxOutcomeMetadataBytes = 4096;

// OutcomeRecord: one outcome recorded through record_outcome (the API), as
// kept in the store's bounded per-experiment log with its metadata.
struct OutcomeRecord {
  std::string experiment;
  std::string user;
  int variant = -1;
  std::string variant_name;
  bool success = false;
  std::optional<double> value;
  std::string metadata;   // serialized JSON object; empty: none
  int64_t time_ms = 0;    // wall-clock time of recording (Unix ms)
};

Json OutcomeRecordToJson(const OutcomeRecord& r);
// OutcomeRecordFromJson: the inverse (for stores); kInvalidArgument when malformed.
Result<OutcomeRecord> OutcomeRecordFromJson(const Json& j);

// ExperimentSpecFromJson: parses and validates an API body; kInvalidArgument
// with the reason. ExperimentSpecToJson is its inverse.
Result<ExperimentSpec> ExperimentSpecFromJson(const Json& j);
Json ExperimentSpecToJson(const ExperimentSpec& spec);
// ValidateExperimentSpec: the rules above; fills the defaults (split, seed).
Status ValidateExperimentSpec(ExperimentSpec& spec);

// VariantResult: one variant's counts and estimates.
struct VariantResult {
  std::string name;
  uint64_t impressions = 0;
  uint64_t conversions = 0;
  double conversion_rate = 0;
  double ci_low = 0;  // 95 % Wilson interval of the conversion rate
  double ci_high = 1;
  uint64_t outcomes = 0;    // outcomes recorded (successes and failures)
  double value_mean = 0;    // mean of the recorded values
  double value_stderr = 0;  // its standard error
};

// ExperimentResults: the verdict and the numbers behind it.
struct ExperimentResults {
  std::string id;
  ExperimentStatus status = ExperimentStatus::kRunning;
  std::vector<VariantResult> variants;
  SignificanceTest test = SignificanceTest::kChiSquare;  // the test behind the verdict
  double p_value = 1;                                    // of that test
  double confidence = 0;                                 // 1 - p_value
  bool significant = false;                              // p_value < alpha
  std::optional<std::string> winner;                     // the best variant when significant
  // Both tests, whichever decides:
  double chi_square = 0;
  int chi_square_df = 0;
  double chi_square_p = 1;
  bool yates = false;
  double msprt_p = 1;  // always-valid p-value (running minimum)
  // Sample ratio mismatch: impressions against the split.
  double srm_chi_square = 0;
  double srm_p = 1;
  bool srm_detected = false;                   // srm_p < 0.001
  std::optional<std::string> selected_winner;  // set when completed automatically
};

Json ExperimentResultsToJson(const ExperimentResults& r);

}  // namespace agentgate
