// PerfOptions: the "performance" settings of the gateway: profiling on or off
// and the defaults of the memoizing caches (cached()).
//
// Filled by the config loader from the YAML file and then from the
// environment variables named on each field; this header only declares the
// struct and its defaults. Thread-safety: a plain value.
#pragma once

#include <chrono>
#include <cstddef>

#include "agentgate/core/clock.h"

namespace agentgate {

struct PerfOptions {
  // Whether the Profiler records calls. Off makes every profiled call cost
  // one relaxed atomic load. Env PERFORMANCE_ENABLE_PROFILING. Default true.
  bool enable_profiling = true;
  // Maximum entries of each memoizing cache made by cached().
  // Env PERFORMANCE_CACHE_SIZE. Default 1000.
  size_t cache_size = 1000;
  // TTL of memoized results; 0 keeps them until evicted.
  // Env PERFORMANCE_CACHE_TTL (seconds). Default 300 s.
  Nanos cache_ttl = std::chrono::seconds(300);
};

}  // namespace agentgate
