#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "server/auth/admin_auth.h"
#include "server/auth/audit_log.h"
#include "server/auth/key_store.h"

namespace agentgate {
namespace {

HttpRequest WithAuth(std::string_view value, bool loopback = false) {
  HttpRequest r;
  if (!value.empty()) r.headers.emplace_back("Authorization", value);
  r.remote_is_loopback = loopback;
  return r;
}

TEST(AdminAuthTest, RequiresTheBearerKey) {
  AdminAuth auth("s3cret");
  EXPECT_EQ(auth.check(WithAuth("")).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.check(WithAuth("Bearer wrong")).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.check(WithAuth("Basic s3cret")).status().code(), StatusCode::kUnauthenticated);
  // Loopback does not bypass a configured key.
  EXPECT_EQ(auth.check(WithAuth("", true)).status().code(), StatusCode::kUnauthenticated);
  auto ok = auth.check(WithAuth("Bearer s3cret"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->rfind("admin:", 0), 0u);
  EXPECT_EQ(ok->find("s3cret"), std::string::npos);
}

TEST(AdminAuthTest, WithoutAKeyOnlyLoopbackIsAdmitted) {
  AdminAuth auth("");
  EXPECT_TRUE(auth.check(WithAuth("", true)).ok());
  EXPECT_EQ(auth.check(WithAuth("Bearer x", false)).status().code(), StatusCode::kPermissionDenied);
  // Behind a local reverse proxy every client is on loopback: a forwarded
  // request is treated as remote.
  for (const char* h : {"Forwarded", "X-Forwarded-For", "X-Real-IP"}) {
    HttpRequest r = WithAuth("", true);
    r.headers.emplace_back(h, "203.0.113.7");
    EXPECT_EQ(auth.check(r).status().code(), StatusCode::kPermissionDenied) << h;
  }
}

TEST(AdminAuthTest, OnlyTheExactKeyIsAccepted) {
  const std::string key = "k3y-0123456789abcdef";
  AdminAuth auth(key);
  std::string last_changed = key;
  last_changed.back() = 'g';
  std::string first_changed = key;
  first_changed.front() = 'K';
  for (const std::string& wrong :
       {key.substr(0, key.size() - 1), key + "0", last_changed, first_changed, std::string("k"),
        std::string(4096, 'k'), "Bearer " + key}) {
    EXPECT_EQ(auth.check(WithAuth("Bearer " + wrong)).status().code(), StatusCode::kUnauthenticated)
        << wrong.substr(0, 40);
  }
  EXPECT_EQ(auth.check(WithAuth(key)).status().code(), StatusCode::kUnauthenticated);  // no scheme
  EXPECT_TRUE(auth.check(WithAuth("bearer  " + key + " ")).ok());  // scheme case, spaces
}

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/keystore_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<SqliteDb> Open() {
    auto db = SqliteDb::open({.data_dir = dir_});
    EXPECT_TRUE(db.ok());
    return std::move(*db);
  }
  std::string dir_;
  ManualClock clock_;
};

TEST_F(KeyStoreTest, KeysAuthenticateSurviveRestartAndAreStoredHashed) {
  std::string secret, id;
  {
    auto db = Open();
    auto keys = KeyStore::Open(*db, clock_);
    ASSERT_TRUE(keys.ok());
    EXPECT_TRUE((*keys)->empty());
    auto k = (*keys)->create({.user_id = "alice", .tier = "pro", .tenant = "acme", .name = "ci"});
    ASSERT_TRUE(k.ok());
    secret = k->secret;
    id = k->info.id;
    auto p = (*keys)->authenticate(secret);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->user_id, "alice");
    EXPECT_EQ(p->tier, "pro");
    EXPECT_EQ(p->tenant, "acme");
    EXPECT_FALSE((*keys)->authenticate(secret + "x").has_value());
    EXPECT_FALSE((*keys)->authenticate("").has_value());
  }
  // The database file never holds the secret.
  std::ifstream f(dir_ + "/agentgate.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find(secret), std::string::npos);

  auto db = Open();
  auto keys = KeyStore::Open(*db, clock_);
  ASSERT_TRUE(keys.ok());
  auto p = (*keys)->authenticate(secret);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->key_id, id);
  ASSERT_EQ((*keys)->list().size(), 1u);
  EXPECT_TRUE((*keys)->revoke(id).ok());
  EXPECT_EQ((*keys)->revoke(id).code(), StatusCode::kNotFound);
  EXPECT_FALSE((*keys)->authenticate(secret).has_value());
}

TEST_F(KeyStoreTest, BadRequestsStoreNothing) {
  auto db = Open();
  auto keys = KeyStore::Open(*db, clock_);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ((*keys)->create({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*keys)->create({.user_id = std::string(300, 'u')}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE((*keys)->list().empty());
}

TEST_F(KeyStoreTest, SharedModeHoldsWhatIsInstalledAndKeepsACopyForTheNextStart) {
  std::string secret, id;
  {
    auto db = Open();
    auto keys = KeyStore::Open(*db, clock_);
    ASSERT_TRUE(keys.ok());
    KeyStore& k = **keys;
    auto local = k.create({.user_id = "old"});
    ASSERT_TRUE(local.ok());
    k.set_shared();
    EXPECT_TRUE(k.authenticate(local->secret).has_value()) << "the last copy until a load";
    EXPECT_EQ(k.create({.user_id = "x"}).status().code(), StatusCode::kInternal);
    EXPECT_EQ(k.revoke(local->info.id).code(), StatusCode::kInternal);
    k.replace_all({});
    EXPECT_TRUE(k.empty());
    EXPECT_FALSE(k.authenticate(local->secret).has_value());

    auto minted = k.mint({.user_id = "alice", .tier = "pro"});
    ASSERT_TRUE(minted.ok());
    EXPECT_TRUE(k.empty()) << "mint stores nothing";
    EXPECT_EQ(minted->second.hash.find(minted->first.secret), std::string::npos);
    k.install(minted->second);
    auto p = k.authenticate(minted->first.secret);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->user_id, "alice");
    EXPECT_EQ(p->key_id, minted->first.info.id);
    secret = minted->first.secret;
    id = minted->first.info.id;
    auto gone = k.mint({.user_id = "bob"});
    ASSERT_TRUE(gone.ok());
    k.install(gone->second);
    k.remove_id(gone->first.info.id);
    EXPECT_FALSE(k.authenticate(gone->first.secret).has_value());
    EXPECT_EQ(k.mint({}).status().code(), StatusCode::kInvalidArgument);
  }
  auto db = Open();
  auto keys = KeyStore::Open(*db, clock_);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ((*keys)->list().size(), 1u) << "the copy holds exactly the installed keys";
  auto p = (*keys)->authenticate(secret);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->key_id, id);
}

TEST_F(KeyStoreTest, AuditLogListsNewestFirstWithPaging) {
  auto db = Open();
  auto audit = AuditLog::Open(*db, clock_);
  ASSERT_TRUE(audit.ok());
  for (int i = 0; i < 5; ++i) {
    clock_.advance(std::chrono::seconds(1));
    ASSERT_TRUE((*audit)->record("admin:1", "POST /api/v1/keys", "change " + std::to_string(i)).ok());
  }
  auto page = (*audit)->list(2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].summary, "change 4");
  EXPECT_EQ((*page)[1].summary, "change 3");
  EXPECT_GT((*page)[0].time_ms, (*page)[1].time_ms);
  auto next = (*audit)->list(10, (*page)[1].id);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 3u);
  EXPECT_EQ((*next)[0].summary, "change 2");
}

}  // namespace
}  // namespace agentgate
