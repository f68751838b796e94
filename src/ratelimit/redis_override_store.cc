#include "ratelimit/redis_override_store.h"

#include <charconv>

#include "store/redis_batch.h"

namespace agentgate {

namespace asio = boost::asio;

namespace {

// KEYS[1] the user's hash; ARGV field, value. Returns the whole hash after.
constexpr const char* kSetScript = R"lua(
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])
)lua";

constexpr char kEndpointFieldSeparator = '|';

bool ParseInt(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

UserOverride ParseOverride(const RedisReply& h) {
  UserOverride o;
  for (size_t i = 0; i + 1 < h.elements.size(); i += 2) {
    const std::string& field = h.elements[i].str;
    const std::string& value = h.elements[i + 1].str;
    if (field == "tier") {
      o.tier = value;
      continue;
    }
    int64_t limit = 0;
    if (!ParseInt(value, &limit) || limit < -1) continue;
    std::string_view window_name = field, endpoint;
    if (size_t sep = field.rfind(kEndpointFieldSeparator); sep != std::string::npos) {
      endpoint = std::string_view(field).substr(0, sep);
      window_name = std::string_view(field).substr(sep + 1);
    }
    Result<RateWindow> w = ParseRateWindow(window_name);
    if (!w.ok()) continue;
    if (endpoint.empty()) {
      o.custom[static_cast<int>(*w)] = limit;
    } else {
      auto e = o.endpoints.try_emplace(std::string(endpoint)).first;
      if (e->second == std::array<int64_t, kRateWindowCount>{}) e->second = {-1, -1, -1, -1};
      e->second[static_cast<int>(*w)] = limit;
    }
  }
  return o;
}

RedisOverrideStore::RedisOverrideStore(RateLimitPolicy& policy, RedisClient& client,
                                       std::string prefix, MetricsRegistry& metrics,
                                       ChangeFeedOptions feed)
    : policy_(policy),
      client_(client),
      prefix_(std::move(prefix)),
      errors_(metrics.counter("agentgate_ratelimit_shared_errors_total",
                              "Failed Redis reads or writes of state shared between instances",
                              {{"kind", "overrides"}})),
      set_script_(client, kSetScript),
      feed_(client, prefix_ + "ovr:log", errors_, feed) {}

std::string RedisOverrideStore::key_of(std::string_view user) const {
  std::string k;
  k.reserve(prefix_.size() + 6 + user.size());
  k += prefix_;
  k += "ovr:{";
  k += user;
  k += '}';
  return k;
}

void RedisOverrideStore::start() {
  feed_.start([this](std::string user) { return reload_user(std::move(user)); },
              [this] { return reload_all(); });
}

asio::awaitable<Status> RedisOverrideStore::set_user_tier(std::string user, std::string tier) {
  if (Status s = policy_.check_user_tier(user, tier); !s.ok()) co_return s;
  co_return co_await write(std::move(user), "tier", std::move(tier));
}

asio::awaitable<Status> RedisOverrideStore::set_custom_limit(std::string user, RateWindow window,
                                                             int64_t limit, std::string endpoint) {
  if (Status s = RateLimitPolicy::check_custom_limit(user, limit, endpoint); !s.ok()) co_return s;
  std::string field(RateWindowName(window));
  if (!endpoint.empty()) field = endpoint + kEndpointFieldSeparator + field;
  co_return co_await write(std::move(user), std::move(field), std::to_string(limit));
}

asio::awaitable<Status> RedisOverrideStore::write(std::string user, std::string field,
                                                  std::string value) {
  std::vector<std::string> keys{key_of(user)};
  std::vector<std::string> args{std::move(field), std::move(value)};
  Result<RedisReply> r = co_await set_script_.eval(std::move(keys), std::move(args));
  Status s = r.status();
  if (s.ok() && r->type != RedisReply::Type::kArray) {
    s = Unavailable("redis override write: " + DebugString(*r));
  }
  if (!s.ok()) {
    errors_.inc();
    co_return Unavailable("shared rate-limit settings unavailable: " + s.message());
  }
  {
    std::lock_guard lock(install_mu_);
    ++installs_;
    policy_.replace_override(user, ParseOverride(*r));
  }
  // The write stands even if the announcement fails: the others' next
  // resync (after their own error, or within ChangeFeedOptions::resync) has it.
  (void)co_await feed_.publish(std::move(user));
  co_return Status::Ok();
}

asio::awaitable<Status> RedisOverrideStore::reload_user(std::string user) {
  const uint64_t before = installed();
  std::vector<std::string> cmd{"HGETALL", key_of(user)};
  Result<RedisReply> r = co_await client_.command(std::move(cmd));
  if (!r.ok()) co_return r.status();
  if (r->type != RedisReply::Type::kArray) co_return Unavailable("HGETALL: " + DebugString(*r));
  std::lock_guard lock(install_mu_);
  if (installs_ == before) policy_.replace_override(user, ParseOverride(*r));
  co_return Status::Ok();
}

uint64_t RedisOverrideStore::installed() {
  std::lock_guard lock(install_mu_);
  return installs_;
}

asio::awaitable<Status> RedisOverrideStore::reload_all() {
  // A local write installed meanwhile makes the snapshot stale: read again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const uint64_t before = installed();
    Result<std::unordered_map<std::string, UserOverride>> all = co_await read_all();
    if (!all.ok()) co_return all.status();
    std::lock_guard lock(install_mu_);
    if (installs_ == before) {
      policy_.replace_all(std::move(*all));
      break;
    }
  }
  co_return Status::Ok();
}

asio::awaitable<Result<std::unordered_map<std::string, UserOverride>>>
RedisOverrideStore::read_all() {
  Result<std::vector<std::pair<std::string, RedisReply>>> hashes =
      co_await ScanHashes(client_, prefix_ + "ovr:{");
  if (!hashes.ok()) co_return hashes.status();
  std::unordered_map<std::string, UserOverride> all;
  for (auto& [tagged, reply] : *hashes) {  // "<user>}"
    if (tagged.size() < 2 || tagged.back() != '}') continue;
    tagged.pop_back();
    all[std::move(tagged)] = ParseOverride(reply);
  }
  co_return all;
}

}  // namespace agentgate
