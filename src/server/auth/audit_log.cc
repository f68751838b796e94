#include "server/auth/audit_log.h"

namespace agentgate {

Result<std::unique_ptr<AuditLog>> AuditLog::Open(SqliteDb& db, const Clock& clock) {
  Status s = db.migrate("audit", {
      "CREATE TABLE audit_log(id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, "
      "admin_key_id TEXT NOT NULL, route TEXT NOT NULL, summary TEXT NOT NULL)",
  });
  if (!s.ok()) return s;
  return std::unique_ptr<AuditLog>(new AuditLog(db, clock));
}

Status AuditLog::record(std::string_view admin_key_id, std::string_view route,
                        std::string_view summary) {
  auto st = db_.prepare(
      "INSERT INTO audit_log(time_ms, admin_key_id, route, summary) VALUES(?, ?, ?, ?)");
  if (!st.ok()) return st.status();
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now()).count();
  Status s = st->bind_int64(1, now);
  if (s.ok()) s = st->bind_text(2, admin_key_id);
  if (s.ok()) s = st->bind_text(3, route);
  if (s.ok()) s = st->bind_text(4, summary);
  if (s.ok()) s = st->run();
  return s;
}

Result<std::vector<AuditEntry>> AuditLog::list(int64_t limit, int64_t before_id) const {
  auto st = db_.prepare(
      "SELECT id, time_ms, admin_key_id, route, summary FROM audit_log "
      "WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2");
  if (!st.ok()) return st.status();
  Status s = st->bind_int64(1, before_id);
  if (s.ok()) s = st->bind_int64(2, limit);
  if (!s.ok()) return s;
  std::vector<AuditEntry> out;
  for (;;) {
    auto row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back({st->column_int64(0), st->column_int64(1), st->column_text(2),
                   st->column_text(3), st->column_text(4)});
  }
  return out;
}

}  // namespace agentgate
