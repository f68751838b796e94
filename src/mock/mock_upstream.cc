#include "mock/mock_upstream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "agentgate/core/hash.h"
#include "mock/mock_content.h"
#include "server/error_response.h"

namespace agentgate {

namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kFingerprint = "fp_agentgate_mock";
constexpr int64_t kModelCreated = 1700000000;
constexpr int kMaxEmbeddingDimensions = 8192;
constexpr Nanos kSleepSlice = 100ms;
// A 200 whose body stops in the middle of a string (invalid_json_rate).
constexpr std::string_view kBrokenJson =
    R"({"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assist)";

using HeaderPairs = std::vector<std::pair<std::string, std::string>>;

void BadRequest(HttpResponse& res, std::string_view message) {
  SetError(res, 400, "invalid_request_error", "invalid_request", message);
}

// ContentText: a message's text: a string, or the text parts of an array.
std::string ContentText(const Json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string text;
  if (content.is_array()) {
    for (const Json& part : content) {
      if (!part.is_object()) continue;
      auto t = part.find("text");
      if (t == part.end() || !t->is_string()) continue;
      if (!text.empty()) text += ' ';
      text += t->get<std::string>();
    }
  }
  return text;
}

// MaxTokens: `max_completion_tokens` or `max_tokens`, or 0 when absent.
Result<int64_t> MaxTokens(const Json& body) {
  for (std::string_view key : {std::string_view("max_completion_tokens"), std::string_view("max_tokens")}) {
    Result<int64_t> n = GetInt(body, key, false, 0);
    if (!n.ok()) return n.status();
    if (*n < 0) return InvalidArgument("field '" + std::string(key) + "' must be positive");
    if (*n > 0) return *n;
  }
  return int64_t{0};
}

// Reply: the completion text for `prompt`, cut to max_tokens when given.
struct Reply {
  std::string text;
  std::string_view finish_reason;
};

Reply MakeReply(std::string_view prompt, size_t max_echo_chars, int64_t max_tokens) {
  Reply r;
  r.text = prompt.find_first_not_of(" \t\r\n") == std::string_view::npos
               ? std::string("Hello! I am agentgate-mock.")
               : EchoReply(prompt, max_echo_chars);
  r.finish_reason = "stop";
  if (max_tokens > 0 && EstimateTokens(r.text) > max_tokens) {
    r.text = std::string(TruncateToTokens(r.text, max_tokens));
    r.finish_reason = "length";
  }
  return r;
}

Json Usage(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

std::string SseEvent(const Json& j) { return "data: " + DumpJson(j) + "\n\n"; }

struct StreamRequest {
  bool stream = false;
  bool include_usage = false;
};

Result<StreamRequest> ParseStream(const Json& body) {
  StreamRequest s;
  Result<bool> stream = GetBool(body, "stream", false, false);
  if (!stream.ok()) return stream.status();
  s.stream = *stream;
  auto opts = body.find("stream_options");
  if (opts != body.end() && !opts->is_null()) {
    if (!opts->is_object()) return InvalidArgument("field 'stream_options' must be an object");
    Result<bool> usage = GetBool(*opts, "include_usage", false, false);
    if (!usage.ok()) return InvalidArgument("field 'stream_options.include_usage' must be a boolean");
    s.include_usage = *usage;
  }
  return s;
}

}  // namespace

MockUpstream::MockUpstream(MockUpstreamOptions options)
    : options_(std::move(options)), faults_(options_.initial_faults), rng_(options_.seed) {}

void MockUpstream::register_routes(Router& router) {
  auto v1 = [this](Endpoint e) -> Handler {
    return [this, e](HttpRequest& req, HttpResponse& res) { return serve_v1(req, res, e); };
  };
  router.add(HttpMethod::kPost, "/v1/chat/completions", v1(Endpoint::kChat),
             "Mock chat completion (SSE with stream: true)");
  router.add(HttpMethod::kPost, "/v1/completions", v1(Endpoint::kCompletions),
             "Mock legacy completion");
  router.add(HttpMethod::kPost, "/v1/embeddings", v1(Endpoint::kEmbeddings),
             "Mock hashed bag-of-words embeddings");
  router.add(HttpMethod::kGet, "/v1/models", v1(Endpoint::kModels), "Mock model list");
  router.add(HttpMethod::kGet, "/v1/models/{model}", v1(Endpoint::kModel), "Mock model");

  router.add(
      HttpMethod::kPost, "/_mock/faults",
      [this](HttpRequest& req, HttpResponse& res) -> net::awaitable<void> {
        std::string_view body = req.body;
        bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
        Result<Json> j = blank ? Result<Json>(Json::object()) : ParseJsonObject(body);
        if (!j.ok()) {
          SetError(res, j.status());
          co_return;
        }
        Result<MockFaults> f = ParseMockFaults(*j);
        if (!f.ok()) {
          SetError(res, f.status());
          co_return;
        }
        set_faults(*f);
        res.body = DumpJson(Json{{"faults", MockFaultsToJson(*f)}});
      },
      "Set the mock's faults; {} clears them");
  router.add(
      HttpMethod::kGet, "/_mock/faults",
      [this](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
        res.body = DumpJson(Json{{"faults", MockFaultsToJson(faults())}});
        co_return;
      },
      "The mock's faults");
  router.add(
      HttpMethod::kGet, "/_mock/stats",
      [this](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
        res.body = DumpJson(stats_json());
        co_return;
      },
      "Requests the mock received");
  Handler reset = [this](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
    reset_stats();
    res.body = DumpJson(stats_json());
    co_return;
  };
  router.add(HttpMethod::kPost, "/_mock/reset", reset, "Zero the mock's counters");
  router.add(HttpMethod::kDelete, "/_mock/stats", reset, "Zero the mock's counters");
}

void MockUpstream::set_faults(const MockFaults& faults) {
  std::lock_guard lock(mu_);
  faults_ = faults;
}

MockFaults MockUpstream::faults() const {
  std::lock_guard lock(mu_);
  return faults_;
}

Json MockUpstream::stats_json() const {
  std::lock_guard lock(mu_);
  Json calls = Json::object();
  for (const auto& [path, n] : calls_) calls[path] = n;
  Json injected = Json::object();
  for (const auto& [what, n] : injected_) injected[what] = n;
  Json last = nullptr;
  if (has_last_ && !last_body_.empty()) {
    last = Json::parse(last_body_, nullptr, /*allow_exceptions=*/false);
    if (last.is_discarded()) last = last_body_;
  }
  return {{"total", total_},
          {"calls", std::move(calls)},
          {"faults_injected", std::move(injected)},
          {"last_authorization", last_authorization_},
          {"last_request", std::move(last)},
          {"faults", MockFaultsToJson(faults_)}};
}

void MockUpstream::reset_stats() {
  std::lock_guard lock(mu_);
  total_ = 0;
  calls_.clear();
  injected_.clear();
  last_authorization_.clear();
  last_body_.clear();
  has_last_ = false;
}

uint64_t MockUpstream::total_calls() const {
  std::lock_guard lock(mu_);
  return total_;
}

void MockUpstream::stop() { stopping_.store(true, std::memory_order_release); }

FaultPlan MockUpstream::admit(const HttpRequest& req) {
  std::lock_guard lock(mu_);
  ++total_;
  auto it = calls_.find(req.path);
  if (it == calls_.end()) it = calls_.emplace(std::string(req.path), 0).first;
  ++it->second;
  last_authorization_ = req.header("Authorization");
  last_body_ = req.body;
  has_last_ = true;
  FaultPlan plan = PlanFaults(faults_, rng_);
  if (plan.action != FaultAction::kNone) ++injected_[std::string(FaultActionName(plan.action))];
  return plan;
}

void MockUpstream::count_injected(std::string_view what) {
  std::lock_guard lock(mu_);
  ++injected_[std::string(what)];
}

bool MockUpstream::authorized(const HttpRequest& req) const {
  if (options_.required_api_key.empty()) return true;
  std::string_view auth = req.header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() < kBearer.size() || !EqualsIgnoreCase(auth.substr(0, kBearer.size()), kBearer)) {
    return false;
  }
  return ConstantTimeEqual(auth.substr(kBearer.size()), options_.required_api_key);
}

net::awaitable<bool> MockUpstream::sleep(Nanos d) const {
  auto executor = co_await net::this_coro::executor;
  net::steady_timer timer(executor);
  auto deadline = std::chrono::steady_clock::now() + d;
  for (;;) {
    if (stopping_.load(std::memory_order_acquire)) co_return false;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) co_return true;
    timer.expires_at(std::min<std::chrono::steady_clock::time_point>(deadline, now + kSleepSlice));
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec && ec != net::error::operation_aborted) co_return false;
  }
}

std::string MockUpstream::next_id(std::string_view prefix, std::string_view body) {
  uint64_t seq = sequence_.fetch_add(1, std::memory_order_relaxed);
  return fmt::format("{}{:016x}", prefix, Hash64(body, options_.seed ^ seq));
}

int64_t MockUpstream::now_seconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(options_.clock->now()).count();
}

net::awaitable<void> MockUpstream::serve_v1(HttpRequest& req, HttpResponse& res,
                                            Endpoint endpoint) {
  FaultPlan plan = admit(req);
  if (plan.latency.count() > 0 && !co_await sleep(plan.latency)) {
    res.abort = true;
    co_return;
  }
  if (!authorized(req)) {
    SetError(res, 401, "authentication_error", "invalid_api_key",
             "Incorrect API key provided (agentgate-mock requires a specific bearer key)");
    co_return;
  }
  switch (plan.action) {
    case FaultAction::kNone: break;
    case FaultAction::kReset:
      res.abort = true;
      co_return;
    case FaultAction::kHang:
      co_await sleep(options_.max_hang);
      res.abort = true;
      co_return;
    case FaultAction::kError: {
      MockErrorKind kind = MockErrorKindFor(plan.error_status);
      SetError(res, plan.error_status, kind.type, kind.code, kind.message);
      if (plan.error_status == 429 || plan.error_status == 503) {
        res.set_header("Retry-After", std::to_string(plan.retry_after_s));
      }
      co_return;
    }
    case FaultAction::kInvalidJson:
      res.status = 200;
      res.body = std::string(kBrokenJson);
      co_return;
  }
  switch (endpoint) {
    case Endpoint::kChat: co_await chat(req, res, plan); break;
    case Endpoint::kCompletions: co_await completions(req, res, plan); break;
    case Endpoint::kEmbeddings: embeddings(req, res); break;
    case Endpoint::kModels: models(res); break;
    case Endpoint::kModel: model(req, res); break;
  }
}

// StreamEvents: writes SSE events one by one with the plan's delay between
// them. With `cut` < events.size(), stops before events[cut] and closes the
// connection (truncate_stream).
static net::awaitable<void> StreamEvents(HttpResponse& res, const std::vector<std::string>& events,
                                         size_t cut, Nanos delay,
                                         std::function<net::awaitable<bool>(Nanos)> sleep) {
  HeaderPairs headers;
  headers.emplace_back("Cache-Control", "no-cache");
  ResponseStream& s = res.stream();
  // The head goes out with the first event (as a provider behind nginx
  // sends it), unless the stream is cut before that event.
  const bool hold = cut > 0 && !events.empty();
  if (!co_await s.begin(200, "text/event-stream", headers, hold)) co_return;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i == cut) {
      res.abort = true;
      co_return;
    }
    if (i > 0 && delay.count() > 0 && !co_await sleep(delay)) {
      res.abort = true;
      co_return;
    }
    if (!co_await s.write(events[i])) co_return;
  }
  co_await s.finish();
}

net::awaitable<void> MockUpstream::chat(HttpRequest& req, HttpResponse& res,
                                        const FaultPlan& plan) {
  Result<Json> parsed = ParseJsonObject(req.body);
  if (!parsed.ok()) {
    SetError(res, parsed.status());
    co_return;
  }
  const Json& body = *parsed;
  Result<std::string> model_name = GetString(body, "model", true);
  if (!model_name.ok()) {
    SetError(res, model_name.status());
    co_return;
  }
  auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array() || messages->empty()) {
    BadRequest(res, "field 'messages' must be a non-empty array of messages");
    co_return;
  }
  int64_t prompt_tokens = 0;
  std::string prompt;
  bool have_user = false;
  for (const Json& m : *messages) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      BadRequest(res, "each of 'messages' must be an object with a string 'role'");
      co_return;
    }
    std::string text = m.contains("content") ? ContentText(m["content"]) : std::string();
    prompt_tokens += 4 + EstimateTokens(text);
    bool user = m["role"].get<std::string>() == "user";
    if (user || !have_user) prompt = std::move(text);
    have_user = have_user || user;
  }
  Result<int64_t> max_tokens = MaxTokens(body);
  Result<StreamRequest> stream = ParseStream(body);
  if (!max_tokens.ok() || !stream.ok()) {
    SetError(res, !max_tokens.ok() ? max_tokens.status() : stream.status());
    co_return;
  }
  Reply reply = MakeReply(prompt, options_.max_echo_chars, *max_tokens);
  int64_t completion_tokens = EstimateTokens(reply.text);
  std::string id = next_id("chatcmpl-", req.body);
  int64_t created = now_seconds();

  if (!stream->stream) {
    Json out = {{"id", id},
                {"object", "chat.completion"},
                {"created", created},
                {"model", *model_name},
                {"system_fingerprint", kFingerprint},
                {"choices",
                 Json::array({{{"index", 0},
                               {"message",
                                {{"role", "assistant"}, {"content", reply.text}, {"refusal", nullptr}}},
                               {"logprobs", nullptr},
                               {"finish_reason", reply.finish_reason}}})},
                {"usage", Usage(prompt_tokens, completion_tokens)}};
    res.body = DumpJson(out);
    co_return;
  }

  auto chunk = [&](Json delta, Json finish_reason) {
    Json c = {{"id", id},
              {"object", "chat.completion.chunk"},
              {"created", created},
              {"model", *model_name},
              {"system_fingerprint", kFingerprint},
              {"choices", Json::array({{{"index", 0},
                                        {"delta", std::move(delta)},
                                        {"logprobs", nullptr},
                                        {"finish_reason", std::move(finish_reason)}}})}};
    if (stream->include_usage) c["usage"] = nullptr;
    return c;
  };
  std::vector<std::string> events;
  events.push_back(SseEvent(chunk({{"role", "assistant"}, {"content", ""}}, nullptr)));
  std::vector<std::string_view> pieces = SplitStreamPieces(reply.text);
  for (std::string_view p : pieces) events.push_back(SseEvent(chunk({{"content", p}}, nullptr)));
  events.push_back(SseEvent(chunk(Json::object(), reply.finish_reason)));
  if (stream->include_usage) {
    Json u = {{"id", id},
              {"object", "chat.completion.chunk"},
              {"created", created},
              {"model", *model_name},
              {"system_fingerprint", kFingerprint},
              {"choices", Json::array()},
              {"usage", Usage(prompt_tokens, completion_tokens)}};
    events.push_back(SseEvent(u));
  }
  events.emplace_back("data: [DONE]\n\n");
  size_t cut = events.size();
  if (plan.truncate_stream) {
    cut = 1 + (pieces.size() + 1) / 2;  // after the role chunk and half the content
    count_injected("truncate");
  }
  auto sleeper = [this](Nanos d) { return sleep(d); };
  co_await StreamEvents(res, events, cut, plan.stream_chunk_delay, sleeper);
}

net::awaitable<void> MockUpstream::completions(HttpRequest& req, HttpResponse& res,
                                               const FaultPlan& plan) {
  Result<Json> parsed = ParseJsonObject(req.body);
  if (!parsed.ok()) {
    SetError(res, parsed.status());
    co_return;
  }
  const Json& body = *parsed;
  Result<std::string> model_name = GetString(body, "model", true);
  if (!model_name.ok()) {
    SetError(res, model_name.status());
    co_return;
  }
  std::vector<std::string> prompts;
  auto prompt = body.find("prompt");
  if (prompt == body.end() || prompt->is_null()) {
    prompts.emplace_back();
  } else if (prompt->is_string()) {
    prompts.push_back(prompt->get<std::string>());
  } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_number_integer()) {
    prompts.push_back(fmt::format("{} tokens", prompt->size()));
  } else if (prompt->is_array() && !prompt->empty()) {
    for (const Json& p : *prompt) {
      if (!p.is_string()) {
        BadRequest(res, "field 'prompt' must be a string or an array of strings");
        co_return;
      }
      prompts.push_back(p.get<std::string>());
    }
  } else {
    BadRequest(res, "field 'prompt' must be a string or a non-empty array of strings");
    co_return;
  }
  Result<int64_t> max_tokens = MaxTokens(body);
  Result<StreamRequest> stream = ParseStream(body);
  if (!max_tokens.ok() || !stream.ok()) {
    SetError(res, !max_tokens.ok() ? max_tokens.status() : stream.status());
    co_return;
  }
  std::vector<Reply> replies;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  for (const std::string& p : prompts) {
    prompt_tokens += EstimateTokens(p);
    replies.push_back(MakeReply(p, options_.max_echo_chars, *max_tokens));
    completion_tokens += EstimateTokens(replies.back().text);
  }
  std::string id = next_id("cmpl-", req.body);
  int64_t created = now_seconds();
  auto envelope = [&](Json choices) {
    return Json{{"id", id},
                {"object", "text_completion"},
                {"created", created},
                {"model", *model_name},
                {"system_fingerprint", kFingerprint},
                {"choices", std::move(choices)}};
  };
  auto choice = [](size_t index, std::string_view text, Json finish_reason) {
    return Json{{"text", text},
                {"index", index},
                {"logprobs", nullptr},
                {"finish_reason", std::move(finish_reason)}};
  };

  if (!stream->stream) {
    Json choices = Json::array();
    for (size_t i = 0; i < replies.size(); ++i) {
      choices.push_back(choice(i, replies[i].text, replies[i].finish_reason));
    }
    Json out = envelope(std::move(choices));
    out["usage"] = Usage(prompt_tokens, completion_tokens);
    res.body = DumpJson(out);
    co_return;
  }

  std::vector<std::string> events;
  size_t content_events = 0;
  for (size_t i = 0; i < replies.size(); ++i) {
    for (std::string_view p : SplitStreamPieces(replies[i].text)) {
      events.push_back(SseEvent(envelope(Json::array({choice(i, p, nullptr)}))));
      ++content_events;
    }
  }
  for (size_t i = 0; i < replies.size(); ++i) {
    events.push_back(SseEvent(envelope(Json::array({choice(i, "", replies[i].finish_reason)}))));
  }
  if (stream->include_usage) {
    Json u = envelope(Json::array());
    u["usage"] = Usage(prompt_tokens, completion_tokens);
    events.push_back(SseEvent(u));
  }
  events.emplace_back("data: [DONE]\n\n");
  size_t cut = events.size();
  if (plan.truncate_stream) {
    cut = std::max<size_t>(1, (content_events + 1) / 2);
    count_injected("truncate");
  }
  auto sleeper = [this](Nanos d) { return sleep(d); };
  co_await StreamEvents(res, events, cut, plan.stream_chunk_delay, sleeper);
}

void MockUpstream::embeddings(const HttpRequest& req, HttpResponse& res) {
  Result<Json> parsed = ParseJsonObject(req.body);
  if (!parsed.ok()) {
    SetError(res, parsed.status());
    return;
  }
  const Json& body = *parsed;
  Result<std::string> model_name = GetString(body, "model", true);
  if (!model_name.ok()) {
    SetError(res, model_name.status());
    return;
  }
  std::vector<std::string> inputs;
  auto input = body.find("input");
  auto tokens_text = [](const Json& arr) {
    std::string s;
    for (const Json& t : arr) {
      if (!s.empty()) s += ' ';
      s += t.dump();
    }
    return s;
  };
  if (input == body.end() || input->is_null()) {
    BadRequest(res, "missing required field 'input'");
    return;
  }
  if (input->is_string()) {
    inputs.push_back(input->get<std::string>());
  } else if (input->is_array() && !input->empty() && (*input)[0].is_number_integer()) {
    inputs.push_back(tokens_text(*input));
  } else if (input->is_array() && !input->empty()) {
    for (const Json& s : *input) {
      if (s.is_string()) {
        inputs.push_back(s.get<std::string>());
      } else if (s.is_array()) {
        inputs.push_back(tokens_text(s));
      } else {
        BadRequest(res, "field 'input' must be a string or an array of strings");
        return;
      }
    }
  } else {
    BadRequest(res, "field 'input' must be a string or a non-empty array of strings");
    return;
  }
  Result<int64_t> dims = GetInt(body, "dimensions", false, options_.default_embedding_dimensions);
  if (!dims.ok()) {
    SetError(res, dims.status());
    return;
  }
  if (*dims < 1 || *dims > kMaxEmbeddingDimensions) {
    BadRequest(res, "field 'dimensions' must be between 1 and 8192");
    return;
  }
  Result<std::string> format = GetString(body, "encoding_format", false, "float");
  if (!format.ok() || (*format != "float" && *format != "base64")) {
    BadRequest(res, "field 'encoding_format' must be \"float\" or \"base64\"");
    return;
  }
  Json data = Json::array();
  int64_t prompt_tokens = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    prompt_tokens += EstimateTokens(inputs[i]);
    std::vector<float> v = MockEmbedding(inputs[i], static_cast<int>(*dims));
    Json e = {{"object", "embedding"}, {"index", i}};
    if (*format == "base64") {
      e["embedding"] = EncodeFloatsBase64(v);
    } else {
      e["embedding"] = v;
    }
    data.push_back(std::move(e));
  }
  Json out = {{"object", "list"},
              {"data", std::move(data)},
              {"model", *model_name},
              {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}};
  res.body = DumpJson(out);
}

void MockUpstream::models(HttpResponse& res) const {
  Json data = Json::array();
  for (const std::string& m : options_.models) {
    data.push_back(
        {{"id", m}, {"object", "model"}, {"created", kModelCreated}, {"owned_by", "agentgate-mock"}});
  }
  res.body = DumpJson(Json{{"object", "list"}, {"data", std::move(data)}});
}

void MockUpstream::model(const HttpRequest& req, HttpResponse& res) const {
  std::string_view name = req.path_param("model");
  if (std::find(options_.models.begin(), options_.models.end(), name) == options_.models.end()) {
    SetError(res, 404, "invalid_request_error", "model_not_found",
             "The model '" + std::string(name) + "' does not exist");
    return;
  }
  res.body = DumpJson(Json{
      {"id", name}, {"object", "model"}, {"created", kModelCreated}, {"owned_by", "agentgate-mock"}});
}

}  // namespace agentgate
