// Defaults, environments and the scalar parsers shared by the loaders.
#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "config/config_internal.h"

namespace agentgate {

Env ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    std::string key(name);
    const char* value = std::getenv(key.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Env MapEnv(std::map<std::string, std::string, std::less<>> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::map<std::string, TierConfig> DefaultTiers() {
  return {
      {"free", TierConfig{.per_second = 2, .per_minute = 60, .per_hour = 1000, .per_day = 10000}},
      {"basic", TierConfig{.per_second = 5, .per_minute = 150, .per_hour = 5000, .per_day = 50000}},
      {"pro",
       TierConfig{.per_second = 10, .per_minute = 300, .per_hour = 15000, .per_day = 150000}},
      {"enterprise",
       TierConfig{.per_second = 50, .per_minute = 1000, .per_hour = 50000, .per_day = 500000}},
  };
}

std::string_view AccessLogName(ServerConfig::AccessLog format) {
  switch (format) {
    case ServerConfig::AccessLog::kText:
      return "text";
    case ServerConfig::AccessLog::kJson:
      return "json";
    case ServerConfig::AccessLog::kOff:
      return "off";
  }
  return "unknown";
}

bool UpstreamConfig::serves(std::string_view model) const {
  return std::any_of(models.begin(), models.end(),
                     [&](const std::string& m) { return m == kAnyModel || m == model; });
}

Result<Config> DefaultConfig(const Env& env) {
  Config config;
  if (Status s = config_internal::ApplyEnv(env, &config); !s.ok()) return s;
  if (Status s = ValidateConfig(config); !s.ok()) return s;
  return config;
}

namespace config_internal {
namespace {

std::string_view UnitName(DurationUnit unit) {
  return unit == DurationUnit::kSeconds ? "seconds" : "milliseconds";
}

double UnitSeconds(DurationUnit unit) { return unit == DurationUnit::kSeconds ? 1.0 : 1e-3; }

std::string FormatNumber(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

}  // namespace

std::string Describe(IntLimits limits) {
  if (limits.max == kNoMax) return "an integer >= " + std::to_string(limits.min);
  return "an integer in " + std::to_string(limits.min) + ".." + std::to_string(limits.max);
}

std::string Describe(DurationLimits limits, DurationUnit unit) {
  std::string s = "a number of ";
  s += UnitName(unit);
  s += limits.allow_zero ? " in [0, " : " in (0, ";
  s += FormatNumber(kMaxDurationSeconds / UnitSeconds(unit));
  s += "]";
  return s;
}

std::optional<int64_t> ParseInt(std::string_view text, IntLimits limits) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  if (!InRange(v, limits)) return std::nullopt;
  return v;
}

std::optional<double> ParseNumber(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

std::optional<Nanos> ParseDuration(std::string_view text, DurationLimits limits,
                                   DurationUnit unit) {
  std::optional<double> v = ParseNumber(text);
  if (!v) return std::nullopt;
  double seconds = *v * UnitSeconds(unit);
  if (seconds < 0 || seconds > kMaxDurationSeconds) return std::nullopt;
  Nanos d(std::llround(seconds * 1e9));
  if (!InRange(d, limits)) return std::nullopt;
  return d;
}

std::optional<double> ParseSimilarity(std::string_view text) {
  std::optional<double> v = ParseNumber(text);
  if (!v || !IsSimilarity(*v)) return std::nullopt;
  return v;
}

std::optional<bool> ParseBool(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return false;
  return std::nullopt;
}

std::optional<ServerConfig::AccessLog> ParseAccessLog(std::string_view text) {
  for (auto f : {ServerConfig::AccessLog::kText, ServerConfig::AccessLog::kJson,
                 ServerConfig::AccessLog::kOff}) {
    if (AccessLogName(f) == text) return f;
  }
  return std::nullopt;
}

bool InRange(int64_t value, IntLimits limits) { return value >= limits.min && value <= limits.max; }

bool InRange(Nanos value, DurationLimits limits) {
  if (value < Nanos::zero() || (!limits.allow_zero && value == Nanos::zero())) return false;
  return ToSeconds(value) <= kMaxDurationSeconds;
}

bool IsSimilarity(double value) { return std::isfinite(value) && value > 0 && value <= 1; }

std::string Quote(std::string_view text) {
  constexpr size_t kMax = 60;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    char c = text[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  if (text.size() > kMax) out += "...";
  out += '"';
  return out;
}

std::string FormatDuration(Nanos d, DurationUnit unit) {
  return FormatNumber(ToSeconds(d) / UnitSeconds(unit));
}

std::string NormalizeBaseUrl(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  // OpenAI SDKs take base URLs ending in /v1; request paths already carry it.
  if (url.ends_with("/v1")) url.remove_suffix(3);
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return std::string(url);
}

std::string CheckBaseUrl(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return "must start with http:// or https://, got " + Quote(url);
  }
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') {
    return "has no host, got " + Quote(url);
  }
  if (rest.find_first_of(" \t\r\n?#") != std::string_view::npos) {
    return "must be scheme://host[:port][/path] without spaces, query or fragment, got " +
           Quote(url);
  }
  return {};
}

}  // namespace config_internal
}  // namespace agentgate
