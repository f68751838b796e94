#include "store/sqlite_db.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <thread>

namespace agentgate {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("agentgate_sqlite_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter));
    fs::remove_all(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::unique_ptr<SqliteDb> OpenMemory() {
  Result<std::unique_ptr<SqliteDb>> db = SqliteDb::open_memory();
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return std::move(db).value();
}

int64_t CountRows(SqliteDb& db, const std::string& table) {
  Result<Statement> st = db.prepare("SELECT COUNT(*) FROM " + table);
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  Result<bool> row = st->step();
  EXPECT_TRUE(row.ok() && *row);
  return st->column_int64(0);
}

const std::vector<std::string> kStepsV2 = {
    "CREATE TABLE tiers(name TEXT PRIMARY KEY, rpm INTEGER NOT NULL)",
    "ALTER TABLE tiers ADD COLUMN rpd INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX tiers_rpm ON tiers(rpm)",
};

TEST(SqliteDbTest, CreatesDataDirAndUsesWal) {
  TempDir dir;
  SqliteOptions options;
  options.data_dir = (dir.path() / "nested" / "data").string();
  options.file_name = "test.db";
  Result<std::unique_ptr<SqliteDb>> db = SqliteDb::open(options);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_TRUE(fs::exists(dir.path() / "nested" / "data" / "test.db"));

  Result<Statement> mode = (*db)->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->step());
  EXPECT_EQ(mode->column_text(0), "wal");

  Result<Statement> fk = (*db)->prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(fk.ok());
  ASSERT_TRUE(*fk->step());
  EXPECT_EQ(fk->column_int64(0), 1);

  Result<Statement> sync = (*db)->prepare("PRAGMA synchronous");
  ASSERT_TRUE(sync.ok());
  ASSERT_TRUE(*sync->step());
  EXPECT_EQ(sync->column_int64(0), 1);  // NORMAL
}

TEST(SqliteDbTest, MigrationsApplyOnceAndSurviveReopen) {
  TempDir dir;
  SqliteOptions options;
  options.data_dir = dir.path().string();
  options.file_name = "m.db";
  {
    Result<std::unique_ptr<SqliteDb>> db = SqliteDb::open(options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    std::vector<std::string> v1(kStepsV2.begin(), kStepsV2.begin() + 1);
    ASSERT_TRUE((*db)->migrate("ratelimit", v1).ok());
    EXPECT_EQ(*(*db)->schema_version("ratelimit"), 1);
    ASSERT_TRUE((*db)->exec("INSERT INTO tiers(name, rpm) VALUES('free', 60)").ok());
    // Same steps again: nothing to do (a second CREATE TABLE would fail).
    Status again = (*db)->migrate("ratelimit", v1);
    EXPECT_TRUE(again.ok()) << again.ToString();
    EXPECT_EQ(*(*db)->schema_version("other"), 0);
  }
  {
    Result<std::unique_ptr<SqliteDb>> db = SqliteDb::open(options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_EQ(*(*db)->schema_version("ratelimit"), 1);
    Status s = (*db)->migrate("ratelimit", kStepsV2);  // applies only v2
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(*(*db)->schema_version("ratelimit"), 2);
    ASSERT_TRUE((*db)->migrate("ratelimit", kStepsV2).ok());
    Result<Statement> st = (*db)->prepare("SELECT name, rpm, rpd FROM tiers");
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->column_text(0), "free");
    EXPECT_EQ(st->column_int64(1), 60);
    EXPECT_EQ(st->column_int64(2), 0);
    EXPECT_FALSE(*st->step());
    EXPECT_EQ(CountRows(**db, "schema_migrations"), 2);
  }
  {
    Result<std::unique_ptr<SqliteDb>> db = SqliteDb::open(options);
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(*(*db)->schema_version("ratelimit"), 2);
    // A binary that knows only v1 refuses a v2 database.
    std::vector<std::string> v1(kStepsV2.begin(), kStepsV2.begin() + 1);
    Status s = (*db)->migrate("ratelimit", v1);
    EXPECT_EQ(s.code(), StatusCode::kInternal) << s.ToString();
  }
}

TEST(SqliteDbTest, FailingMigrationStepRollsBackAllPendingSteps) {
  auto db = OpenMemory();
  std::vector<std::string> steps = {
      "CREATE TABLE a(x INTEGER)",
      "CREATE TABLE b(y INTEGER); INSERT INTO a VALUES(1)",
      "CREATE TABLE c(z INTEGER); THIS IS NOT SQL",
  };
  Status s = db->migrate("comp", steps);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("comp v3"), std::string::npos) << s.ToString();
  EXPECT_EQ(*db->schema_version("comp"), 0);
  EXPECT_FALSE(db->prepare("SELECT * FROM a").ok());
  EXPECT_FALSE(db->prepare("SELECT * FROM c").ok());
  // Fixed steps apply from scratch.
  steps[2] = "CREATE TABLE c(z INTEGER)";
  ASSERT_TRUE(db->migrate("comp", steps).ok());
  EXPECT_EQ(*db->schema_version("comp"), 3);
  EXPECT_EQ(CountRows(*db, "a"), 1);
}

TEST(SqliteDbTest, TransactionCommitsOrRollsBack) {
  auto db = OpenMemory();
  ASSERT_TRUE(db->exec("CREATE TABLE t(k TEXT PRIMARY KEY, v INTEGER)").ok());
  Result<Statement> ins = db->prepare("INSERT INTO t(k, v) VALUES(?, ?)");
  ASSERT_TRUE(ins.ok());

  Status ok = db->transaction([&]() -> Status {
    if (Status s = ins->bind_text(1, "a"); !s.ok()) return s;
    if (Status s = ins->bind_int64(2, 1); !s.ok()) return s;
    return ins->run();
  });
  ASSERT_TRUE(ok.ok()) << ok.ToString();
  EXPECT_EQ(CountRows(*db, "t"), 1);

  // A failure returned by fn undoes its writes.
  Status failed = db->transaction([&]() -> Status {
    (void)ins->bind_text(1, "b");
    (void)ins->bind_int64(2, 2);
    if (Status s = ins->run(); !s.ok()) return s;
    return Internal("changed my mind");
  });
  EXPECT_EQ(failed.code(), StatusCode::kInternal);
  EXPECT_EQ(CountRows(*db, "t"), 1);

  // A constraint violation is a Status (kAlreadyExists), and rolls back.
  Status dup = db->transaction([&]() -> Status {
    (void)ins->bind_text(1, "c");
    if (Status s = ins->run(); !s.ok()) return s;
    (void)ins->bind_text(1, "a");
    return ins->run();
  });
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists) << dup.ToString();
  EXPECT_EQ(CountRows(*db, "t"), 1);

  // An exception rolls back and propagates.
  EXPECT_THROW((void)db->transaction([&]() -> Status {
                 (void)ins->bind_text(1, "d");
                 (void)ins->run();
                 throw std::runtime_error("boom");
               }),
               std::runtime_error);
  EXPECT_EQ(CountRows(*db, "t"), 1);
}

TEST(SqliteDbTest, NestedTransactionUsesSavepoint) {
  auto db = OpenMemory();
  ASSERT_TRUE(db->exec("CREATE TABLE t(v INTEGER)").ok());
  Status s = db->transaction([&]() -> Status {
    if (Status e = db->exec("INSERT INTO t VALUES(1)"); !e.ok()) return e;
    Status inner = db->transaction([&]() -> Status {
      (void)db->exec("INSERT INTO t VALUES(2)");
      return Internal("inner fails");
    });
    EXPECT_FALSE(inner.ok());
    return db->exec("INSERT INTO t VALUES(3)");
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  Result<Statement> st = db->prepare("SELECT group_concat(v) FROM t");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_text(0), "1,3");
}

TEST(SqliteDbTest, BadSqlAndMisuseAreStatuses) {
  auto db = OpenMemory();
  Result<Statement> bad = db->prepare("SELEKT 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInternal);
  EXPECT_NE(bad.status().message().find("syntax error"), std::string::npos)
      << bad.status().ToString();

  EXPECT_EQ(db->exec("DROP TABLE nope").code(), StatusCode::kInternal);
  EXPECT_FALSE(db->prepare("").ok());

  ASSERT_TRUE(db->exec("CREATE TABLE t(v INTEGER NOT NULL)").ok());
  Result<Statement> st = db->prepare("INSERT INTO t VALUES(?)");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->bind_int64(5, 1).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(st->bind_null(1).ok());
  Result<bool> r = st->step();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_NE(r.status().message().find("NOT NULL"), std::string::npos);
}

TEST(SqliteDbTest, BindsAndReadsEveryType) {
  auto db = OpenMemory();
  ASSERT_TRUE(db->exec("CREATE TABLE t(i INTEGER, d REAL, s TEXT, b BLOB, n TEXT)").ok());
  Result<Statement> ins = db->prepare("INSERT INTO t VALUES(?, ?, ?, ?, ?)");
  ASSERT_TRUE(ins.ok());
  const std::string blob("\0\x01\xff", 3);
  ASSERT_TRUE(ins->bind_int64(1, -(int64_t{1} << 40)).ok());
  ASSERT_TRUE(ins->bind_double(2, 0.25).ok());
  ASSERT_TRUE(ins->bind_text(3, "héllo").ok());
  ASSERT_TRUE(ins->bind_blob(4, blob).ok());
  ASSERT_TRUE(ins->bind_null(5).ok());
  ASSERT_TRUE(ins->run().ok());
  EXPECT_EQ(db->changes(), 1);
  EXPECT_EQ(db->last_insert_rowid(), 1);

  Result<Statement> sel = db->prepare("SELECT i, d, s, b, n FROM t");
  ASSERT_TRUE(sel.ok());
  ASSERT_TRUE(*sel->step());
  EXPECT_EQ(sel->column_count(), 5);
  EXPECT_EQ(sel->column_int64(0), -(int64_t{1} << 40));
  EXPECT_DOUBLE_EQ(sel->column_double(1), 0.25);
  EXPECT_EQ(sel->column_text(2), "héllo");
  EXPECT_EQ(sel->column_blob(3), blob);
  EXPECT_TRUE(sel->column_is_null(4));
  EXPECT_FALSE(sel->column_is_null(0));
  EXPECT_FALSE(*sel->step());

  // reset clears bindings: the statement can run again.
  ASSERT_TRUE(ins->reset().ok());
  ASSERT_TRUE(ins->bind_int64(1, 7).ok());
  ASSERT_TRUE(ins->run().ok());
  EXPECT_EQ(CountRows(*db, "t"), 2);
}

TEST(SqliteDbTest, ConcurrentTransactionsFromThreadsDoNotInterleave) {
  auto db = OpenMemory();
  ASSERT_TRUE(db->exec("CREATE TABLE c(id INTEGER PRIMARY KEY, n INTEGER)").ok());
  ASSERT_TRUE(db->exec("INSERT INTO c VALUES(1, 0)").ok());
  constexpr int kThreads = 4;
  constexpr int kIncrements = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Result<Statement> get = db->prepare("SELECT n FROM c WHERE id = 1");
      Result<Statement> put = db->prepare("UPDATE c SET n = ? WHERE id = 1");
      ASSERT_TRUE(get.ok() && put.ok());
      for (int i = 0; i < kIncrements; ++i) {
        Status s = db->transaction([&]() -> Status {
          Result<bool> row = get->step();
          if (!row.ok()) return row.status();
          const int64_t n = get->column_int64(0);
          (void)get->reset();
          (void)put->bind_int64(1, n + 1);
          return put->run();
        });
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  Result<Statement> st = db->prepare("SELECT n FROM c");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_int64(0), kThreads * kIncrements);
}

TEST(SqliteDbTest, StatusMapping) {
  EXPECT_EQ(SqliteStatus(SQLITE_CONSTRAINT_UNIQUE, "x").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(SqliteStatus(SQLITE_CONSTRAINT_FOREIGNKEY, "x").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SqliteStatus(SQLITE_BUSY, "x").code(), StatusCode::kUnavailable);
  EXPECT_EQ(SqliteStatus(SQLITE_IOERR_WRITE, "x").code(), StatusCode::kUnavailable);
  EXPECT_EQ(SqliteStatus(SQLITE_ERROR, "x").code(), StatusCode::kInternal);
  EXPECT_TRUE(SqliteStatus(SQLITE_OK, "x").ok());
}

}  // namespace
}  // namespace agentgate
