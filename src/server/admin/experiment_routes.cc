// Admin routes of A/B testing, under /api/v1/ab-testing/: create, list, get,
// stop and delete experiments; assign users; record outcomes (answered only
// once the outcome is written: a 2xx is durable); results; the outcome log
// with metadata (recent records, or aggregated by a metadata key). Bad
// bodies are 400 and change nothing; unknown ids 404; outcomes against a
// stopped or completed experiment 409. Every change is audited (assign and
// record are traffic, not configuration: not audited).
#include <fmt/format.h>

#include <map>
#include <memory>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

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
                                            "target",
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

// OutcomeInput: a parsed record body.
struct OutcomeInput {
  std::string experiment;
  std::string user;
  bool success = false;
  std::optional<double> value;
  std::string metadata;  // JSON object text, or empty
};

// RecordDurably: ExperimentManager::record_outcome_async as an awaitable,
// resumed on the caller's executor once the outcome is written (or refused).
boost::asio::awaitable<Status> RecordDurably(ExperimentManager& m, const OutcomeInput& in) {
  auto ex = co_await boost::asio::this_coro::executor;
  auto init = [&m, &in, ex](auto handler) {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    m.record_outcome_async(in.experiment, in.user, in.success, in.value, in.metadata,
                           [h, ex](Status s) {
                             boost::asio::post(ex, [h, s = std::move(s)]() mutable {
                               (*h)(std::move(s));
                             });
                           });
  };
  Status s = co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                  void(Status)>(init, boost::asio::use_awaitable);
  co_return s;
}

// ParseLimit: the `limit` query parameter, 1..1000 (default 100).
Result<size_t> ParseLimit(const HttpRequest& req) {
  std::string text;
  if (!req.query_param("limit", &text)) return size_t{100};
  if (text.empty() || text.size() > 4 || text.find_first_not_of("0123456789") != std::string::npos)
    return InvalidArgument("limit: expected an integer in 1..1000");
  const size_t n = std::stoul(text);
  if (n < 1 || n > 1000) return InvalidArgument("limit: expected an integer in 1..1000");
  return n;
}

// GroupOutcomes: per value of metadata[key] (strings as they are, other JSON
// values as JSON text; records without the key are left out), per variant:
// outcomes, conversions, conversion rate and average value.
Json GroupOutcomes(const std::vector<OutcomeRecord>& records, const std::string& key) {
  struct Cell {
    uint64_t outcomes = 0, conversions = 0, values = 0;
    double value_sum = 0;
  };
  std::map<std::string, std::map<std::string, Cell>> groups;
  for (const OutcomeRecord& r : records) {
    if (r.metadata.empty()) continue;
    Json meta = Json::parse(r.metadata, nullptr, false);
    if (!meta.is_object() || !meta.contains(key)) continue;
    const Json& v = meta[key];
    Cell& c = groups[v.is_string() ? v.get<std::string>() : DumpJson(v)][r.variant_name];
    ++c.outcomes;
    c.conversions += r.success ? 1 : 0;
    if (r.value) ++c.values, c.value_sum += *r.value;
  }
  Json out = Json::array();
  for (const auto& [value, variants] : groups) {
    Json vs = Json::array();
    for (const auto& [variant, c] : variants) {
      vs.push_back({{"variant", variant},
                    {"outcomes", c.outcomes},
                    {"conversions", c.conversions},
                    {"conversion_rate", static_cast<double>(c.conversions) /
                                            static_cast<double>(c.outcomes)},
                    {"average_value", c.values == 0 ? Json(nullptr)
                                                    : Json(c.value_sum / static_cast<double>(c.values))}});
    }
    out.push_back({{"value", value}, {"variants", vs}});
  }
  return out;
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
        OutcomeInput in;
        if (success.ok()) {
          const Json& j = body->json;
          in.experiment = body->experiment;
          in.user = body->user;
          in.success = *success;
          if (auto it = j.find("value"); it != j.end() && !it->is_null()) {
            if (!it->is_number())
              s = InvalidArgument("value: expected a number");
            else
              in.value = it->get<double>();
          }
          if (auto it = j.find("metadata"); s.ok() && it != j.end() && !it->is_null()) {
            if (!it->is_object())
              s = InvalidArgument("metadata: expected an object");
            else
              in.metadata = DumpJson(*it);
          }
        } else {
          s = success.status();
        }
        if (s.ok()) s = co_await RecordDurably(*m, in);
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

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/ab-testing/outcomes/{id}",
      [](HttpRequest& req, HttpResponse& res,
         const AdminCall& call) -> boost::asio::awaitable<void> {
        ExperimentManager* m = Manager(call, res);
        if (m == nullptr) co_return;
        std::string group_by;
        const bool grouped = req.query_param("group_by", &group_by);
        Result<size_t> limit = ParseLimit(req);
        if (limit.ok() && grouped && (group_by.empty() || group_by.size() > 128))
          limit = InvalidArgument("group_by: expected a metadata key of 1-128 characters");
        if (!limit.ok()) {
          SetError(res, limit.status());
          co_return;
        }
        const std::string id(req.path_param("id"));
        // Grouping reads the whole retained log; a plain listing the newest `limit`.
        auto records = m->recent_outcomes(id, grouped ? size_t{1000000} : *limit);
        if (!records.ok()) {
          SetError(res, records.status());
          co_return;
        }
        if (grouped) {
          SetJson(res, DumpJson({{"experiment_id", id},
                                 {"group_by", group_by},
                                 {"records", records->size()},
                                 {"groups", GroupOutcomes(*records, group_by)}}));
          co_return;
        }
        Json list = Json::array();
        for (const OutcomeRecord& r : *records) list.push_back(OutcomeRecordToJson(r));
        SetJson(res, DumpJson({{"experiment_id", id}, {"outcomes", list}}));
      },
      "Recorded outcomes with metadata, newest first (?limit=1..1000, default 100), or aggregated "
      "per variant by a metadata key (?group_by=key) over the retained log");
}

}  // namespace agentgate
