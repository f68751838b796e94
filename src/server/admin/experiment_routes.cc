// Admin routes of A/B testing, under /api/v1/ab-testing/: create, list, get,
// stop and delete experiments; assign users; record outcomes; results. Bad
// bodies are 400 and change nothing; unknown ids 404; outcomes against a
// stopped or completed experiment 409. Every change is audited (assign and
// record are traffic, not configuration: not audited).
#include <fmt/format.h>

#include "agentgate/core/json.h"
#include "agentgate/experiments/experiment_manager.h"
#include "server/admin/admin_route.h"
#include "server/error_response.h"

namespace agentgate {

namespace {

constexpr std::string_view kSpecFields[] = {"name",
                                            "description",
                                            "variants",
                                            "traffic_split",
                                            "bandit_algorithm",
                                            "epsilon",
                                            "seed",
                                            "coverage",
                                            "test",
                                            "yates",
                                            "alpha",
                                            "msprt_tau",
                                            "min_samples",
                                            "route_to_winner",
                                            "target_model",
                                            "variant_type",
                                            "prompts",
                                            "client_outcomes"};

Status CheckFields(const Json& j, std::span<const std::string_view> allowed) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || it.key() == a;
    if (!ok) return InvalidArgument("unknown field '" + it.key() + "'");
  }
  return Status::Ok();
}

Json InfoJson(const ExperimentInfo& info) {
  Json j = ExperimentSpecToJson(info.spec);
  j["id"] = info.spec.name;
  j["status"] = ExperimentStatusName(info.status);
  j["selected_winner"] = info.selected_winner ? Json(*info.selected_winner) : Json(nullptr);
  return j;
}

// Manager: the experiments, or a 503 when the gateway runs without them.
ExperimentManager* Manager(const AdminCall& call, HttpResponse& res) {
  if (call.services.experiments == nullptr)
    SetError(res, Unavailable("experiments are not enabled"));
  return call.services.experiments;
}

// UserBody: {experiment_id, user_id} plus `extra` allowed fields.
struct UserBody {
  Json json;
  std::string experiment;
  std::string user;
};
Result<UserBody> ParseUserBody(const HttpRequest& req, std::span<const std::string_view> allowed) {
  auto j = ParseJsonObject(req.body);
  if (!j.ok()) return j.status();
  if (Status s = CheckFields(*j, allowed); !s.ok()) return s;
  auto exp = GetString(*j, "experiment_id", true);
  if (!exp.ok()) return exp.status();
  auto user = GetString(*j, "user_id", true);
  if (!user.ok()) return user.status();
  if (user->empty() || user->size() > 512)
    return InvalidArgument("user_id: expected 1-512 characters");
  return UserBody{std::move(*j), std::move(*exp), std::move(*user)};
}

}  // namespace

void RegisterExperimentRoutes(Router& router, GatewayServices& services) {
  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/ab-testing/experiments",
      [](HttpRequest& req, HttpResponse& res,
         const AdminCall& call) -> boost::asio::awaitable<void> {
        ExperimentManager* m = Manager(call, res);
        if (m == nullptr) co_return;
        auto j = ParseJsonObject(req.body);
        Status s = j.ok() ? CheckFields(*j, kSpecFields) : j.status();
        Result<ExperimentSpec> spec =
            s.ok() ? ExperimentSpecFromJson(*j) : Result<ExperimentSpec>(s);
        if (spec.ok())
          s = m->create(*spec);
        else
          s = spec.status();
        if (!s.ok()) {
          SetError(res, s);
          co_return;
        }
        auto info = m->get(spec->name);
        if (!info.ok()) {
          SetError(res, info.status());
          co_return;
        }
        call.audit(req, fmt::format("created experiment '{}' ({} variants)", spec->name,
                                    spec->variants.size()));
        SetJson(res, DumpJson(InfoJson(*info)), 201);
      },
      "Create an experiment {name, variants, traffic_split?, bandit_algorithm?, ...}");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/ab-testing/experiments",
      [](HttpRequest&, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        ExperimentManager* m = Manager(call, res);
        if (m == nullptr) co_return;
        Json list = Json::array();
        for (const ExperimentInfo& info : m->list()) list.push_back(InfoJson(info));
        SetJson(res, DumpJson({{"experiments", list}}));
        co_return;
      },
      "List experiments");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/ab-testing/experiments/{id}",
      [](HttpRequest& req, HttpResponse& res,
         const AdminCall& call) -> boost::asio::awaitable<void> {
        ExperimentManager* m = Manager(call, res);
        if (m == nullptr) co_return;
        auto info = m->get(req.path_param("id"));
        if (!info.ok()) {
          SetError(res, info.status());
          co_return;
        }
        SetJson(res, DumpJson(InfoJson(*info)));
      },
      "One experiment");

  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/ab-testing/experiments/{id}/stop",
      [](HttpRequest& req, HttpResponse& res,
         const AdminCall& call) -> boost::asio::awaitable<void> {
        ExperimentManager* m = Manager(call, res);
        if (m == nullptr) co_return;
        const std::string id(req.path_param("id"));
        Status s = m->stop(id);
        auto info = s.ok() ? m->get(id) : Result<ExperimentInfo>(s);
        if (!info.ok()) {
          SetError(res, info.status());
          co_return;
        }
        call.audit(req, "stopped experiment '" + id + "'");
        SetJson(res, DumpJson(InfoJson(*info)));
      },
      "Stop an experiment (no new assignments or outcomes)");

  AddAdminRoute(
      router, services, HttpMethod::kDelete, "/api/v1/ab-testing/experiments/{id}",
      [](HttpRequest& req, HttpResponse& res,
         const AdminCall& call) -> boost::asio::awaitable<void> {
        ExperimentManager* m = Manager(call, res);
        if (m == nullptr) co_return;
        const std::string id(req.path_param("id"));
        if (Status s = m->remove(id); !s.ok()) {
          SetError(res, s);
          co_return;
        }
        call.audit(req, "deleted experiment '" + id + "'");
        SetJson(res, DumpJson({{"deleted", id}}));
      },
      "Delete an experiment with its counts and assignments");

  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/ab-testing/assign",
      [](HttpRequest& req, HttpResponse& res,
         const AdminCall& call) -> boost::asio::awaitable<void> {
        ExperimentManager* m = Manager(call, res);
        if (m == nullptr) co_return;
        static constexpr std::string_view kFields[] = {"experiment_id", "user_id"};
        auto body = ParseUserBody(req, kFields);
        auto a =
            body.ok() ? m->assign(body->experiment, body->user) : Result<Assignment>(body.status());
        if (!a.ok()) {
          SetError(res, a.status());
          co_return;
        }
        SetJson(res,
                DumpJson({{"experiment_id", a->experiment},
                          {"user_id", body->user},
                          {"in_experiment", a->in_experiment},
                          {"variant", a->in_experiment ? Json(a->variant_name) : Json(nullptr)},
                          {"status", ExperimentStatusName(a->status)}}));
      },
      "Assign a user to a variant {experiment_id, user_id}; counts an impression");

  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/ab-testing/record",
      [](HttpRequest& req, HttpResponse& res,
         const AdminCall& call) -> boost::asio::awaitable<void> {
        ExperimentManager* m = Manager(call, res);
        if (m == nullptr) co_return;
        static constexpr std::string_view kFields[] = {"experiment_id", "user_id", "success",
                                                       "value", "metadata"};
        auto body = ParseUserBody(req, kFields);
        Status s = body.status();
        Result<bool> success = s.ok() ? GetBool(body->json, "success", true) : Result<bool>(s);
        std::optional<double> value;
        if (success.ok()) {
          const Json& j = body->json;
          if (auto it = j.find("value"); it != j.end() && !it->is_null()) {
            if (!it->is_number())
              s = InvalidArgument("value: expected a number");
            else
              value = it->get<double>();
          }
          if (auto it = j.find("metadata");
              s.ok() && it != j.end() && !it->is_null() && !it->is_object()) {
            s = InvalidArgument("metadata: expected an object");
          }
          if (s.ok()) s = m->record_outcome(body->experiment, body->user, *success, value);
        } else {
          s = success.status();
        }
        if (!s.ok()) {
          SetError(res, s);
          co_return;
        }
        SetJson(res, DumpJson({{"recorded", true}, {"experiment_id", body->experiment}}));
      },
      "Record an outcome {experiment_id, user_id, success, value?, metadata?}");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/ab-testing/results/{id}",
      [](HttpRequest& req, HttpResponse& res,
         const AdminCall& call) -> boost::asio::awaitable<void> {
        ExperimentManager* m = Manager(call, res);
        if (m == nullptr) co_return;
        auto r = m->results(req.path_param("id"));
        if (!r.ok()) {
          SetError(res, r.status());
          co_return;
        }
        SetJson(res, DumpJson(ExperimentResultsToJson(*r)));
      },
      "Per-variant results and the verdict (chi-square or mSPRT), with the SRM check");
}

}  // namespace agentgate
