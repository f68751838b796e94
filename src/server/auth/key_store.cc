#include "server/auth/key_store.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "agentgate/core/hash.h"

namespace agentgate {

namespace {
constexpr size_t kMaxField = 256;
}

Result<std::unique_ptr<KeyStore>> KeyStore::Open(SqliteDb& db, const Clock& clock) {
  Status s = db.migrate("keys", {
      "CREATE TABLE client_keys(id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, "
      "name TEXT NOT NULL, user_id TEXT NOT NULL, tier TEXT NOT NULL, tenant TEXT NOT NULL, "
      "prefix TEXT NOT NULL, created_at_ms INTEGER NOT NULL)",
  });
  if (!s.ok()) return s;
  std::unique_ptr<KeyStore> store(new KeyStore(db, clock));
  if (Status l = store->load(); !l.ok()) return l;
  return store;
}

Status KeyStore::load() {
  auto st = db_.prepare(
      "SELECT id, hash, name, user_id, tier, tenant, prefix, created_at_ms FROM client_keys");
  if (!st.ok()) return st.status();
  std::unique_lock lock(mu_);
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Entry e;
    e.info.id = st->column_text(0);
    e.hash = st->column_text(1);
    e.info.name = st->column_text(2);
    e.info.user_id = st->column_text(3);
    e.info.tier = st->column_text(4);
    e.info.tenant = st->column_text(5);
    e.info.prefix = st->column_text(6);
    e.info.created_at_ms = st->column_int64(7);
    by_hash_[e.hash] = std::move(e);
  }
  publish_count_locked();
  return Status::Ok();
}

Result<std::pair<CreatedKey, KeyStore::Entry>> KeyStore::mint(
    const NewClientKey& request) const {
  if (request.user_id.empty()) return InvalidArgument("missing required field 'user_id'");
  for (const auto* f : {&request.user_id, &request.tier, &request.tenant, &request.name}) {
    if (f->size() > kMaxField) return InvalidArgument("key fields are limited to 256 bytes");
  }
  CreatedKey out;
  out.secret = "agk-" + RandomToken(24);
  out.info.id = "key_" + RandomToken(8);
  out.info.name = request.name;
  out.info.user_id = request.user_id;
  out.info.tier = request.tier;
  out.info.tenant = request.tenant;
  out.info.prefix = out.secret.substr(0, 10);
  out.info.created_at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now()).count();
  Entry e{Sha256Hex(out.secret), out.info};
  return std::make_pair(std::move(out), std::move(e));
}

Result<CreatedKey> KeyStore::create(const NewClientKey& request) {
  if (std::shared_lock lock(mu_); shared_) {
    return Internal("client keys are shared through Redis");
  }
  auto minted = mint(request);
  if (!minted.ok()) return minted.status();
  CreatedKey out = std::move(minted->first);
  std::string hash = std::move(minted->second.hash);

  auto st = db_.prepare(
      "INSERT INTO client_keys(id, hash, name, user_id, tier, tenant, prefix, created_at_ms) "
      "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return st.status();
  Status b = st->bind_text(1, out.info.id);
  if (b.ok()) b = st->bind_text(2, hash);
  if (b.ok()) b = st->bind_text(3, out.info.name);
  if (b.ok()) b = st->bind_text(4, out.info.user_id);
  if (b.ok()) b = st->bind_text(5, out.info.tier);
  if (b.ok()) b = st->bind_text(6, out.info.tenant);
  if (b.ok()) b = st->bind_text(7, out.info.prefix);
  if (b.ok()) b = st->bind_int64(8, out.info.created_at_ms);
  if (b.ok()) b = st->run();
  if (!b.ok()) return b;

  std::unique_lock lock(mu_);
  by_hash_[hash] = Entry{hash, out.info};
  publish_count_locked();
  return out;
}

std::vector<ClientKeyInfo> KeyStore::list() const {
  std::vector<ClientKeyInfo> out;
  {
    std::shared_lock lock(mu_);
    for (const auto& [_, e] : by_hash_) out.push_back(e.info);
  }
  std::sort(out.begin(), out.end(), [](const ClientKeyInfo& a, const ClientKeyInfo& b) {
    return a.created_at_ms != b.created_at_ms ? a.created_at_ms > b.created_at_ms : a.id < b.id;
  });
  return out;
}

Status KeyStore::revoke(std::string_view id) {
  if (std::shared_lock lock(mu_); shared_) {
    return Internal("client keys are shared through Redis");
  }
  std::string hash;
  {
    std::shared_lock lock(mu_);
    for (const auto& [h, e] : by_hash_) {
      if (e.info.id == id) hash = h;
    }
  }
  if (hash.empty()) return NotFound("no client key with id '" + std::string(id) + "'");
  auto st = db_.prepare("DELETE FROM client_keys WHERE id = ?");
  if (!st.ok()) return st.status();
  Status s = st->bind_text(1, id);
  if (s.ok()) s = st->run();
  if (!s.ok()) return s;
  std::unique_lock lock(mu_);
  by_hash_.erase(hash);
  publish_count_locked();
  return Status::Ok();
}

std::optional<Principal> KeyStore::authenticate(std::string_view secret) const {
  if (secret.empty() || secret.size() > 512) return std::nullopt;
  std::string hash = Sha256Hex(secret);
  std::shared_lock lock(mu_);
  auto it = by_hash_.find(hash);
  // The map lookup is keyed by a digest the caller cannot choose freely; the
  // final comparison is constant-time all the same.
  if (it == by_hash_.end() || !ConstantTimeEqual(it->second.hash, hash)) return std::nullopt;
  const ClientKeyInfo& i = it->second.info;
  return Principal{i.user_id, i.tier, i.tenant, i.id};
}

bool KeyStore::empty() const { return count_.load(std::memory_order_acquire) == 0; }

void KeyStore::set_shared() {
  std::unique_lock lock(mu_);
  shared_ = true;
}

Status KeyStore::store_row(const Entry& e) {
  auto st = db_.prepare(
      "INSERT OR REPLACE INTO client_keys(id, hash, name, user_id, tier, tenant, prefix, "
      "created_at_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return st.status();
  Status b = st->bind_text(1, e.info.id);
  if (b.ok()) b = st->bind_text(2, e.hash);
  if (b.ok()) b = st->bind_text(3, e.info.name);
  if (b.ok()) b = st->bind_text(4, e.info.user_id);
  if (b.ok()) b = st->bind_text(5, e.info.tier);
  if (b.ok()) b = st->bind_text(6, e.info.tenant);
  if (b.ok()) b = st->bind_text(7, e.info.prefix);
  if (b.ok()) b = st->bind_int64(8, e.info.created_at_ms);
  if (b.ok()) b = st->run();
  return b;
}

void KeyStore::install(Entry e) {
  if (Status s = store_row(e); !s.ok()) {
    spdlog::warn("client key {}: local copy not saved: {}", e.info.id, s.message());
  }
  std::unique_lock lock(mu_);
  std::erase_if(by_hash_, [&](const auto& kv) { return kv.second.info.id == e.info.id; });
  std::string hash = e.hash;
  by_hash_[hash] = std::move(e);
  publish_count_locked();
}

void KeyStore::remove_id(std::string_view id) {
  auto st = db_.prepare("DELETE FROM client_keys WHERE id = ?");
  Status s = st.status();
  if (s.ok()) s = st->bind_text(1, id);
  if (s.ok()) s = st->run();
  if (!s.ok()) spdlog::warn("client key {}: local copy not removed: {}", id, s.message());
  std::unique_lock lock(mu_);
  std::erase_if(by_hash_, [&](const auto& kv) { return kv.second.info.id == id; });
  publish_count_locked();
}

void KeyStore::replace_all(std::vector<Entry> entries) {
  Status s = db_.transaction([&] {
    Status d = db_.exec("DELETE FROM client_keys");
    for (const Entry& e : entries) {
      if (d.ok()) d = store_row(e);
    }
    return d;
  });
  if (!s.ok()) spdlog::warn("client keys: local copy not saved: {}", s.message());
  std::unordered_map<std::string, Entry> next;
  for (Entry& e : entries) {
    std::string hash = e.hash;
    next[hash] = std::move(e);
  }
  std::unique_lock lock(mu_);
  by_hash_ = std::move(next);
  publish_count_locked();
}

}  // namespace agentgate
