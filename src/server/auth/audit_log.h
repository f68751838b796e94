// AuditLog: every admin change (keys, tiers, limits, config, experiments,
// resets) with its time, the admin key that made it, the route and a summary.
// Stored in SQLite; read back newest first.
//
// Thread-safety: internally synchronized (through SqliteDb). Ownership:
// borrows the SqliteDb, which must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/status.h"
#include "store/sqlite_db.h"

namespace agentgate {

struct AuditEntry {
  int64_t id = 0;
  int64_t time_ms = 0;        // wall clock, ms since the epoch
  std::string admin_key_id;   // which admin credential ("admin:<hash prefix>" or "loopback")
  std::string route;          // "POST /api/v1/keys"
  std::string summary;        // what changed, never a secret
};

class AuditLog {
 public:
  static Result<std::unique_ptr<AuditLog>> Open(SqliteDb& db, const Clock& clock);

  // record: appends one entry.
  Status record(std::string_view admin_key_id, std::string_view route, std::string_view summary);
  // list: up to `limit` entries older than `before_id` (0 = newest), newest first.
  Result<std::vector<AuditEntry>> list(int64_t limit, int64_t before_id = 0) const;

 private:
  AuditLog(SqliteDb& db, const Clock& clock) : db_(db), clock_(clock) {}
  SqliteDb& db_;
  const Clock& clock_;
};

}  // namespace agentgate
