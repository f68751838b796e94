// SqliteExperimentStore: experiments, per-variant counts and sticky bandit
// assignments in the gateway's SQLite database (component "experiments").
// Counts are stored as sums and updated by adding deltas, so two processes
// sharing one database file add up instead of overwriting each other. Outcome
// records (with metadata) go to a log table trimmed to the newest N per
// experiment. A batch (ExperimentStore::apply) is one transaction. version()
// is 0: the file belongs to one gateway, which never re-reads it.
//
// Thread-safety: internally synchronized (through SqliteDb). Ownership:
// borrows the SqliteDb, which must outlive the store.
#pragma once

#include <memory>

#include "agentgate/experiments/experiment_manager.h"
#include "store/sqlite_db.h"

namespace agentgate {

// OpenSqliteExperimentStore: migrates the schema and returns the store.
Result<std::unique_ptr<ExperimentStore>> OpenSqliteExperimentStore(SqliteDb& db);

}  // namespace agentgate
