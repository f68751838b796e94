#include "gateway/stages/experiment_stage.h"

#include <chrono>

#include "agentgate/core/json.h"

namespace agentgate {

ExperimentStageMetrics::ExperimentStageMetrics(MetricsRegistry& r)
    : assigned(r.counter("agentgate_experiment_requests_total",
                         "Requests assigned to an experiment variant", {{"outcome", "assigned"}})),
      recorded(r.counter("agentgate_experiment_outcomes_total",
                         "Experiment outcomes recorded by the gateway")),
      errors(r.counter("agentgate_experiment_errors_total",
                       "Experiment assignments or outcomes that failed (request served anyway)")) {}

ExperimentStage::ExperimentStage(ExperimentManager& manager, const Clock& clock,
                                 MetricsRegistry& metrics)
    : manager_(manager), clock_(clock), metrics_(metrics) {}

Status SetSystemPrompt(std::string& body, std::string_view prompt) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("body: expected a JSON object");
  auto it = j.find("messages");
  if (it == j.end() || !it->is_array()) return InvalidArgument("messages: expected an array");
  Json& messages = *it;
  if (!messages.empty() && messages[0].is_object() && messages[0].value("role", "") == "system") {
    messages[0]["content"] = std::string(prompt);
  } else {
    messages.insert(messages.begin(), Json{{"role", "system"}, {"content", std::string(prompt)}});
  }
  body = DumpJson(j);
  return Status::Ok();
}

namespace {

bool HasHeader(const HttpResponse& res, std::string_view name) {
  for (const auto& [k, v] : res.headers) {
    if (k == name) return true;
  }
  return false;
}

}  // namespace

boost::asio::awaitable<void> ExperimentStage::handle(RequestContext& ctx, Next next) {
  // No user (a dead-letter replay runs without authenticate): not assigned.
  std::optional<ExperimentTarget> target;
  if (!ctx.principal.user_id.empty()) {
    target = manager_.experiment_for_request(ProxyEndpointPath(ctx.endpoint), ctx.info.model);
  }
  if (!target || (target->kind == VariantKind::kSystemPrompt &&
                  ctx.endpoint != ProxyEndpoint::kChatCompletions)) {
    co_await next(ctx);
    co_return;
  }
  Result<Assignment> a = manager_.assign(target->id, ctx.principal.user_id);
  if (!a.ok() || !a->in_experiment) {
    if (!a.ok()) metrics_.errors.inc();
    co_await next(ctx);
    co_return;
  }
  if (a->kind == VariantKind::kModel) {
    RewriteModel(ctx.request.body, ctx.info, a->variant_name);
  } else {
    std::string body = ctx.request.body;
    if (SetSystemPrompt(body, a->prompt).ok()) {
      Result<ProxyRequestInfo> info = ParseProxyRequest(ctx.endpoint, body);
      if (info.ok()) {
        ctx.request.body = std::move(body);
        ctx.info = std::move(*info);
      }
    }
  }
  metrics_.assigned.inc();
  ctx.response.set_header("X-Experiment", a->experiment);
  ctx.response.set_header("X-Variant", a->variant_name);
  const Nanos start = clock_.monotonic();
  co_await next(ctx);
  // An answer built after clearing the headers still names its variant.
  if (!HasHeader(ctx.response, "X-Experiment")) {
    ctx.response.set_header("X-Experiment", a->experiment);
    ctx.response.set_header("X-Variant", a->variant_name);
  }
  if (a->client_outcomes || a->status != ExperimentStatus::kRunning) co_return;
  const double latency_ms =
      std::chrono::duration<double, std::milli>(clock_.monotonic() - start).count();
  const bool success = ctx.response.status / 100 == 2;
  if (manager_.record_variant_outcome(a->experiment, a->variant, success, latency_ms).ok()) {
    metrics_.recorded.inc();
  } else {
    metrics_.errors.inc();
  }
}

}  // namespace agentgate
