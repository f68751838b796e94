#include "mock/mock_faults.h"

#include <cmath>
#include <string>

namespace agentgate {

namespace {

constexpr double kMaxDelayMs = 3600.0 * 1000.0;  // one hour

Nanos FromMillis(double ms) {
  return std::chrono::duration_cast<Nanos>(std::chrono::duration<double, std::milli>(ms));
}

double ToMillis(Nanos d) { return std::chrono::duration<double, std::milli>(d).count(); }

Status FieldError(std::string_view field, std::string_view what) {
  return InvalidArgument("fault field '" + std::string(field) + "' " + std::string(what));
}

// Delay: a number of milliseconds in [0, one hour].
Result<Nanos> Delay(const Json& v, std::string_view field) {
  if (!v.is_number()) return FieldError(field, "must be a number of milliseconds");
  double ms = v.get<double>();
  if (!std::isfinite(ms) || ms < 0 || ms > kMaxDelayMs) {
    return FieldError(field, "must be between 0 and 3600000 milliseconds");
  }
  return FromMillis(ms);
}

Result<double> Rate(const Json& v, std::string_view field) {
  if (!v.is_number()) return FieldError(field, "must be a number between 0 and 1");
  double r = v.get<double>();
  if (!std::isfinite(r) || r < 0 || r > 1) return FieldError(field, "must be between 0 and 1");
  return r;
}

Result<int64_t> Integer(const Json& v, std::string_view field, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) return FieldError(field, "must be an integer");
  int64_t n = v.get<int64_t>();
  if (n < lo || n > hi) {
    return FieldError(field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return n;
}

Status ParseLatency(const Json& v, MockFaults& f) {
  if (v.is_number()) {
    Result<Nanos> d = Delay(v, "latency_ms");
    if (!d.ok()) return d.status();
    f.latency_min = f.latency_max = *d;
    return Status::Ok();
  }
  if (!v.is_object()) return FieldError("latency_ms", "must be a number or {\"min\", \"max\"}");
  for (const auto& [key, value] : v.items()) {
    if (key != "min" && key != "max") return FieldError("latency_ms." + key, "is not known");
  }
  auto min_it = v.find("min");
  auto max_it = v.find("max");
  if (min_it == v.end() || max_it == v.end()) {
    return FieldError("latency_ms", "needs both 'min' and 'max'");
  }
  Result<Nanos> lo = Delay(*min_it, "latency_ms.min");
  if (!lo.ok()) return lo.status();
  Result<Nanos> hi = Delay(*max_it, "latency_ms.max");
  if (!hi.ok()) return hi.status();
  if (*hi < *lo) return FieldError("latency_ms.max", "must not be below 'min'");
  f.latency_min = *lo;
  f.latency_max = *hi;
  return Status::Ok();
}

// Draw: true with probability `rate`; draws nothing for 0 and 1.
bool Draw(double rate, std::mt19937_64& rng) {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < rate;
}

}  // namespace

bool MockFaults::any() const {
  return latency_max.count() > 0 || error_rate > 0 || reset_rate > 0 || hang_rate > 0 ||
         invalid_json_rate > 0 || stream_chunk_delay.count() > 0 || truncate_stream_rate > 0;
}

Result<MockFaults> ParseMockFaults(const Json& j) {
  if (!j.is_object()) return InvalidArgument("faults must be a JSON object");
  MockFaults f;
  for (const auto& [key, v] : j.items()) {
    if (v.is_null()) continue;  // null: the fault stays off
    if (key == "latency_ms") {
      if (Status s = ParseLatency(v, f); !s.ok()) return s;
    } else if (key == "error_rate" || key == "reset_rate" || key == "hang_rate" ||
               key == "invalid_json_rate") {
      Result<double> r = Rate(v, key);
      if (!r.ok()) return r.status();
      double& target = key == "error_rate"   ? f.error_rate
                       : key == "reset_rate" ? f.reset_rate
                       : key == "hang_rate"  ? f.hang_rate
                                             : f.invalid_json_rate;
      target = *r;
    } else if (key == "status") {
      Result<int64_t> n = Integer(v, key, 400, 599);
      if (!n.ok()) return n.status();
      f.error_status = static_cast<int>(*n);
    } else if (key == "retry_after_s") {
      Result<int64_t> n = Integer(v, key, 0, 86400);
      if (!n.ok()) return n.status();
      f.retry_after_s = static_cast<int>(*n);
    } else if (key == "stream_chunk_delay_ms") {
      Result<Nanos> d = Delay(v, key);
      if (!d.ok()) return d.status();
      f.stream_chunk_delay = *d;
    } else if (key == "truncate_stream") {
      if (v.is_boolean()) {
        f.truncate_stream_rate = v.get<bool>() ? 1.0 : 0.0;
      } else {
        Result<double> r = Rate(v, key);
        if (!r.ok()) return FieldError(key, "must be a boolean or a number between 0 and 1");
        f.truncate_stream_rate = *r;
      }
    } else {
      return FieldError(key, "is not known");
    }
  }
  return f;
}

Json MockFaultsToJson(const MockFaults& f) {
  Json latency;
  if (f.latency_min == f.latency_max) {
    latency = ToMillis(f.latency_min);
  } else {
    latency = {{"min", ToMillis(f.latency_min)}, {"max", ToMillis(f.latency_max)}};
  }
  return {{"latency_ms", latency},
          {"error_rate", f.error_rate},
          {"status", f.error_status},
          {"retry_after_s", f.retry_after_s},
          {"reset_rate", f.reset_rate},
          {"hang_rate", f.hang_rate},
          {"invalid_json_rate", f.invalid_json_rate},
          {"stream_chunk_delay_ms", ToMillis(f.stream_chunk_delay)},
          {"truncate_stream", f.truncate_stream_rate}};
}

std::string_view FaultActionName(FaultAction a) {
  switch (a) {
    case FaultAction::kNone: return "none";
    case FaultAction::kReset: return "reset";
    case FaultAction::kHang: return "hang";
    case FaultAction::kError: return "error";
    case FaultAction::kInvalidJson: return "invalid_json";
  }
  return "none";
}

FaultPlan PlanFaults(const MockFaults& f, std::mt19937_64& rng) {
  FaultPlan plan;
  plan.stream_chunk_delay = f.stream_chunk_delay;
  plan.error_status = f.error_status;
  plan.retry_after_s = f.retry_after_s;
  if (f.latency_max > f.latency_min) {
    std::uniform_int_distribution<int64_t> d(f.latency_min.count(), f.latency_max.count());
    plan.latency = Nanos(d(rng));
  } else {
    plan.latency = f.latency_min;
  }
  if (Draw(f.reset_rate, rng)) {
    plan.action = FaultAction::kReset;
  } else if (Draw(f.hang_rate, rng)) {
    plan.action = FaultAction::kHang;
  } else if (Draw(f.error_rate, rng)) {
    plan.action = FaultAction::kError;
  } else if (Draw(f.invalid_json_rate, rng)) {
    plan.action = FaultAction::kInvalidJson;
  }
  plan.truncate_stream = plan.action == FaultAction::kNone && Draw(f.truncate_stream_rate, rng);
  return plan;
}

MockErrorKind MockErrorKindFor(int status) {
  switch (status) {
    case 400: return {"invalid_request_error", "invalid_request", "Injected fault: bad request"};
    case 401:
      return {"authentication_error", "invalid_api_key", "Injected fault: invalid API key"};
    case 403: return {"permission_error", "permission_denied", "Injected fault: forbidden"};
    case 404: return {"not_found_error", "model_not_found", "Injected fault: not found"};
    case 408: return {"timeout_error", "request_timeout", "Injected fault: request timeout"};
    case 409: return {"conflict_error", "conflict", "Injected fault: conflict"};
    case 413:
      return {"invalid_request_error", "request_too_large", "Injected fault: request too large"};
    case 422: return {"invalid_request_error", "unprocessable", "Injected fault: unprocessable"};
    case 429:
      return {"rate_limit_error", "rate_limit_exceeded", "Injected fault: rate limit reached"};
    case 500: return {"server_error", "internal_error", "Injected fault: internal server error"};
    case 502: return {"server_error", "bad_gateway", "Injected fault: bad gateway"};
    case 503:
      return {"server_error", "service_unavailable", "Injected fault: the engine is overloaded"};
    case 504: return {"server_error", "gateway_timeout", "Injected fault: gateway timeout"};
  }
  if (status >= 500) return {"server_error", "server_error", "Injected fault: server error"};
  return {"invalid_request_error", "invalid_request", "Injected fault: client error"};
}

}  // namespace agentgate
