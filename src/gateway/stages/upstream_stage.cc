#include "gateway/stages/upstream_stage.h"

#include <iterator>
#include <optional>
#include <random>

#include "gateway/response_usage.h"
#include "server/error_response.h"
#include "upstream/sse_parser.h"

namespace agentgate {

namespace {

// Request headers the client may send that the upstream should see.
constexpr std::string_view kForwardedRequestHeaders[] = {
    "openai-organization", "openai-project", "openai-beta", "x-request-id", "user-agent",
};
constexpr size_t kRequestIdHeader = 3;  // the client's X-Request-Id, or the gateway's

// Response headers the gateway sets itself, never copied from the upstream.
constexpr std::string_view kOwnResponseHeaders[] = {
    "content-length", "content-type", "x-request-id", "date", "server",
    "transfer-encoding", "connection", "keep-alive",
};

bool OwnResponseHeader(std::string_view name) {
  for (std::string_view h : kOwnResponseHeaders) {
    if (EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

uint64_t RandomForRouting() {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return (static_cast<uint64_t>(rng()) << 31) ^ rng();
}

// UpstreamFailure: the client-facing Status for a failed exchange.
Status UpstreamFailure(const Status& s, std::string_view upstream) {
  std::string where = "upstream '" + std::string(upstream) + "': ";
  switch (s.code()) {
    case StatusCode::kDeadlineExceeded: return DeadlineExceeded(where + s.message());
    default: return BadGateway(where + s.message());
  }
}

void CopyHeaders(const UpstreamResponse& from, HttpResponse& to) {
  for (const auto& [k, v] : from.headers) {
    if (!OwnResponseHeader(k)) to.headers.emplace_back(k, v);
  }
}

// MoveHeaders: CopyHeaders for an answer that is not needed afterwards.
void MoveHeaders(UpstreamResponse& from, HttpResponse& to) {
  for (auto& [k, v] : from.headers) {
    if (!OwnResponseHeader(k)) to.headers.emplace_back(std::move(k), std::move(v));
  }
}

// StreamToClient: passes the upstream's SSE bytes to the client as they
// come, reading usage on the way; a non-2xx answer is collected whole and
// answered as an ordinary error response instead.
class StreamToClient final : public StreamSink {
 public:
  explicit StreamToClient(RequestContext& ctx) : ctx_(ctx) {}

  boost::asio::awaitable<bool> on_head(const UpstreamResponse& head, bool body_in_hand) override {
    status_ = head.status;
    if (head.status / 100 != 2) {
      error_head_ = head;
      co_return true;
    }
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [k, v] : head.headers) {
      if (!OwnResponseHeader(k) && !EqualsIgnoreCase(k, "cache-control"))
        headers.emplace_back(k, v);
    }
    headers.emplace_back("Cache-Control", "no-cache");  // the stream's, in place of the upstream's
    // Headers earlier stages set on ctx.response (X-Cache, RateLimit, ...) go on the stream too.
    for (const auto& h : ctx_.response.headers) headers.push_back(h);
    ctx_.streamed = true;
    // Built before the co_await: g++ 12 mishandles temporaries inside one.
    std::string_view type =
        head.content_type.empty() ? std::string_view("text/event-stream") : head.content_type;
    // With body bytes in hand, the head goes out with them (one send).
    bool ok = co_await ctx_.response.stream().begin(head.status, type, headers, body_in_hand);
    co_return ok;
  }

  boost::asio::awaitable<bool> on_data(std::span<const std::string_view> pieces,
                                       bool last) override {
    if (status_ / 100 != 2) {
      for (std::string_view bytes : pieces) {
        if (error_body_.size() < 1024 * 1024) error_body_.append(bytes);
      }
      co_return true;
    }
    for (std::string_view bytes : pieces) {
      (void)sse_.feed(bytes, [this](const SseEvent& e) {
        if (e.data == "[DONE]") {
          done_ = true;
        } else {
          ReadChunkUsage(e.data, &ctx_.usage);
        }
      });
      // Stream taps (the cache stage): see the bytes as they go to the client.
      for (StreamObserver* o : ctx_.stream_observers) o->on_chunk(bytes);
    }
    // What one upstream read brought goes to the client in one write, with
    // the stream's end when the upstream's came with it after [DONE].
    if (last && done_) co_return co_await ctx_.response.stream().finish_with(pieces);
    co_return co_await ctx_.response.stream().write_pieces(pieces);
  }

  int status() const { return status_; }
  bool done() const { return done_; }
  std::string& error_body() { return error_body_; }
  const UpstreamResponse& error_head() const { return error_head_; }

 private:
  RequestContext& ctx_;
  SseParser sse_;
  int status_ = 0;
  bool done_ = false;
  UpstreamResponse error_head_;
  std::string error_body_;
};

// AnswerUpstreamError: the upstream's own error status and body, in the
// OpenAI shape (kept as is when it already is).
void AnswerUpstreamError(HttpResponse& res, int status, std::string body, std::string_view upstream) {
  res.status = status;
  res.content_type = "application/json";
  if (IsOpenAiError(body)) {
    res.body = std::move(body);
    return;
  }
  std::string message = "upstream '" + std::string(upstream) + "' answered " +
                        std::to_string(status);
  HttpErrorKind kind = HttpErrorKindFor(status == 429   ? StatusCode::kResourceExhausted
                                        : status == 401 ? StatusCode::kUnauthenticated
                                        : status == 403 ? StatusCode::kPermissionDenied
                                        : status == 404 ? StatusCode::kNotFound
                                        : status < 500  ? StatusCode::kInvalidArgument
                                                        : StatusCode::kBadGateway);
  res.body = ErrorBody(message, kind.type, kind.code);
}

// AnswerWhole: the client's answer from the upstream's whole response: its
// own error as is, a 502 for a 2xx that is not valid JSON, else its body and
// content type; reads usage on the way.
void AnswerWhole(RequestContext& ctx, UpstreamResponse& up, std::string_view upstream) {
  HttpResponse& res = ctx.response;
  MoveHeaders(up, res);
  if (up.status / 100 != 2) {
    AnswerUpstreamError(res, up.status, std::move(up.body), upstream);
    return;
  }
  if (!ValidateAndReadUsage(up.body, &ctx.usage)) {
    res.headers.clear();
    SetError(res, BadGateway("upstream '" + std::string(upstream) + "' answered invalid JSON"));
    return;
  }
  res.status = up.status;
  if (up.content_type.empty()) {
    res.content_type = "application/json";
  } else {
    res.content_type = up.content_type;
  }
  res.body = std::move(up.body);
}

}  // namespace

boost::asio::awaitable<Status> UpstreamStage::send_stream(RequestContext& ctx,
                                                         UpstreamClient& client,
                                                         const UpstreamRequest& request) {
  StreamToClient sink(ctx);
  Result<int> r = co_await client.send_streaming(request, sink);
  HttpResponse& res = ctx.response;
  if (sink.status() != 0 && sink.status() / 100 != 2) {
    CopyHeaders(sink.error_head(), res);
    AnswerUpstreamError(res, sink.status(), std::move(sink.error_body()), client.endpoint().name);
    co_return Status::Ok();
  }
  if (!ctx.streamed) co_return r.ok() ? Internal("upstream stream ended before its head") : r.status();
  // Stream taps: the stream is over, complete only with [DONE].
  for (StreamObserver* o : ctx.stream_observers) o->on_complete(r.ok() && sink.done());
  ResponseStream& out = res.stream();  // finished already if the end came with [DONE]
  if (!r.ok() || !sink.done()) {
    // The stream began and broke: tell the client in-band, then end it.
    Status s = r.ok() ? BadGateway("the upstream stream ended before [DONE]")
                      : UpstreamFailure(r.status(), client.endpoint().name);
    HttpErrorKind kind = HttpErrorKindFor(s.code());
    std::string event = "event: error\ndata: " + ErrorBody(s.message(), kind.type, kind.code) + "\n\n";
    co_await out.write(event);
  }
  co_await out.finish();
  co_return Status::Ok();
}

UpstreamStage::UpstreamStage(std::vector<std::shared_ptr<UpstreamClient>> clients,
                             const ModelRouter& router, UsageTracker& usage, Profiler* profiler,
                             UpstreamPolicy* policy)
    : clients_(std::move(clients)), router_(router), usage_(usage), policy_(policy) {
  if (profiler == nullptr) return;
  // The client profiles each exchange with the clock reads of its latency
  // metric (two reads per request fewer than timing it here again).
  for (const auto& c : clients_) c->profile_into(&profiler->site("upstream." + c->endpoint().name));
}

boost::asio::awaitable<Status> UpstreamStage::attempt(RequestContext& ctx, const RouteTarget& target,
                                                     UpstreamRequest& request) {
  UpstreamClient& client = *clients_[target.upstream];
  if (target.model != ctx.info.model) RewriteModel(ctx.request.body, ctx.info, target.model);
  request.body = ctx.request.body;
  // g++ 12 miscompiles co_await inside ?: (a temporary is destroyed twice).
  Status s;
  if (ctx.info.stream) {
    s = co_await send_stream(ctx, client, request);
  } else {
    // Awaited here rather than in a coroutine of its own: one frame less.
    Result<UpstreamResponse> r = co_await client.send(request);
    if (r.ok()) {
      AnswerWhole(ctx, *r, client.endpoint().name);
    } else {
      s = r.status();
    }
  }
  co_return s;
}

boost::asio::awaitable<void> UpstreamStage::handle(RequestContext& ctx, Next) {
  std::vector<RouteTarget> plan = router_.plan(ctx.info.model, RandomForRouting());
  if (plan.empty()) {
    SetError(ctx.response, 404, "invalid_request_error", "model_not_found",
             "The model '" + ctx.info.model + "' is not served by any configured upstream");
    co_return;
  }
  UpstreamRequest request;
  request.method = HttpMethod::kPost;
  request.path = ProxyEndpointPath(ctx.endpoint);
  // One pass over the client's headers; the first of each forwarded name.
  constexpr size_t kForwarded = std::size(kForwardedRequestHeaders);
  request.headers.reserve(kForwarded + 1);
  bool seen[kForwarded] = {};
  for (const auto& [name, value] : ctx.request.headers) {
    for (size_t i = 0; i < kForwarded; ++i) {
      if (seen[i] || value.empty() || !EqualsIgnoreCase(name, kForwardedRequestHeaders[i]))
        continue;
      seen[i] = true;
      request.headers.emplace_back(std::string(kForwardedRequestHeaders[i]), std::string(value));
    }
  }
  if (!seen[kRequestIdHeader]) request.headers.emplace_back("X-Request-Id", ctx.request.request_id);

  if (policy_ != nullptr) {
    // Two pointers, so that std::function keeps the lambda inline (no allocation).
    struct Call {
      RequestContext& ctx;
      UpstreamRequest& request;
    } call{ctx, request};
    UpstreamPolicy::Attempt attempt_target = [this, &call](const RouteTarget& t) {
      return attempt(call.ctx, t, call.request);
    };
    std::optional<size_t> answered = co_await policy_->run(ctx, plan, attempt_target);
    if (answered) {
      ctx.upstream = clients_[plan[*answered].upstream]->endpoint().name;
      usage_.record(ctx.principal.user_id, ctx.info.model, ctx.usage);
    }
    co_return;
  }

  Status last;
  for (const RouteTarget& target : plan) {
    UpstreamClient& client = *clients_[target.upstream];
    Status s = co_await attempt(ctx, target, request);
    if (s.ok()) {
      ctx.upstream = client.endpoint().name;
      usage_.record(ctx.principal.user_id, ctx.info.model, ctx.usage);
      co_return;
    }
    last = UpstreamFailure(s, client.endpoint().name);
    // Only an upstream that could not be reached is skipped for the next one.
    if (s.code() != StatusCode::kUnavailable || ctx.streamed) break;
  }
  SetError(ctx.response, last);
}

}  // namespace agentgate
