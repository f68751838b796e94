#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>
#include <utility>

namespace agentgate {
namespace {

constexpr std::string_view kMemory = ":memory:";

constexpr const char* kMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations("
    " component TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " applied_at INTEGER NOT NULL DEFAULT (strftime('%s','now')),"
    " PRIMARY KEY(component, version))";

}  // namespace

Status SqliteStatus(int rc, std::string message) {
  const int primary = rc & 0xff;
  std::string m = "sqlite: " + message + " (" + sqlite3_errstr(rc) + ", code " +
                  std::to_string(rc) + ")";
  switch (primary) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::Ok();
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return AlreadyExists(std::move(m));
      }
      return InvalidArgument(std::move(m));
    case SQLITE_RANGE:
    case SQLITE_MISUSE:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
      return InvalidArgument(std::move(m));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOMEM:
      return Unavailable(std::move(m));
    default:
      return Internal(std::move(m));
  }
}

// ---------------------------------------------------------------- Statement

Statement::Statement(SqliteDb* db, sqlite3_stmt* stmt, std::string sql)
    : db_(db), stmt_(stmt), sql_(std::move(sql)) {}

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      sql_(std::move(other.sql_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) {
      std::lock_guard lock(db_->mu_);
      sqlite3_finalize(stmt_);
    }
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    sql_ = std::move(other.sql_);
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    std::lock_guard lock(db_->mu_);
    sqlite3_finalize(stmt_);
  }
}

Status Statement::bind_result(int rc, int index) {
  if (rc == SQLITE_OK) return Status::Ok();
  return SqliteStatus(rc, "bind parameter " + std::to_string(index) + " of: " + sql_);
}

Status Statement::bind_int64(int index, int64_t value) {
  std::lock_guard lock(db_->mu_);
  return bind_result(sqlite3_bind_int64(stmt_, index, value), index);
}

Status Statement::bind_double(int index, double value) {
  std::lock_guard lock(db_->mu_);
  return bind_result(sqlite3_bind_double(stmt_, index, value), index);
}

Status Statement::bind_text(int index, std::string_view value) {
  std::lock_guard lock(db_->mu_);
  return bind_result(sqlite3_bind_text64(stmt_, index, value.data(), value.size(),
                                         SQLITE_TRANSIENT, SQLITE_UTF8),
                     index);
}

Status Statement::bind_blob(int index, std::string_view bytes) {
  std::lock_guard lock(db_->mu_);
  // A zero-length blob with a null pointer would bind NULL: use a non-null one.
  const void* data = bytes.empty() ? static_cast<const void*>("") : bytes.data();
  return bind_result(sqlite3_bind_blob64(stmt_, index, data, bytes.size(), SQLITE_TRANSIENT),
                     index);
}

Status Statement::bind_null(int index) {
  std::lock_guard lock(db_->mu_);
  return bind_result(sqlite3_bind_null(stmt_, index), index);
}

Result<bool> Statement::step() {
  std::lock_guard lock(db_->mu_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // The legacy interface returns SQLITE_ERROR; the real code comes from reset.
  const int code = sqlite3_extended_errcode(db_->db_);
  Status s = SqliteStatus(code == SQLITE_OK ? rc : code,
                          std::string(sqlite3_errmsg(db_->db_)) + " in: " + sql_);
  sqlite3_reset(stmt_);
  return s;
}

Status Statement::run() {
  while (true) {
    Result<bool> row = step();
    if (!row.ok()) return row.status();
    if (!*row) break;
  }
  std::lock_guard lock(db_->mu_);
  sqlite3_reset(stmt_);
  return Status::Ok();
}

Status Statement::reset() {
  std::lock_guard lock(db_->mu_);
  sqlite3_reset(stmt_);  // returns the last step's error, already reported
  const int rc = sqlite3_clear_bindings(stmt_);
  if (rc != SQLITE_OK) return SqliteStatus(rc, "reset of: " + sql_);
  return Status::Ok();
}

int Statement::column_count() const {
  std::lock_guard lock(db_->mu_);
  return sqlite3_column_count(stmt_);
}

bool Statement::column_is_null(int index) const {
  std::lock_guard lock(db_->mu_);
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

int64_t Statement::column_int64(int index) const {
  std::lock_guard lock(db_->mu_);
  return sqlite3_column_int64(stmt_, index);
}

double Statement::column_double(int index) const {
  std::lock_guard lock(db_->mu_);
  return sqlite3_column_double(stmt_, index);
}

std::string Statement::column_text(int index) const {
  std::lock_guard lock(db_->mu_);
  const unsigned char* p = sqlite3_column_text(stmt_, index);
  const int n = sqlite3_column_bytes(stmt_, index);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

std::string Statement::column_blob(int index) const {
  std::lock_guard lock(db_->mu_);
  const void* p = sqlite3_column_blob(stmt_, index);
  const int n = sqlite3_column_bytes(stmt_, index);
  if (p == nullptr) return {};
  return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

// ----------------------------------------------------------------- SqliteDb

SqliteDb::SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

SqliteDb::~SqliteDb() {
  // close_v2 defers the close until any leftover statement is finalized.
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::open_memory() {
  SqliteOptions options;
  options.file_name = std::string(kMemory);
  return open(options);
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::open(const SqliteOptions& options) {
  std::string path;
  if (options.file_name == kMemory) {
    path = std::string(kMemory);
  } else {
    if (options.file_name.empty()) return InvalidArgument("sqlite: empty file_name");
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    if (ec) {
      return Unavailable("sqlite: cannot create data dir '" + options.data_dir +
                         "': " + ec.message());
    }
    path = (std::filesystem::path(options.data_dir) / options.file_name).string();
  }

  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close_v2(raw);
    return SqliteStatus(rc, "cannot open '" + path + "': " + msg);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));

  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  // WAL lets readers of other processes proceed during a write; NORMAL
  // synchronous is durable across a process crash (not a power loss) in WAL.
  // An in-memory database answers "memory" to journal_mode=WAL: harmless.
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                             "PRAGMA foreign_keys=ON"}) {
    Status s = db->exec(pragma);
    if (!s.ok()) return s;
  }
  return db;
}

Status SqliteDb::error(int rc, std::string_view what) const {
  return SqliteStatus(rc, std::string(sqlite3_errmsg(db_)) + " in: " + std::string(what));
}

Status SqliteDb::exec(std::string_view sql) {
  std::lock_guard lock(mu_);
  const std::string text(sql);  // sqlite3_exec needs a NUL-terminated string
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err != nullptr ? err : sqlite3_errmsg(db_);
  sqlite3_free(err);
  return SqliteStatus(sqlite3_extended_errcode(db_), msg + " in: " + text);
}

Result<Statement> SqliteDb::prepare(std::string_view sql) {
  std::lock_guard lock(mu_);
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail);
  if (rc != SQLITE_OK) return error(rc, sql);
  if (stmt == nullptr) return InvalidArgument("sqlite: no statement in: " + std::string(sql));
  return Statement(this, stmt, std::string(sql));
}

Status SqliteDb::transaction(const std::function<Status()>& fn) {
  std::lock_guard lock(mu_);
  const int depth = tx_depth_;
  const std::string savepoint = "agentgate_sp_" + std::to_string(depth);
  Status begin = depth == 0 ? exec("BEGIN IMMEDIATE") : exec("SAVEPOINT " + savepoint);
  if (!begin.ok()) return begin;
  ++tx_depth_;

  auto undo = [&] {
    // Errors here leave nothing better to do: SQLite rolls back by itself
    // when a statement failure already aborted the transaction.
    if (depth == 0) {
      (void)exec("ROLLBACK");
    } else {
      (void)exec("ROLLBACK TO " + savepoint);
      (void)exec("RELEASE " + savepoint);
    }
  };

  Status result;
  try {
    result = fn();
  } catch (...) {
    --tx_depth_;
    undo();
    throw;
  }
  --tx_depth_;
  if (!result.ok()) {
    undo();
    return result;
  }
  Status commit = depth == 0 ? exec("COMMIT") : exec("RELEASE " + savepoint);
  if (!commit.ok()) {
    undo();
    return commit;
  }
  return Status::Ok();
}

Result<int64_t> SqliteDb::schema_version(std::string_view component) {
  std::lock_guard lock(mu_);
  Status s = exec(kMigrationsTable);
  if (!s.ok()) return s;
  Result<Statement> st =
      prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?");
  if (!st.ok()) return st.status();
  s = st->bind_text(1, component);
  if (!s.ok()) return s;
  Result<bool> row = st->step();
  if (!row.ok()) return row.status();
  if (!*row) return Internal("sqlite: no row from MAX(version)");
  return st->column_int64(0);
}

Status SqliteDb::migrate(std::string_view component, const std::vector<std::string>& steps) {
  std::lock_guard lock(mu_);
  return transaction([&]() -> Status {
    Result<int64_t> current = schema_version(component);
    if (!current.ok()) return current.status();
    const auto target = static_cast<int64_t>(steps.size());
    if (*current > target) {
      return Internal("sqlite: schema of '" + std::string(component) + "' is at version " +
                      std::to_string(*current) + ", newer than this binary knows (" +
                      std::to_string(target) + ")");
    }
    if (*current == target) return Status::Ok();
    Result<Statement> record =
        prepare("INSERT INTO schema_migrations(component, version) VALUES(?, ?)");
    if (!record.ok()) return record.status();
    for (int64_t v = *current + 1; v <= target; ++v) {
      Status s = exec(steps[static_cast<size_t>(v - 1)]);
      if (!s.ok()) {
        return Status(s.code(), "migration " + std::string(component) + " v" +
                                    std::to_string(v) + ": " + s.message());
      }
      if (s = record->bind_text(1, component); !s.ok()) return s;
      if (s = record->bind_int64(2, v); !s.ok()) return s;
      if (s = record->run(); !s.ok()) return s;
    }
    return Status::Ok();
  });
}

int64_t SqliteDb::last_insert_rowid() {
  std::lock_guard lock(mu_);
  return sqlite3_last_insert_rowid(db_);
}

int64_t SqliteDb::changes() {
  std::lock_guard lock(mu_);
  return sqlite3_changes64(db_);
}

}  // namespace agentgate
