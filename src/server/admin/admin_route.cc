#include "server/admin/admin_route.h"

#include <spdlog/spdlog.h>

#include "server/error_response.h"

namespace agentgate {

void AdminCall::audit(const HttpRequest& req, std::string_view summary) const {
  if (!services.audit) return;
  std::string route = std::string(req.method_name) + " " + std::string(req.path);
  if (Status s = services.audit->record(admin_key_id, route, summary); !s.ok()) {
    spdlog::error("audit log write failed: {}", s.ToString());
  }
}

void AddAdminRoute(Router& router, GatewayServices& services, HttpMethod method,
                   std::string pattern, AdminHandler handler, std::string summary) {
  router.add(
      method, std::move(pattern),
      [&services, handler = std::move(handler)](HttpRequest& req,
                                                HttpResponse& res) -> boost::asio::awaitable<void> {
        Result<std::string> who = services.admin_auth->check(req);
        if (!who.ok()) {
          SetError(res, who.status());
          if (who.status().code() == StatusCode::kUnauthenticated) {
            res.set_header("WWW-Authenticate", "Bearer");
          }
          co_return;
        }
        AdminCall call{*who, services};
        co_await handler(req, res, call);
      },
      std::move(summary));
}

void SetJson(HttpResponse& res, const std::string& body, int status) {
  res.status = status;
  res.content_type = "application/json";
  res.body = body;
}

}  // namespace agentgate
