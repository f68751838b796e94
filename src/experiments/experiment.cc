#include "agentgate/experiments/experiment.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

namespace agentgate {

std::string_view ExperimentStatusName(ExperimentStatus s) {
  switch (s) {
    case ExperimentStatus::kRunning:
      return "running";
    case ExperimentStatus::kStopped:
      return "stopped";
    case ExperimentStatus::kCompleted:
      return "completed";
  }
  return "running";
}

std::string_view SignificanceTestName(SignificanceTest t) {
  return t == SignificanceTest::kMsprt ? "msprt" : "chi_square";
}

namespace {

bool ValidName(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  }
  return true;
}

Result<std::vector<std::string>> GetStrings(const Json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) return InvalidArgument(fmt::format("{}: expected an array of strings", key));
  for (const Json& v : *it) {
    if (!v.is_string())
      return InvalidArgument(fmt::format("{}: expected an array of strings", key));
    out.push_back(v.get<std::string>());
  }
  return out;
}

// ParseTarget: `target: {route?, model?}` into the spec (with `target_model`
// accepted on its own for compatibility, but not both).
Status ParseTarget(const Json& j, ExperimentSpec& s) {
  auto it = j.find("target");
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return InvalidArgument("target: expected an object {route?, model?}");
  for (auto f = it->begin(); f != it->end(); ++f) {
    if (f.key() != "route" && f.key() != "model")
      return InvalidArgument("target: unknown field '" + f.key() + "' (expected route or model)");
  }
  for (const char* key : {"route", "model"}) {
    if (auto f = it->find(key); f != it->end() && !f->is_string())
      return InvalidArgument(fmt::format("target.{}: expected a string", key));
  }
  auto route = GetString(*it, "route", false);
  auto model = GetString(*it, "model", false);
  if (!route.ok()) return route.status();
  if (!model.ok()) return model.status();
  if (it->contains("route") && route->empty())
    return InvalidArgument("target.route: expected a route, got an empty string");
  if (it->contains("model") && model->empty())
    return InvalidArgument("target.model: expected 1-256 characters");
  if (!model->empty() && !s.target_model.empty() && *model != s.target_model)
    return InvalidArgument("target_model: differs from target.model (give one of them)");
  if (route->empty() && model->empty())
    return InvalidArgument("target: expected route, model or both");
  s.target_route = *route;
  if (!model->empty()) s.target_model = *model;
  return Status::Ok();
}

}  // namespace

Status ValidateExperimentSpec(ExperimentSpec& s) {
  if (!ValidName(s.name)) {
    return InvalidArgument("name: expected 1-64 characters of [A-Za-z0-9._-]");
  }
  if (s.variants.size() < 2) return InvalidArgument("variants: at least two variants are required");
  std::set<std::string> seen;
  for (const std::string& v : s.variants) {
    if (v.empty()) return InvalidArgument("variants: a variant name is empty");
    if (!seen.insert(v).second) return InvalidArgument("variants: duplicate variant \"" + v + "\"");
  }
  if (s.traffic_split.empty()) {
    s.traffic_split.assign(s.variants.size(), 1.0 / static_cast<double>(s.variants.size()));
  }
  if (s.traffic_split.size() != s.variants.size()) {
    return InvalidArgument(fmt::format("traffic_split: {} weights for {} variants",
                                       s.traffic_split.size(), s.variants.size()));
  }
  double sum = 0;
  for (double w : s.traffic_split) {
    if (!(w >= 0 && w <= 1))
      return InvalidArgument(fmt::format("traffic_split: {} is outside [0, 1]", w));
    sum += w;
  }
  if (std::abs(sum - 1) > 1e-9) {
    return InvalidArgument(fmt::format("traffic_split: weights sum to {}, expected 1", sum));
  }
  if (!(s.epsilon >= 0 && s.epsilon <= 1))
    return InvalidArgument("epsilon: expected a value in [0, 1]");
  if (!(s.coverage > 0 && s.coverage <= 1))
    return InvalidArgument("coverage: expected a value in (0, 1]");
  if (!(s.alpha > 0 && s.alpha <= 0.5))
    return InvalidArgument("alpha: expected a value in (0, 0.5]");
  if (!(s.msprt_tau > 0 && std::isfinite(s.msprt_tau)))
    return InvalidArgument("msprt_tau: expected a positive number");
  if (s.min_samples < 0) return InvalidArgument("min_samples: expected a non-negative integer");
  if (s.variant_kind == VariantKind::kSystemPrompt && s.prompts.size() != s.variants.size()) {
    return InvalidArgument("prompts: variant_type system_prompt needs one prompt per variant");
  }
  if (!s.target_route.empty()) {
    bool known = false;
    for (std::string_view r : kExperimentRoutes) known = known || r == s.target_route;
    if (!known) {
      return InvalidArgument(
          "target.route: expected /v1/chat/completions, /v1/completions or /v1/embeddings, got \"" +
          s.target_route + "\"");
    }
    if (s.variant_kind == VariantKind::kSystemPrompt && s.target_route != kExperimentRoutes[0]) {
      return InvalidArgument(
          "target.route: variant_type system_prompt applies to /v1/chat/completions only");
    }
  }
  if (s.target_model.size() > 256) return InvalidArgument("target.model: expected 1-256 characters");
  if (s.seed.empty()) s.seed = s.name;
  return Status::Ok();
}

Result<ExperimentSpec> ExperimentSpecFromJson(const Json& j) {
  ExperimentSpec s;
  auto name = GetString(j, "name", true);
  if (!name.ok()) return name.status();
  s.name = *name;
  auto desc = GetString(j, "description", false);
  if (!desc.ok()) return desc.status();
  s.description = *desc;
  auto variants = GetStrings(j, "variants");
  if (!variants.ok()) return variants.status();
  s.variants = *variants;
  if (auto it = j.find("traffic_split"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return InvalidArgument("traffic_split: expected an array of numbers");
    for (const Json& v : *it) {
      if (!v.is_number()) return InvalidArgument("traffic_split: expected an array of numbers");
      s.traffic_split.push_back(v.get<double>());
    }
  }
  auto algo = GetString(j, "bandit_algorithm", false, "none");
  if (!algo.ok()) return algo.status();
  auto parsed = ParseBanditAlgorithm(*algo);
  if (!parsed)
    return InvalidArgument("bandit_algorithm: expected none, epsilon_greedy, ucb1 or thompson");
  s.bandit_algorithm = *parsed;
  auto seed = GetString(j, "seed", false);
  auto test = GetString(j, "test", false, "chi_square");
  auto kind = GetString(j, "variant_type", false, "model");
  auto target = GetString(j, "target_model", false);
  for (const auto* r : {&seed, &test, &kind, &target}) {
    if (!r->ok()) return r->status();
  }
  s.seed = *seed;
  s.target_model = *target;
  if (Status t = ParseTarget(j, s); !t.ok()) return t;
  if (*test == "chi_square") {
    s.test = SignificanceTest::kChiSquare;
  } else if (*test == "msprt") {
    s.test = SignificanceTest::kMsprt;
  } else {
    return InvalidArgument("test: expected chi_square or msprt");
  }
  if (*kind == "model") {
    s.variant_kind = VariantKind::kModel;
  } else if (*kind == "system_prompt") {
    s.variant_kind = VariantKind::kSystemPrompt;
  } else {
    return InvalidArgument("variant_type: expected model or system_prompt");
  }
  auto prompts = GetStrings(j, "prompts");
  if (!prompts.ok()) return prompts.status();
  s.prompts = *prompts;
  auto eps = GetDouble(j, "epsilon", false, s.epsilon);
  auto cov = GetDouble(j, "coverage", false, s.coverage);
  auto alpha = GetDouble(j, "alpha", false, s.alpha);
  auto tau = GetDouble(j, "msprt_tau", false, s.msprt_tau);
  for (const auto* r : {&eps, &cov, &alpha, &tau}) {
    if (!r->ok()) return r->status();
  }
  s.epsilon = *eps, s.coverage = *cov, s.alpha = *alpha, s.msprt_tau = *tau;
  auto min = GetInt(j, "min_samples", false, 0);
  if (!min.ok()) return min.status();
  s.min_samples = *min;
  auto yates = GetBool(j, "yates", false, false);
  auto route = GetBool(j, "route_to_winner", false, false);
  auto client = GetBool(j, "client_outcomes", false, false);
  for (const auto* r : {&yates, &route, &client}) {
    if (!r->ok()) return r->status();
  }
  s.yates = *yates, s.route_to_winner = *route, s.client_outcomes = *client;
  if (Status st = ValidateExperimentSpec(s); !st.ok()) return st;
  return s;
}

namespace {
Json TargetJson(const ExperimentSpec& s) {
  if (s.target_route.empty() && s.target_model.empty()) return nullptr;
  Json t = Json::object();
  if (!s.target_route.empty()) t["route"] = s.target_route;
  if (!s.target_model.empty()) t["model"] = s.target_model;
  return t;
}
}  // namespace

Json OutcomeRecordToJson(const OutcomeRecord& r) {
  Json j = {{"user_id", r.user},
            {"variant", r.variant_name},
            {"variant_index", r.variant},
            {"success", r.success},
            {"value", r.value ? Json(*r.value) : Json(nullptr)},
            {"time_ms", r.time_ms}};
  Json meta = r.metadata.empty() ? Json(nullptr) : Json::parse(r.metadata, nullptr, false);
  j["metadata"] = meta.is_discarded() ? Json(nullptr) : meta;
  if (!r.experiment.empty()) j["experiment_id"] = r.experiment;
  return j;
}

Result<OutcomeRecord> OutcomeRecordFromJson(const Json& j) {
  if (!j.is_object()) return InvalidArgument("outcome: expected an object");
  OutcomeRecord r;
  r.experiment = j.value("experiment_id", "");
  r.user = j.value("user_id", "");
  r.variant_name = j.value("variant", "");
  r.variant = j.value("variant_index", -1);
  r.success = j.value("success", false);
  if (auto it = j.find("value"); it != j.end() && it->is_number()) r.value = it->get<double>();
  if (auto it = j.find("metadata"); it != j.end() && it->is_object()) r.metadata = DumpJson(*it);
  r.time_ms = j.value("time_ms", int64_t{0});
  return r;
}

Json ExperimentSpecToJson(const ExperimentSpec& s) {
  Json j = {{"name", s.name},
            {"description", s.description},
            {"variants", s.variants},
            {"traffic_split", s.traffic_split},
            {"bandit_algorithm", BanditAlgorithmName(s.bandit_algorithm)},
            {"epsilon", s.epsilon},
            {"seed", s.seed},
            {"coverage", s.coverage},
            {"test", SignificanceTestName(s.test)},
            {"yates", s.yates},
            {"alpha", s.alpha},
            {"msprt_tau", s.msprt_tau},
            {"min_samples", s.min_samples},
            {"route_to_winner", s.route_to_winner},
            {"target_model", s.target_model},
            {"target", TargetJson(s)},
            {"variant_type", s.variant_kind == VariantKind::kModel ? "model" : "system_prompt"},
            {"client_outcomes", s.client_outcomes}};
  if (!s.prompts.empty()) j["prompts"] = s.prompts;
  return j;
}

Json ExperimentResultsToJson(const ExperimentResults& r) {
  Json variants = Json::array();
  for (const VariantResult& v : r.variants) {
    variants.push_back({{"variant", v.name},
                        {"impressions", v.impressions},
                        {"conversions", v.conversions},
                        {"conversion_rate", v.conversion_rate},
                        {"confidence_interval", {v.ci_low, v.ci_high}},
                        {"outcomes", v.outcomes},
                        {"average_value", v.value_mean},
                        {"value_standard_error", v.value_stderr}});
  }
  Json j = {
      {"experiment_id", r.id},
      {"status", ExperimentStatusName(r.status)},
      {"variants", variants},
      {"test", SignificanceTestName(r.test)},
      {"p_value", r.p_value},
      {"confidence", r.confidence},
      {"significant", r.significant},
      {"winner", r.winner ? Json(*r.winner) : Json(nullptr)},
      {"chi_square",
       {{"statistic", r.chi_square},
        {"df", r.chi_square_df},
        {"p_value", r.chi_square_p},
        {"yates", r.yates}}},
      {"msprt", {{"p_value", r.msprt_p}}},
      {"sample_ratio_mismatch",
       {{"statistic", r.srm_chi_square}, {"p_value", r.srm_p}, {"detected", r.srm_detected}}}};
  if (r.selected_winner) j["selected_winner"] = *r.selected_winner;
  return j;
}

}  // namespace agentgate
