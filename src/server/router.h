// Router: maps (method, path) to a handler. Patterns are literal segments or
// `{name}` parameters: "/api/v1/keys/{id}". A path that matches no pattern is
// 404; one that matches with another method is 405 with an Allow header.
// Both answers use the OpenAI error shape.
//
// Thread-safety: add() only before serving; dispatch() concurrently after.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/http_types.h"

namespace agentgate {

class Router {
 public:
  struct RouteInfo {
    HttpMethod method;
    std::string pattern;
    std::string summary;  // one line for the OpenAPI document
  };

  // add: registers a route. REQUIRES: pattern starts with '/'; not serving yet.
  void add(HttpMethod method, std::string pattern, Handler handler, std::string summary = {});

  // dispatch: runs the matching handler, or answers 404/405.
  boost::asio::awaitable<void> dispatch(HttpRequest& req, HttpResponse& res) const;

  std::vector<RouteInfo> routes() const;

 private:
  struct Route {
    HttpMethod method;
    std::string pattern;
    std::vector<std::string> segments;  // "{x}" for parameters
    bool has_params = false;
    Handler handler;
    std::string summary;
  };
  // match: the route for this method and path, or nullptr; `path_known` is
  // set when some route has this path under another method.
  const Route* match(HttpMethod method, std::string_view path, HttpRequest* req,
                     std::string* allow) const;

  std::vector<Route> routes_;
  std::unordered_map<std::string_view, std::vector<size_t>> exact_;  // literal pattern -> routes_
};

}  // namespace agentgate
