// ModelRouter: which upstream answers which model.
//
// Each model is served by a group: the upstreams that list it (or "*" when
// none lists it by name). plan() orders the attempts for one request: one
// member of the model's group chosen at random by weight (load balancing),
// then the group's other members by weight, then each fallback model of
// routing.fallbacks in turn, with its own group ordered the same way.
//
// Thread-safety: immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace agentgate {

struct RouteTarget {
  size_t upstream = 0;  // index into the configured upstreams
  std::string model;    // the model to ask that upstream for
  bool fallback = false;  // a fallback model, not the one the client asked for
};

class ModelRouter {
 public:
  ModelRouter(const std::vector<UpstreamConfig>& upstreams, const RoutingConfig& routing);

  // plan: the attempts for `model`, in order; empty when nothing serves it.
  // `random` picks the weighted first choice (inject it: tests are exact).
  std::vector<RouteTarget> plan(std::string_view model, uint64_t random) const;

  // models: every model named in the configuration (without "*").
  std::vector<std::string> models() const;

 private:
  // in_group: whether upstream `i` serves `model`'s group: it names the model
  // (`named`: some upstream does), or it serves every model (none does).
  bool in_group(size_t i, std::string_view model, bool named) const;
  void append_group(std::string_view model, bool fallback, uint64_t random,
                    std::vector<RouteTarget>* out) const;

  std::vector<UpstreamConfig> upstreams_;
  RoutingConfig routing_;
};

}  // namespace agentgate
