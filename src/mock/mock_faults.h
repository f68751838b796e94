// MockFaults: what the mock upstream does wrong, as set by POST /_mock/faults,
// and FaultPlan: what it does wrong to one request, drawn from a seeded
// generator so that tests are deterministic.
//
//   Result<MockFaults> f = ParseMockFaults(json);   // 400 naming the field
//   FaultPlan plan = PlanFaults(*f, rng);
//
// The JSON document (each key optional; `{}` clears every fault):
//   latency_ms             number >= 0, or {"min": a, "max": b} (uniform)
//   error_rate             0..1: answer `status` (default 500) in the OpenAI
//                          error shape; 429 and 503 carry Retry-After:
//                          `retry_after_s` (default 1)
//   reset_rate             0..1: close the connection without answering
//   hang_rate              0..1: never answer (until the mock stops)
//   invalid_json_rate      0..1: a 200 whose JSON body is cut short
//   stream_chunk_delay_ms  number >= 0: pause between SSE chunks
//   truncate_stream        bool, or 0..1: a stream stops half-way, without
//                          [DONE], and the connection is closed
//
// Thread-safety: plain values and pure functions; PlanFaults needs exclusive
// use of its generator.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>

#include "agentgate/core/clock.h"
#include "agentgate/core/json.h"
#include "agentgate/core/status.h"

namespace agentgate {

struct MockFaults {
  Nanos latency_min{0};         // added before anything is answered; 0 = none
  Nanos latency_max{0};         // == latency_min unless a {min, max} range was given
  double error_rate = 0;        // share of requests answered with error_status
  int error_status = 500;       // 400..599
  int retry_after_s = 1;        // Retry-After on 429 and 503 errors
  double reset_rate = 0;        // share of connections closed without an answer
  double hang_rate = 0;         // share of requests never answered
  double invalid_json_rate = 0;  // share of 200s with a broken JSON body
  Nanos stream_chunk_delay{0};  // pause between two SSE chunks
  double truncate_stream_rate = 0;  // share of streams cut short

  // any: some fault is set.
  bool any() const;
};

// ParseMockFaults: the faults described by `j` (the body of POST
// /_mock/faults). Unknown keys, wrong types and out-of-range values are
// kInvalidArgument naming the field.
Result<MockFaults> ParseMockFaults(const Json& j);

// MockFaultsToJson: `f` in the document shape ParseMockFaults reads, with
// every key present.
Json MockFaultsToJson(const MockFaults& f);

enum class FaultAction {
  kNone,         // answer normally
  kReset,        // close the connection without answering
  kHang,         // never answer
  kError,        // answer an error status in the OpenAI error shape
  kInvalidJson,  // answer 200 with a body that is not valid JSON
};

std::string_view FaultActionName(FaultAction a);

// FaultPlan: the faults one request gets.
struct FaultPlan {
  FaultAction action = FaultAction::kNone;
  Nanos latency{0};             // wait this long first
  bool truncate_stream = false;  // a streamed answer stops half-way
  Nanos stream_chunk_delay{0};
  int error_status = 500;        // with kError
  int retry_after_s = 1;         // with kError 429 or 503
};

// PlanFaults: draws one request's faults. Each rate is an independent draw,
// taken in the order reset, hang, error, invalid JSON, truncate; a rate of 0
// or 1 draws nothing, so a test that sets only rates of 1 is deterministic
// whatever the seed.
FaultPlan PlanFaults(const MockFaults& f, std::mt19937_64& rng);

// MockErrorKind: the OpenAI error type, code and message for a fault status.
struct MockErrorKind {
  std::string_view type;
  std::string_view code;
  std::string_view message;
};
MockErrorKind MockErrorKindFor(int status);

}  // namespace agentgate
