// The SQLite store of the dead-letter queue (see dead_letter_queue.h).
#include <chrono>

#include "resilience/dead_letter_queue.h"

namespace agentgate {

namespace {

constexpr const char* kColumns =
    "id, time_ms, user_id, upstream, model, function, attempts, error_class, error, status, "
    "body, stream, replays, last_replay_status";

DeadLetter ReadRow(const Statement& st) {
  DeadLetter d;
  d.id = st.column_int64(0);
  d.time_ms = st.column_int64(1);
  d.user = st.column_text(2);
  d.upstream = st.column_text(3);
  d.model = st.column_text(4);
  d.function = st.column_text(5);
  d.attempts = static_cast<int>(st.column_int64(6));
  d.error_class = st.column_text(7);
  d.error = st.column_text(8);
  d.status = static_cast<int>(st.column_int64(9));
  d.body = st.column_text(10);
  d.stream = st.column_int64(11) != 0;
  d.replays = static_cast<int>(st.column_int64(12));
  d.last_replay_status = static_cast<int>(st.column_int64(13));
  return d;
}


// SqliteDeadLetterQueue: one table; each call is a statement or a
// transaction, run synchronously inside the coroutine.
class SqliteDeadLetterQueue final : public DeadLetterQueue {
 public:
  SqliteDeadLetterQueue(SqliteDb& db, const Clock& clock, MetricsRegistry* metrics,
                        DlqOptions options)
      : db_(db), clock_(clock), options_(options), metrics_(metrics) {}

  boost::asio::awaitable<Result<int64_t>> add(DeadLetter d) override {
    co_return add_now(std::move(d));
  }
  boost::asio::awaitable<Result<std::vector<DeadLetter>>> list(DlqFilter f) override {
    co_return list_now(f);
  }
  boost::asio::awaitable<Result<DeadLetter>> get(int64_t id) override { co_return get_now(id); }
  boost::asio::awaitable<Status> remove(int64_t id) override { co_return remove_now(id); }
  boost::asio::awaitable<Status> record_replay(int64_t id, int status) override {
    co_return record_replay_now(id, status);
  }
  boost::asio::awaitable<Result<int64_t>> size() override { co_return size_now(); }

 private:
  Result<int64_t> add_now(DeadLetter d);
  Result<std::vector<DeadLetter>> list_now(const DlqFilter& f) const;
  Result<DeadLetter> get_now(int64_t id) const;
  Status remove_now(int64_t id);
  Status record_replay_now(int64_t id, int status);
  Result<int64_t> size_now() const;

  SqliteDb& db_;
  const Clock& clock_;
  const DlqOptions options_;
  const DlqMetrics metrics_;
};

Result<int64_t> SqliteDeadLetterQueue::add_now(DeadLetter d) {
  d.body = ScrubSecrets(d.body);
  d.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now()).count();
  int64_t id = 0;
  int64_t dropped = 0;
  Status s = db_.transaction([&]() -> Status {
    auto st = db_.prepare(
        "INSERT INTO dead_letters(time_ms, user_id, upstream, model, function, attempts, "
        "error_class, error, status, body, stream) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st.ok()) return st.status();
    Status b = st->bind_int64(1, d.time_ms);
    if (b.ok()) b = st->bind_text(2, d.user);
    if (b.ok()) b = st->bind_text(3, d.upstream);
    if (b.ok()) b = st->bind_text(4, d.model);
    if (b.ok()) b = st->bind_text(5, d.function);
    if (b.ok()) b = st->bind_int64(6, d.attempts);
    if (b.ok()) b = st->bind_text(7, d.error_class);
    if (b.ok()) b = st->bind_text(8, d.error);
    if (b.ok()) b = st->bind_int64(9, d.status);
    if (b.ok()) b = st->bind_text(10, d.body);
    if (b.ok()) b = st->bind_int64(11, d.stream ? 1 : 0);
    if (b.ok()) b = st->run();
    if (!b.ok()) return b;
    id = db_.last_insert_rowid();
    // Overflow: drop the oldest beyond max_entries.
    auto trim = db_.prepare(
        "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id DESC "
        "LIMIT -1 OFFSET ?)");
    if (!trim.ok()) return trim.status();
    b = trim->bind_int64(1, options_.max_entries);
    if (b.ok()) b = trim->run();
    if (b.ok()) dropped = db_.changes();
    return b;
  });
  if (!s.ok()) return s;
  metrics_.count(dropped);
  return id;
}

Result<std::vector<DeadLetter>> SqliteDeadLetterQueue::list_now(const DlqFilter& f) const {
  auto st = db_.prepare(std::string("SELECT ") + kColumns +
                        " FROM dead_letters WHERE (?1 = 0 OR id < ?1) AND (?2 = '' OR user_id = "
                        "?2) AND (?3 = '' OR upstream = ?3) AND (?4 = '' OR model = ?4) AND "
                        "(?5 = '' OR error_class = ?5) ORDER BY id DESC LIMIT ?6");
  if (!st.ok()) return st.status();
  Status s = st->bind_int64(1, f.before_id);
  if (s.ok()) s = st->bind_text(2, f.user);
  if (s.ok()) s = st->bind_text(3, f.upstream);
  if (s.ok()) s = st->bind_text(4, f.model);
  if (s.ok()) s = st->bind_text(5, f.error_class);
  if (s.ok()) s = st->bind_int64(6, f.limit);
  if (!s.ok()) return s;
  std::vector<DeadLetter> out;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(ReadRow(*st));
  }
  return out;
}

Result<DeadLetter> SqliteDeadLetterQueue::get_now(int64_t id) const {
  auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM dead_letters WHERE id = ?");
  if (!st.ok()) return st.status();
  if (Status s = st->bind_int64(1, id); !s.ok()) return s;
  auto row = st->step();
  if (!row.ok()) return row.status();
  if (!*row) return NotFound("no dead letter " + std::to_string(id));
  return ReadRow(*st);
}

Status SqliteDeadLetterQueue::remove_now(int64_t id) {
  int64_t changed = 0;
  Status s = db_.transaction([&]() -> Status {
    auto st = db_.prepare("DELETE FROM dead_letters WHERE id = ?");
    if (!st.ok()) return st.status();
    Status b = st->bind_int64(1, id);
    if (b.ok()) b = st->run();
    changed = db_.changes();
    return b;
  });
  if (!s.ok()) return s;
  if (changed == 0) return NotFound("no dead letter " + std::to_string(id));
  return Status::Ok();
}

Status SqliteDeadLetterQueue::record_replay_now(int64_t id, int status) {
  int64_t changed = 0;
  Status s = db_.transaction([&]() -> Status {
    auto st = db_.prepare(
        "UPDATE dead_letters SET replays = replays + 1, last_replay_status = ? WHERE id = ?");
    if (!st.ok()) return st.status();
    Status b = st->bind_int64(1, status);
    if (b.ok()) b = st->bind_int64(2, id);
    if (b.ok()) b = st->run();
    changed = db_.changes();
    return b;
  });
  if (!s.ok()) return s;
  if (changed == 0) return NotFound("no dead letter " + std::to_string(id));
  return Status::Ok();
}

Result<int64_t> SqliteDeadLetterQueue::size_now() const {
  auto st = db_.prepare("SELECT COUNT(*) FROM dead_letters");
  if (!st.ok()) return st.status();
  auto row = st->step();
  if (!row.ok()) return row.status();
  return st->column_int64(0);
}


}  // namespace

Result<std::unique_ptr<DeadLetterQueue>> OpenSqliteDeadLetterQueue(SqliteDb& db,
                                                                   const Clock& clock,
                                                                   MetricsRegistry* metrics,
                                                                   DlqOptions options) {
  Status s = db.migrate("dlq", {
      "CREATE TABLE dead_letters(id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, "
      "user_id TEXT NOT NULL, upstream TEXT NOT NULL, model TEXT NOT NULL, function TEXT NOT NULL, "
      "attempts INTEGER NOT NULL, error_class TEXT NOT NULL, error TEXT NOT NULL, "
      "status INTEGER NOT NULL, body TEXT NOT NULL, stream INTEGER NOT NULL, "
      "replays INTEGER NOT NULL DEFAULT 0, last_replay_status INTEGER NOT NULL DEFAULT 0)",
  });
  if (!s.ok()) return s;
  return std::unique_ptr<DeadLetterQueue>(
      std::make_unique<SqliteDeadLetterQueue>(db, clock, metrics, options));
}

}  // namespace agentgate
