#include "gateway/model_router.h"

#include <algorithm>
#include <set>

namespace agentgate {

ModelRouter::ModelRouter(const std::vector<UpstreamConfig>& upstreams,
                         const RoutingConfig& routing)
    : upstreams_(upstreams), routing_(routing) {}

std::vector<size_t> ModelRouter::group(std::string_view model) const {
  std::vector<size_t> named, wildcard;
  for (size_t i = 0; i < upstreams_.size(); ++i) {
    for (const auto& m : upstreams_[i].models) {
      if (m == model) named.push_back(i);
      else if (m == kAnyModel) wildcard.push_back(i);
    }
  }
  // Two returns rather than ?: so that the chosen vector is moved, not copied.
  if (named.empty()) return wildcard;
  return named;
}

void ModelRouter::append_group(std::string_view model, bool fallback, uint64_t random,
                               std::vector<RouteTarget>* out) const {
  std::vector<size_t> g = group(model);
  if (g.empty()) return;
  int64_t total = 0;
  for (size_t i : g) total += upstreams_[i].weight;
  int64_t pick = static_cast<int64_t>(random % static_cast<uint64_t>(total));
  size_t first = g.front();
  for (size_t i : g) {
    if (pick < upstreams_[i].weight) {
      first = i;
      break;
    }
    pick -= upstreams_[i].weight;
  }
  out->push_back({first, std::string(model), fallback});
  std::vector<size_t> rest;
  for (size_t i : g) {
    if (i != first) rest.push_back(i);
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
