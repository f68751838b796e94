// Admin route for the audit log: GET /api/v1/audit?limit=N&before=ID.
#include "agentgate/core/json.h"
#include "server/admin/admin_route.h"
#include "server/error_response.h"

namespace agentgate {

void RegisterAuditRoutes(Router& router, GatewayServices& services) {
  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/audit",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        int64_t limit = 100, before = 0;
        std::string v;
        try {
          if (req.query_param("limit", &v)) limit = std::stoll(v);
          if (req.query_param("before", &v)) before = std::stoll(v);
        } catch (const std::exception&) {
          SetError(res, InvalidArgument("query parameters 'limit' and 'before' must be integers"));
          co_return;
        }
        if (limit < 1 || limit > 1000 || before < 0) {
          SetError(res, InvalidArgument("'limit' must be in 1..1000 and 'before' >= 0"));
          co_return;
        }
        auto entries = call.services.audit->list(limit, before);
        if (!entries.ok()) {
          SetError(res, entries.status());
          co_return;
        }
        Json data = Json::array();
        for (const auto& e : *entries) {
          data.push_back({{"id", e.id},
                          {"time_ms", e.time_ms},
                          {"admin_key_id", e.admin_key_id},
                          {"route", e.route},
                          {"summary", e.summary}});
        }
        SetJson(res, DumpJson({{"object", "list"}, {"data", data}}));
      },
      "Read the audit log of admin changes, newest first");
}

}  // namespace agentgate
