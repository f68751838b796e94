// Admin routes: registration with the admin-key check in front, and the
// audit record every change writes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "server/http_types.h"
#include "server/router.h"
#include "server/services.h"

namespace agentgate {

class Pipeline;

// AdminRequest: what an admin handler gets besides the HTTP request.
struct AdminCall {
  const std::string& admin_key_id;  // who is calling, for the audit log
  GatewayServices& services;
  // audit: records a change made by this call (route and key id filled in).
  void audit(const HttpRequest& req, std::string_view summary) const;
};

using AdminHandler =
    std::function<boost::asio::awaitable<void>(HttpRequest&, HttpResponse&, const AdminCall&)>;

// AddAdminRoute: registers `handler` behind AdminAuth (401/403 in the error shape).
void AddAdminRoute(Router& router, GatewayServices& services, HttpMethod method,
                   std::string pattern, AdminHandler handler, std::string summary);

// SetJson: a 200 (or `status`) JSON response.
void SetJson(HttpResponse& res, const std::string& body, int status = 200);

// Route registration, one function per admin area.
void RegisterKeyRoutes(Router& router, GatewayServices& services);
void RegisterAuditRoutes(Router& router, GatewayServices& services);
void RegisterPerformanceRoutes(Router& router, GatewayServices& services);
void RegisterBreakerRoutes(Router& router, GatewayServices& services);
// Dead-letter queue; replays run through `replay_pipeline`.
void RegisterDlqRoutes(Router& router, GatewayServices& services,
                       std::shared_ptr<const Pipeline> replay_pipeline);
void RegisterRateLimitRoutes(Router& router, GatewayServices& services);
void RegisterBudgetRoutes(Router& router, GatewayServices& services);  // POST /api/v1/ratelimit/budget
void RegisterCacheRoutes(Router& router, GatewayServices& services);
void RegisterExperimentRoutes(Router& router, GatewayServices& services);

}  // namespace agentgate
