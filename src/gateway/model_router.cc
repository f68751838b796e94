#include "gateway/model_router.h"

#include <algorithm>
#include <set>

namespace agentgate {

ModelRouter::ModelRouter(const std::vector<UpstreamConfig>& upstreams,
                         const RoutingConfig& routing)
    : upstreams_(upstreams), routing_(routing) {}

bool ModelRouter::in_group(size_t i, std::string_view model, bool named) const {
  const std::vector<std::string>& models = upstreams_[i].models;
  return std::find(models.begin(), models.end(), named ? model : kAnyModel) != models.end();
}

// Allocates only when the group has more than one upstream.
void ModelRouter::append_group(std::string_view model, bool fallback, uint64_t random,
                               std::vector<RouteTarget>* out) const {
  bool named = false;
  for (size_t i = 0; i < upstreams_.size() && !named; ++i) named = in_group(i, model, true);
  int64_t total = 0;
  size_t members = 0;
  for (size_t i = 0; i < upstreams_.size(); ++i) {
    if (!in_group(i, model, named)) continue;
    total += upstreams_[i].weight;
    ++members;
  }
  if (members == 0) return;
  int64_t pick = static_cast<int64_t>(random % static_cast<uint64_t>(total));
  size_t first = 0;
  for (size_t i = 0; i < upstreams_.size(); ++i) {
    if (!in_group(i, model, named)) continue;
    first = i;
    if (pick < upstreams_[i].weight) break;
    pick -= upstreams_[i].weight;
  }
  out->push_back({first, std::string(model), fallback});
  if (members == 1) return;
  // The others, heaviest first, ties in configuration order.
  std::vector<size_t> rest;
  rest.reserve(members - 1);
  for (size_t i = 0; i < upstreams_.size(); ++i) {
    if (i != first && in_group(i, model, named)) rest.push_back(i);
  }
  std::stable_sort(rest.begin(), rest.end(), [&](size_t a, size_t b) {
    return upstreams_[a].weight > upstreams_[b].weight;
  });
  for (size_t i : rest) out->push_back({i, std::string(model), fallback});
}

std::vector<RouteTarget> ModelRouter::plan(std::string_view model, uint64_t random) const {
  std::vector<RouteTarget> out;
  out.reserve(2);  // the usual plan: one target, perhaps one fallback
  append_group(model, false, random, &out);
  if (routing_.fallbacks.empty()) return out;
  auto fb = routing_.fallbacks.find(std::string(model));
  if (fb != routing_.fallbacks.end()) {
    for (const auto& f : fb->second) append_group(f, true, random >> 16, &out);
  }
  return out;
}

std::vector<std::string> ModelRouter::models() const {
  std::set<std::string> names;
  for (const auto& u : upstreams_) {
    for (const auto& m : u.models) {
      if (m != kAnyModel) names.insert(m);
    }
  }
  return {names.begin(), names.end()};
}

}  // namespace agentgate
