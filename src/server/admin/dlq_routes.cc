// Admin routes for the dead-letter queue:
//   GET    /api/v1/dlq?user=&upstream=&model=&error_class=&limit=&before=
//   GET    /api/v1/dlq/{id}
//   POST   /api/v1/dlq/{id}/replay   re-sends it through the pipeline (without
//                                    client authentication: the admin vouches)
//   DELETE /api/v1/dlq/{id}
// Replays and deletions are audited.
#include <charconv>

#include "agentgate/core/json.h"
#include "gateway/pipeline.h"
#include "resilience/dead_letter_queue.h"
#include "server/admin/admin_route.h"
#include "server/error_response.h"

namespace agentgate {

namespace {

Json LetterJson(const DeadLetter& d, bool with_body) {
  Json j = {{"id", d.id},
            {"time_ms", d.time_ms},
            {"user", d.user},
            {"upstream", d.upstream},
            {"model", d.model},
            {"function", d.function},
            {"attempts", d.attempts},
            {"error_class", d.error_class},
            {"error", d.error},
            {"status", d.status},
            {"stream", d.stream},
            {"replays", d.replays},
            {"last_replay_status", d.last_replay_status}};
  if (with_body) j["body"] = d.body;
  return j;
}

// ParseId: the {id} of the path, or a 400 in `res`.
bool ParseId(const HttpRequest& req, HttpResponse& res, int64_t* id) {
  std::string_view s = req.path_param("id");
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *id);
  if (ec != std::errc() || p != s.data() + s.size() || *id < 1) {
    SetError(res, InvalidArgument("dead letter id must be a positive integer"));
    return false;
  }
  return true;
}

bool EndpointFor(std::string_view function, ProxyEndpoint* e) {
  for (ProxyEndpoint c : {ProxyEndpoint::kChatCompletions, ProxyEndpoint::kCompletions,
                          ProxyEndpoint::kEmbeddings}) {
    if (ProxyEndpointPath(c) == function) {
      *e = c;
      return true;
    }
  }
  return false;
}

// DeadLetters: the queue, or a 503 in `res` when it is not configured.
DeadLetterQueue* DeadLetters(const AdminCall& call, HttpResponse& res) {
  if (call.services.dead_letters == nullptr) {
    SetError(res, Unavailable("the dead-letter queue is not enabled"));
  }
  return call.services.dead_letters;
}

}  // namespace

void RegisterDlqRoutes(Router& router, GatewayServices& services,
                       std::shared_ptr<const Pipeline> replay_pipeline) {
  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/dlq",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        DeadLetterQueue* dlq = DeadLetters(call, res);
        if (dlq == nullptr) co_return;
        DlqFilter f;
        req.query_param("user", &f.user);
        req.query_param("upstream", &f.upstream);
        req.query_param("model", &f.model);
        req.query_param("error_class", &f.error_class);
        for (auto [name, out] : {std::pair{"limit", &f.limit}, std::pair{"before", &f.before_id}}) {
          std::string v;
          if (!req.query_param(name, &v)) continue;
          auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
          if (ec != std::errc() || p != v.data() + v.size()) {
            SetError(res, InvalidArgument(std::string("'") + name + "' must be an integer"));
            co_return;
          }
        }
        if (f.limit < 1 || f.limit > 1000 || f.before_id < 0) {
          SetError(res, InvalidArgument("'limit' must be in 1..1000 and 'before' >= 0"));
          co_return;
        }
        auto letters = co_await dlq->list(f);
        if (!letters.ok()) {
          SetError(res, letters.status());
          co_return;
        }
        Json data = Json::array();
        for (const DeadLetter& d : *letters) data.push_back(LetterJson(d, false));
        auto total = co_await dlq->size();
        SetJson(res, DumpJson({{"object", "list"},
                               {"data", data},
                               {"total", total.ok() ? *total : -1},
                               {"next_before", letters->empty() ? 0 : letters->back().id}}));
      },
      "Dead letters (requests that finally failed), newest first; filter and paginate");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/dlq/{id}",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        DeadLetterQueue* dlq = DeadLetters(call, res);
        int64_t id = 0;
        if (dlq == nullptr || !ParseId(req, res, &id)) co_return;
        auto d = co_await dlq->get(id);
        if (!d.ok()) {
          SetError(res, d.status());
          co_return;
        }
        SetJson(res, DumpJson(LetterJson(*d, true)));
      },
      "One dead letter, with its request body");

  AddAdminRoute(
      router, services, HttpMethod::kDelete, "/api/v1/dlq/{id}",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        DeadLetterQueue* dlq = DeadLetters(call, res);
        int64_t id = 0;
        if (dlq == nullptr || !ParseId(req, res, &id)) co_return;
        Status s = co_await dlq->remove(id);
        if (!s.ok()) {
          SetError(res, s);
          co_return;
        }
        call.audit(req, "deleted dead letter " + std::to_string(id));
        SetJson(res, DumpJson({{"id", id}, {"deleted", true}}));
      },
      "Delete a dead letter");

  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/dlq/{id}/replay",
      [replay_pipeline](HttpRequest& req, HttpResponse& res,
                        const AdminCall& call) -> boost::asio::awaitable<void> {
        DeadLetterQueue* dlq = DeadLetters(call, res);
        int64_t id = 0;
        if (dlq == nullptr || !ParseId(req, res, &id)) co_return;
        auto d = co_await dlq->get(id);
        if (!d.ok()) {
          SetError(res, d.status());
          co_return;
        }
        ProxyEndpoint endpoint;
        if (!EndpointFor(d->function, &endpoint)) {
          SetError(res, InvalidArgument("dead letter " + std::to_string(id) +
                                        " has an unknown function '" + d->function + "'"));
          co_return;
        }
        if (d->stream) {
          SetError(res, InvalidArgument("dead letter " + std::to_string(id) +
                                        " was a streamed request: resend it as a client"));
          co_return;
        }
        std::string id_text = std::to_string(id);
        HttpRequest replay;
        replay.method = HttpMethod::kPost;
        replay.path = d->function;
        replay.target = d->function;
        replay.body = d->body;
        replay.request_id = req.request_id;
        replay.headers.emplace_back("X-Agentgate-Dlq-Replay", id_text);
        HttpResponse out;
        RequestContext ctx(replay, out, endpoint);
        Result<ProxyRequestInfo> info = ParseProxyRequest(endpoint, replay.body);
        if (!info.ok()) {
          SetError(res, info.status());
          co_return;
        }
        ctx.info = std::move(*info);
        ctx.principal.user_id = d->user;
        co_await replay_pipeline->run(ctx);
        Status s = co_await dlq->record_replay(id, out.status);
        if (!s.ok()) {
          SetError(res, s);
          co_return;
        }
        call.audit(req, "replayed dead letter " + id_text + ": upstream answered " +
                            std::to_string(out.status));
        Json response = Json::parse(out.body, nullptr, false);
        if (response.is_discarded()) response = out.body;
        SetJson(res, DumpJson({{"id", id}, {"status", out.status}, {"response", response}}));
      },
      "Replay a dead letter through the pipeline and record the outcome");
}

}  // namespace agentgate
