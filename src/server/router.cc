#include "server/router.h"

#include <stdexcept>

#include "server/error_response.h"

namespace agentgate {

namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 1;  // skip the leading '/'
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool IsParam(std::string_view seg) {
  return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}

}  // namespace

void Router::add(HttpMethod method, std::string pattern, Handler handler, std::string summary) {
  if (pattern.empty() || pattern[0] != '/') throw std::logic_error("route must start with /");
  Route r;
  r.method = method;
  r.pattern = std::move(pattern);
  for (auto seg : Split(r.pattern)) {
    r.segments.emplace_back(seg);
    if (IsParam(seg)) r.has_params = true;
  }
  r.handler = std::move(handler);
  r.summary = std::move(summary);
  routes_.push_back(std::move(r));
  // Rebuild the literal index (string_views point into routes_' strings).
  exact_.clear();
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (!routes_[i].has_params) exact_[routes_[i].pattern].push_back(i);
  }
}

const Router::Route* Router::match(HttpMethod method, std::string_view path, HttpRequest* req,
                                   std::string* allow) const {
  auto add_allow = [&](const Route& r) {
    if (!allow->empty()) *allow += ", ";
    *allow += HttpMethodName(r.method);
  };
  if (auto it = exact_.find(path); it != exact_.end()) {
    for (size_t i : it->second) {
      if (routes_[i].method == method ||
          (method == HttpMethod::kHead && routes_[i].method == HttpMethod::kGet)) {
        return &routes_[i];
      }
    }
    for (size_t i : it->second) add_allow(routes_[i]);
    return nullptr;
  }
  auto segs = Split(path);
  for (const Route& r : routes_) {
    if (!r.has_params || r.segments.size() != segs.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      if (IsParam(r.segments[i])) {
        ok = !segs[i].empty();
      } else {
        ok = r.segments[i] == segs[i];
      }
    }
    if (!ok) continue;
    if (r.method != method && !(method == HttpMethod::kHead && r.method == HttpMethod::kGet)) {
      add_allow(r);
      continue;
    }
    req->path_params.clear();
    for (size_t i = 0; i < segs.size(); ++i) {
      if (IsParam(r.segments[i])) {
        std::string_view name(r.segments[i]);
        req->path_params.emplace_back(name.substr(1, name.size() - 2), segs[i]);
      }
    }
    return &r;
  }
  return nullptr;
}

namespace {

// Answered: an awaitable for a response already set (no route, wrong method).
boost::asio::awaitable<void> Answered() { co_return; }

}  // namespace

// Not a coroutine itself: it hands back the route handler's coroutine, so that
// routing costs no coroutine frame of its own.
boost::asio::awaitable<void> Router::dispatch(HttpRequest& req, HttpResponse& res) const {
  std::string allow;
  const Route* r = match(req.method, req.path, &req, &allow);
  if (!r) {
    if (!allow.empty()) {
      res.route = "method_not_allowed";
      res.set_header("Allow", allow);
      SetError(res, 405, "invalid_request_error", "method_not_allowed",
               std::string("method ") + std::string(req.method_name) + " is not allowed on " +
                   std::string(req.path));
    } else {
      res.route = "unmatched";
      SetError(res, NotFound("no route for " + std::string(req.method_name) + " " +
                             std::string(req.path)));
    }
    return Answered();
  }
  res.route = r->pattern;
  return r->handler(req, res);
}

std::vector<Router::RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  for (const auto& r : routes_) out.push_back({r.method, r.pattern, r.summary});
  return out;
}

}  // namespace agentgate
