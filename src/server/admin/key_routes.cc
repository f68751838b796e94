// Admin routes for client keys: POST/GET /api/v1/keys, DELETE /api/v1/keys/{id}.
#include "agentgate/core/json.h"
#include "server/admin/admin_route.h"
#include "server/auth/redis_key_store.h"
#include "server/error_response.h"

namespace agentgate {

namespace {

Json KeyJson(const ClientKeyInfo& k) {
  return {{"id", k.id},         {"name", k.name},     {"user_id", k.user_id},
          {"tier", k.tier},     {"tenant", k.tenant}, {"prefix", k.prefix},
          {"created_at", k.created_at_ms / 1000}};
}

Result<NewClientKey> ParseNewKey(const std::string& body, const Config& config) {
  auto j = ParseJsonObject(body);
  if (!j.ok()) return j.status();
  for (auto it = j->begin(); it != j->end(); ++it) {
    const std::string& k = it.key();
    if (k != "user_id" && k != "tier" && k != "tenant" && k != "name") {
      return InvalidArgument("unknown field '" + k + "'");
    }
  }
  NewClientKey n;
  auto user = GetString(*j, "user_id", true);
  if (!user.ok()) return user.status();
  auto tier = GetString(*j, "tier", false);
  if (!tier.ok()) return tier.status();
  auto tenant = GetString(*j, "tenant", false);
  if (!tenant.ok()) return tenant.status();
  auto name = GetString(*j, "name", false);
  if (!name.ok()) return name.status();
  if (user->empty()) return InvalidArgument("field 'user_id' must not be empty");
  if (!tier->empty() && !config.rate_limit.tiers.contains(*tier)) {
    return InvalidArgument("field 'tier': unknown tier '" + *tier + "'");
  }
  n.user_id = *user;
  n.tier = *tier;
  n.tenant = *tenant;
  n.name = *name;
  return n;
}

}  // namespace

void RegisterKeyRoutes(Router& router, GatewayServices& services) {
  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/keys",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        auto request = ParseNewKey(req.body, *call.services.config);
        if (!request.ok()) {
          SetError(res, request.status());
          co_return;
        }
        std::optional<Result<CreatedKey>> created;
        if (RedisKeyStore* shared = call.services.shared_keys) {
          NewClientKey n = std::move(*request);
          Result<CreatedKey> r = co_await shared->create(std::move(n));
          created.emplace(std::move(r));
        } else {
          created.emplace(call.services.keys->create(*request));
        }
        if (!created->ok()) {
          SetError(res, created->status());
          co_return;
        }
        const CreatedKey& k = **created;
        Json j = KeyJson(k.info);
        j["key"] = k.secret;
        call.audit(req, "created client key " + k.info.id + " for user '" + k.info.user_id +
                            "' tier '" + k.info.tier + "' tenant '" + k.info.tenant + "'");
        SetJson(res, DumpJson(j), 201);
      },
      "Create a client key (the secret is returned once)");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/keys",
      [](HttpRequest&, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        Json data = Json::array();
        for (const auto& k : call.services.keys->list()) data.push_back(KeyJson(k));
        SetJson(res, DumpJson({{"object", "list"}, {"data", data}}));
        co_return;
      },
      "List client keys (never their secrets)");

  AddAdminRoute(
      router, services, HttpMethod::kDelete, "/api/v1/keys/{id}",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        std::string id(req.path_param("id"));
        Status s = Status::Ok();
        if (RedisKeyStore* shared = call.services.shared_keys) {
          std::string copy = id;
          s = co_await shared->revoke(std::move(copy));
        } else {
          s = call.services.keys->revoke(id);
        }
        if (!s.ok()) {
          SetError(res, s);
          co_return;
        }
        call.audit(req, "revoked client key " + id);
        SetJson(res, DumpJson({{"id", id}, {"deleted", true}}));
      },
      "Revoke a client key");
}

}  // namespace agentgate
