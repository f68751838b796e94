#include "server/auth/redis_key_store.h"

#include <charconv>

#include "store/redis_batch.h"

namespace agentgate {

namespace asio = boost::asio;

namespace {
constexpr size_t kMaxId = 256;
}  // namespace

std::optional<KeyStore::Entry> ParseStoredKey(std::string_view id, const RedisReply& h) {
  KeyStore::Entry e;
  e.info.id = std::string(id);
  for (size_t i = 0; i + 1 < h.elements.size(); i += 2) {
    const std::string& f = h.elements[i].str;
    const std::string& v = h.elements[i + 1].str;
    if (f == "hash") e.hash = v;
    else if (f == "name") e.info.name = v;
    else if (f == "user_id") e.info.user_id = v;
    else if (f == "tier") e.info.tier = v;
    else if (f == "tenant") e.info.tenant = v;
    else if (f == "prefix") e.info.prefix = v;
    else if (f == "created_at_ms") {
      (void)std::from_chars(v.data(), v.data() + v.size(), e.info.created_at_ms);
    }
  }
  if (e.hash.empty() || e.info.user_id.empty()) return std::nullopt;
  return e;
}

RedisKeyStore::RedisKeyStore(KeyStore& keys, RedisClient& client, std::string prefix,
                             MetricsRegistry& metrics, ChangeFeedOptions feed)
    : keys_(keys),
      client_(client),
      prefix_(std::move(prefix)),
      errors_(metrics.counter("agentgate_keys_store_errors_total",
                              "Failed Redis reads or writes of the shared client keys")),
      feed_(client, prefix_ + "ck:log", errors_, feed) {
  keys_.set_shared();
}

std::string RedisKeyStore::key_of(std::string_view id) const {
  return prefix_ + "ck:id:" + std::string(id);
}

void RedisKeyStore::start() {
  feed_.start([this](std::string id) { return reload_one(std::move(id)); },
              [this] { return reload_all(); });
}

asio::awaitable<Result<CreatedKey>> RedisKeyStore::create(NewClientKey request) {
  auto minted = keys_.mint(request);
  if (!minted.ok()) co_return minted.status();
  const KeyStore::Entry& e = minted->second;
  std::vector<std::string> cmd{"HSET",    key_of(e.info.id),
                               "hash",    e.hash,
                               "name",    e.info.name,
                               "user_id", e.info.user_id,
                               "tier",    e.info.tier,
                               "tenant",  e.info.tenant,
                               "prefix",  e.info.prefix,
                               "created_at_ms", std::to_string(e.info.created_at_ms)};
  Result<RedisReply> r = co_await client_.command(std::move(cmd));
  Status s = r.status();
  if (s.ok() && r->is_error()) s = Unavailable("redis HSET: " + r->str);
  if (!s.ok()) {
    errors_.inc();
    co_return Unavailable("shared client keys unavailable: " + s.message());
  }
  std::string id = e.info.id;
  {
    std::lock_guard lock(install_mu_);
    ++installs_;
    keys_.install(minted->second);
  }
  // The key stands even if the announcement fails: the others' next resync has it.
  (void)co_await feed_.publish(std::move(id));
  co_return std::move(minted->first);
}

asio::awaitable<Status> RedisKeyStore::revoke(std::string id) {
  if (id.empty() || id.size() > kMaxId) co_return NotFound("no client key with id '" + id + "'");
  std::vector<std::string> cmd{"DEL", key_of(id)};
  Result<RedisReply> r = co_await client_.command(std::move(cmd));
  Status s = r.status();
  if (s.ok() && r->type != RedisReply::Type::kInteger) s = Unavailable("redis DEL: " + DebugString(*r));
  if (!s.ok()) {
    errors_.inc();
    co_return Unavailable("shared client keys unavailable: " + s.message());
  }
  {
    std::lock_guard lock(install_mu_);
    ++installs_;
    keys_.remove_id(id);
  }
  if (r->integer == 0) co_return NotFound("no client key with id '" + id + "'");
  (void)co_await feed_.publish(std::move(id));
  co_return Status::Ok();
}

uint64_t RedisKeyStore::installed() {
  std::lock_guard lock(install_mu_);
  return installs_;
}

asio::awaitable<Status> RedisKeyStore::reload_one(std::string id) {
  const uint64_t before = installed();
  std::vector<std::string> cmd{"HGETALL", key_of(id)};
  Result<RedisReply> r = co_await client_.command(std::move(cmd));
  if (!r.ok()) co_return r.status();
  if (r->type != RedisReply::Type::kArray) co_return Unavailable("HGETALL: " + DebugString(*r));
  std::optional<KeyStore::Entry> e = ParseStoredKey(id, *r);
  std::lock_guard lock(install_mu_);
  if (installs_ != before) co_return Status::Ok();
  if (e) {
    keys_.install(std::move(*e));
  } else {
    keys_.remove_id(id);
  }
  co_return Status::Ok();
}

asio::awaitable<Status> RedisKeyStore::reload_all() {
  // A local write installed meanwhile makes the snapshot stale: read again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const uint64_t before = installed();
    Result<std::vector<KeyStore::Entry>> all = co_await read_all();
    if (!all.ok()) co_return all.status();
    std::lock_guard lock(install_mu_);
    if (installs_ == before) {
      keys_.replace_all(std::move(*all));
      break;
    }
  }
  co_return Status::Ok();
}

asio::awaitable<Result<std::vector<KeyStore::Entry>>> RedisKeyStore::read_all() {
  Result<std::vector<std::pair<std::string, RedisReply>>> hashes =
      co_await ScanHashes(client_, prefix_ + "ck:id:");
  if (!hashes.ok()) co_return hashes.status();
  std::vector<KeyStore::Entry> all;
  for (const auto& [id, reply] : *hashes) {
    if (auto e = ParseStoredKey(id, reply)) all.push_back(std::move(*e));
  }
  co_return all;
}

}  // namespace agentgate
