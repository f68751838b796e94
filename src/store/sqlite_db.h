// SqliteDb: the embedded store for what must survive a restart (tiers, custom
// limits, keys, audit, costs, experiments, the dead-letter queue).
//
// One SQLite connection per file, opened in WAL mode with synchronous=NORMAL,
// a busy timeout and foreign keys on. Each component owns its tables and
// brings them up to date with numbered migration steps:
//
//   Result<std::unique_ptr<SqliteDb>> db = SqliteDb::open({.data_dir = "./data"});
//   if (!db.ok()) return db.status();
//   Status s = (*db)->migrate("ratelimit", {
//       "CREATE TABLE tiers(name TEXT PRIMARY KEY, rpm INTEGER NOT NULL)",   // v1
//       "ALTER TABLE tiers ADD COLUMN rpd INTEGER NOT NULL DEFAULT 0",        // v2
//   });
//   Result<Statement> st = (*db)->prepare("INSERT INTO tiers(name, rpm) VALUES(?, ?)");
//   st->bind_text(1, "free"); st->bind_int64(2, 60);
//   Status done = st->run();
//
// Errors are Status values: a bad SQL text, a constraint violation or a full
// disk never throws. Codes: kAlreadyExists for UNIQUE/PRIMARY KEY conflicts,
// kInvalidArgument for other constraint failures and misuse (bad bind index),
// kUnavailable for lock timeouts (SQLITE_BUSY) and I/O failures, kInternal for
// the rest (bad SQL: a bug on our side).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agentgate/core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace agentgate {

class SqliteDb;

// SqliteOptions: how SqliteDb::open finds and tunes its database.
struct SqliteOptions {
  // data_dir: the directory that holds the database file; created with its
  // parents if missing. Ignored for ":memory:". Default "./data".
  std::string data_dir = "./data";
  // file_name: the database file inside data_dir, or ":memory:" for a private
  // in-memory database (tests). Default "agentgate.db".
  std::string file_name = "agentgate.db";
  // busy_timeout: how long a statement waits for a lock held by another
  // connection (another process on the same file) before failing with
  // kUnavailable. Default 5 s.
  std::chrono::milliseconds busy_timeout{5000};
};

// Statement: one prepared statement of a SqliteDb.
//
// Bind parameters by 1-based index, step() through the rows, read columns by
// 0-based index, reset() to run it again with new bindings.
//
// Thread-safety: a Statement is used by one thread at a time (it may move
// between threads); each call takes its database's lock, so statements of the
// same database may be used from different threads at once.
// Ownership: move-only; finalized by its destructor.
// REQUIRES: destroyed before the SqliteDb that prepared it.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // bind_*: sets parameter `index` (1-based). kInvalidArgument if out of range.
  Status bind_int64(int index, int64_t value);
  Status bind_double(int index, double value);
  Status bind_text(int index, std::string_view value);   // copied
  Status bind_blob(int index, std::string_view bytes);   // copied
  Status bind_null(int index);

  // step: advances to the next row. true: a row is ready for the column
  // getters; false: the statement has finished (call reset() to rerun).
  Result<bool> step();
  // run: steps until the statement finishes (INSERT/UPDATE/DELETE/DDL), then
  // resets it (bindings are kept).
  Status run();
  // reset: rewinds the statement and clears its bindings.
  Status reset();

  // column_*: the value of column `index` (0-based) of the current row, with
  // SQLite's type conversions. REQUIRES: the last step() returned true.
  int column_count() const;
  bool column_is_null(int index) const;
  int64_t column_int64(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;
  std::string column_blob(int index) const;

 private:
  friend class SqliteDb;
  Statement(SqliteDb* db, sqlite3_stmt* stmt, std::string sql);
  Status bind_result(int rc, int index);

  SqliteDb* db_ = nullptr;        // not owned
  sqlite3_stmt* stmt_ = nullptr;  // owned; finalized in the destructor
  std::string sql_;               // for error messages
};

// SqliteDb: a SQLite database file (or ":memory:") behind one connection.
//
// Thread-safety: internally synchronized. The single connection is guarded by
// a recursive mutex: exec(), migrate() and each Statement call take it, and
// transaction() holds it for the whole callback, so statements of other
// threads wait while a transaction runs (and never interleave with it). Calls
// block on disk I/O: keep them off latency-critical event loops or batch them.
// Ownership: owns the connection; not copyable or movable (held by
// unique_ptr).
class SqliteDb {
 public:
  // open: opens (creating if needed) the database described by `options`.
  static Result<std::unique_ptr<SqliteDb>> open(const SqliteOptions& options);
  // open_memory: a private in-memory database (tests).
  static Result<std::unique_ptr<SqliteDb>> open_memory();

  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // path: the file opened, or ":memory:".
  const std::string& path() const { return path_; }

  // exec: runs one or more `;`-separated statements that return no rows.
  Status exec(std::string_view sql);

  // prepare: compiles one statement. kInternal on bad SQL.
  Result<Statement> prepare(std::string_view sql);

  // transaction: runs `fn` inside a transaction (BEGIN IMMEDIATE), committing
  // if it returns OK and rolling back otherwise (or if it throws, which is
  // rethrown). Nested calls on the same thread use savepoints: an inner
  // failure undoes only the inner work, and the outer `fn` decides what to do
  // with the Status. Returns fn's Status, or the commit's failure.
  Status transaction(const std::function<Status()>& fn);

  // migrate: brings `component`'s schema to version steps.size(). steps[i] is
  // the SQL of version i + 1 (one or more statements). Versions already
  // applied (recorded in schema_migrations(component, version)) are skipped;
  // the pending ones run in one transaction, so a failing step leaves the
  // schema at the version it had. kInternal if the database is at a version
  // newer than `steps` knows (a newer binary wrote it).
  Status migrate(std::string_view component, const std::vector<std::string>& steps);

  // schema_version: the highest version of `component` applied (0 if none).
  Result<int64_t> schema_version(std::string_view component);

  // last_insert_rowid / changes: of the last INSERT / the last write on this
  // connection. Meaningful inside transaction() (other threads wait there).
  int64_t last_insert_rowid();
  int64_t changes();

 private:
  friend class Statement;
  SqliteDb(sqlite3* db, std::string path);
  Status error(int rc, std::string_view what) const;  // REQUIRES: mu_ held

  mutable std::recursive_mutex mu_;
  sqlite3* const db_;        // GUARDED_BY(mu_); owned
  const std::string path_;
  int tx_depth_ = 0;         // GUARDED_BY(mu_): nesting of transaction()
};

// SqliteStatus: the Status for SQLite result code `rc` (extended codes
// understood), with `message`. Exposed for tests and other stores.
Status SqliteStatus(int rc, std::string message);

}  // namespace agentgate
