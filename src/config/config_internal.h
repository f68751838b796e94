// Internal to src/config/: the limits every numeric key is checked against and
// the scalar parsers shared by the YAML loader, the environment overlay and
// ValidateConfig, so that the three agree on ranges and on wording.
//
// Messages follow one shape: `<key or VAR>: expected <Describe(limits)>, got
// <value>`.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "agentgate/core/clock.h"
#include "agentgate/core/status.h"
#include "config/config.h"

namespace agentgate::config_internal {

// IntLimits: an inclusive integer range.
struct IntLimits {
  int64_t min;
  int64_t max;
};

inline constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();
inline constexpr int64_t kIntMax = std::numeric_limits<int>::max();

inline constexpr IntLimits kPortLimits{1, 65535};
inline constexpr IntLimits kThreadsLimits{0, 4096};
inline constexpr IntLimits kBytesLimits{1, kNoMax};       // body/header limits
inline constexpr IntLimits kCountLimits{1, kNoMax};       // sizes, connections
inline constexpr IntLimits kRedisDbLimits{0, kIntMax};    // redis.dbs.*
inline constexpr IntLimits kWeightLimits{1, 1000000};     // upstreams[].weight
inline constexpr IntLimits kPoolLimits{1, 1000000};       // upstreams[].max_connections
inline constexpr IntLimits kThresholdLimits{1, 1000000};  // breaker thresholds
inline constexpr IntLimits kAttemptsLimits{1, 100};       // error_recovery.max_attempts
inline constexpr IntLimits kProbeLimits{1, 1000};           // circuit_breaker.half_open_max_probes
inline constexpr IntLimits kPercentLimits{0, 100};          // error_recovery.retry_budget_percent
inline constexpr IntLimits kFloorLimits{0, 1000000};        // error_recovery.retry_budget_min_retries
inline constexpr IntLimits kDlqLimits{1, 10000000};         // error_recovery.dlq_max_entries
inline constexpr IntLimits kTierLimits{0, kNoMax};        // rate_limit.tiers.*.*

// DurationUnit: the unit a key or variable is written in.
enum class DurationUnit { kSeconds, kMilliseconds };

// DurationLimits: (0, max] or [0, max]; max is one year for every duration.
struct DurationLimits {
  bool allow_zero;
};
inline constexpr DurationLimits kPositive{false};
inline constexpr DurationLimits kNonNegative{true};
inline constexpr double kMaxDurationSeconds = 365.0 * 24 * 3600;

// Describe: "an integer in 1..65535", "an integer >= 1".
std::string Describe(IntLimits limits);
// Describe: "a number of seconds in (0, 31536000]".
std::string Describe(DurationLimits limits, DurationUnit unit);
// kSimilarityDescription: the range of cache.similarity_threshold.
inline constexpr std::string_view kSimilarityDescription = "a number in (0, 1]";

// ParseInt: a decimal integer (optional '-' or '+'), whole string; nullopt
// otherwise or when outside `limits`.
std::optional<int64_t> ParseInt(std::string_view text, IntLimits limits);
// ParseNumber: a finite decimal number (fraction and exponent allowed).
std::optional<double> ParseNumber(std::string_view text);
// ParseDuration: a number in `unit` within `limits`.
std::optional<Nanos> ParseDuration(std::string_view text, DurationLimits limits, DurationUnit unit);
// ParseSimilarity: a number in (0, 1].
std::optional<double> ParseSimilarity(std::string_view text);
// ParseBool: true/false, yes/no, on/off, 1/0 (any case).
std::optional<bool> ParseBool(std::string_view text);
// ParseAccessLog: "text", "json" or "off".
std::optional<ServerConfig::AccessLog> ParseAccessLog(std::string_view text);

// InRange / InRange: the checks ValidateConfig applies to parsed values.
bool InRange(int64_t value, IntLimits limits);
bool InRange(Nanos value, DurationLimits limits);
bool IsSimilarity(double value);

// Quote: `text` in double quotes, escaped, cut to 60 characters.
std::string Quote(std::string_view text);
// FormatDuration: `d` as a plain number in `unit` ("1.5", "300").
std::string FormatDuration(Nanos d, DurationUnit unit);

// NormalizeBaseUrl: removes trailing '/'.
std::string NormalizeBaseUrl(std::string_view url);
// CheckBaseUrl: empty when `url` is http(s)://host..., else what is wrong.
std::string CheckBaseUrl(std::string_view url);

// ApplyEnv: layer 3. Resolves upstreams[].api_key_env, applies the
// documented variables, adds the OPENAI_* default upstream when none is
// configured. Errors name the variable (or the api_key_env key path).
Status ApplyEnv(const Env& env, Config* config);

}  // namespace agentgate::config_internal
