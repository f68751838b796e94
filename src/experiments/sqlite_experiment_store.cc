#include "experiments/sqlite_experiment_store.h"

#include <map>
#include <set>

namespace agentgate {

namespace {

ExperimentStatus ParseStatus(std::string_view s) {
  if (s == "stopped") return ExperimentStatus::kStopped;
  if (s == "completed") return ExperimentStatus::kCompleted;
  return ExperimentStatus::kRunning;
}

class SqliteExperimentStore final : public ExperimentStore {
 public:
  explicit SqliteExperimentStore(SqliteDb& db) : db_(db) {}

  Status put_experiment(const ExperimentSpec& spec, ExperimentStatus status,
                        std::string_view winner) override {
    auto st = db_.prepare(
        "INSERT INTO experiments(id, spec, status, winner) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET spec = excluded.spec, status = excluded.status, "
        "winner = excluded.winner");
    if (!st.ok()) return st.status();
    (void)st->bind_text(1, spec.name);
    (void)st->bind_text(2, DumpJson(ExperimentSpecToJson(spec)));
    (void)st->bind_text(3, ExperimentStatusName(status));
    (void)st->bind_text(4, winner);
    return st->run();
  }

  Status erase_experiment(std::string_view id) override {
    return db_.transaction([&]() -> Status {
      for (const char* sql : {"DELETE FROM experiment_counts WHERE id = ?",
                              "DELETE FROM experiment_assignments WHERE id = ?",
                              "DELETE FROM experiment_outcomes WHERE id = ?",
                              "DELETE FROM experiments WHERE id = ?"}) {
        auto st = db_.prepare(sql);
        if (!st.ok()) return st.status();
        (void)st->bind_text(1, id);
        if (Status s = st->run(); !s.ok()) return s;
      }
      return Status::Ok();
    });
  }

  Result<std::vector<WriteBatch::Sticky>> apply(const WriteBatch& batch,
                                                size_t log_size) override {
    std::vector<WriteBatch::Sticky> lost;
    Status s = db_.transaction([&]() -> Status {
      for (const WriteBatch::Count& c : batch.counts) {
        if (Status st = add_counts(c.id, c.variant, c.delta); !st.ok()) return st;
      }
      for (const WriteBatch::Sticky& a : batch.sticky) {
        auto st = put_assignment(a.id, a.user, a.variant);
        if (!st.ok()) return st.status();
        if (*st != a.variant) lost.push_back(WriteBatch::Sticky{a.id, a.user, *st});
      }
      std::set<std::string> logged;
      for (const OutcomeRecord& r : batch.outcomes) {
        auto st = db_.prepare("INSERT INTO experiment_outcomes(id, record) VALUES(?, ?)");
        if (!st.ok()) return st.status();
        (void)st->bind_text(1, r.experiment);
        (void)st->bind_text(2, DumpJson(OutcomeRecordToJson(r)));
        if (Status rs = st->run(); !rs.ok()) return rs;
        logged.insert(r.experiment);
      }
      for (const std::string& id : logged) {  // keep the newest log_size records
        auto st = db_.prepare(
            "DELETE FROM experiment_outcomes WHERE id = ?1 AND seq <= (SELECT seq FROM "
            "experiment_outcomes WHERE id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)");
        if (!st.ok()) return st.status();
        (void)st->bind_text(1, id);
        (void)st->bind_int64(2, static_cast<int64_t>(log_size));
        if (Status rs = st->run(); !rs.ok()) return rs;
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return lost;
  }

  Result<std::vector<OutcomeRecord>> recent_outcomes(std::string_view id, size_t limit) override {
    auto st = db_.prepare(
        "SELECT record FROM experiment_outcomes WHERE id = ? ORDER BY seq DESC LIMIT ?");
    if (!st.ok()) return st.status();
    (void)st->bind_text(1, id);
    (void)st->bind_int64(2, static_cast<int64_t>(limit));
    std::vector<OutcomeRecord> out;
    for (;;) {
      auto row = st->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      auto j = ParseJsonObject(st->column_text(0));
      if (!j.ok()) continue;
      auto r = OutcomeRecordFromJson(*j);
      if (r.ok()) out.push_back(std::move(*r));
    }
    return out;
  }

  Result<std::vector<Snapshot>> load(bool with_sticky) override {
    std::vector<Snapshot> out;
    std::map<std::string, size_t> index;
    auto st = db_.prepare("SELECT id, spec, status, winner FROM experiments ORDER BY id");
    if (!st.ok()) return st.status();
    for (;;) {
      auto row = st->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      auto j = ParseJsonObject(st->column_text(1));
      if (!j.ok()) return Internal("stored experiment spec is not JSON: " + j.status().message());
      auto spec = ExperimentSpecFromJson(*j);
      if (!spec.ok())
        return Internal("stored experiment spec is invalid: " + spec.status().message());
      Snapshot s;
      s.spec = std::move(*spec);
      s.status = ParseStatus(st->column_text(2));
      s.selected_winner = st->column_text(3);
      s.counts.assign(s.spec.variants.size(), {});
      index[st->column_text(0)] = out.size();
      out.push_back(std::move(s));
    }
    auto counts = db_.prepare(
        "SELECT id, variant, impressions, conversions, outcomes, value_count, value_sum, "
        "value_sum_sq "
        "FROM experiment_counts");
    if (!counts.ok()) return counts.status();
    for (;;) {
      auto row = counts->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      auto it = index.find(counts->column_text(0));
      if (it == index.end()) continue;
      Snapshot& s = out[it->second];
      const int64_t v = counts->column_int64(1);
      if (v < 0 || static_cast<size_t>(v) >= s.counts.size()) continue;
      VariantCounts& c = s.counts[static_cast<size_t>(v)];
      c.impressions = static_cast<uint64_t>(counts->column_int64(2));
      c.conversions = static_cast<uint64_t>(counts->column_int64(3));
      c.outcomes = static_cast<uint64_t>(counts->column_int64(4));
      c.value_count = static_cast<uint64_t>(counts->column_int64(5));
      c.value_sum = counts->column_double(6);
      c.value_sum_sq = counts->column_double(7);
    }
    if (!with_sticky) return out;
    auto sticky = db_.prepare("SELECT id, user, variant FROM experiment_assignments");
    if (!sticky.ok()) return sticky.status();
    for (;;) {
      auto row = sticky->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      auto it = index.find(sticky->column_text(0));
      if (it == index.end()) continue;
      out[it->second].sticky.emplace_back(sticky->column_text(1),
                                          static_cast<int>(sticky->column_int64(2)));
    }
    return out;
  }

 private:
  Status add_counts(std::string_view id, int variant, const VariantCounts& d) {
    auto st = db_.prepare(
        "INSERT INTO experiment_counts(id, variant, impressions, conversions, outcomes, "
        "value_count, value_sum, value_sum_sq) VALUES(?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(id, variant) DO UPDATE SET impressions = impressions + excluded.impressions, "
        "conversions = conversions + excluded.conversions, outcomes = outcomes + "
        "excluded.outcomes, "
        "value_count = value_count + excluded.value_count, value_sum = value_sum + "
        "excluded.value_sum, "
        "value_sum_sq = value_sum_sq + excluded.value_sum_sq");
    if (!st.ok()) return st.status();
    (void)st->bind_text(1, id);
    (void)st->bind_int64(2, variant);
    (void)st->bind_int64(3, static_cast<int64_t>(d.impressions));
    (void)st->bind_int64(4, static_cast<int64_t>(d.conversions));
    (void)st->bind_int64(5, static_cast<int64_t>(d.outcomes));
    (void)st->bind_int64(6, static_cast<int64_t>(d.value_count));
    (void)st->bind_double(7, d.value_sum);
    (void)st->bind_double(8, d.value_sum_sq);
    return st->run();
  }

  // put_assignment: the stored variant (the first choice wins).
  Result<int> put_assignment(std::string_view id, std::string_view user, int variant) {
    auto st = db_.prepare(
        "INSERT OR IGNORE INTO experiment_assignments(id, user, variant) VALUES(?, ?, ?)");
    if (!st.ok()) return st.status();
    (void)st->bind_text(1, id);
    (void)st->bind_text(2, user);
    (void)st->bind_int64(3, variant);
    if (Status s = st->run(); !s.ok()) return s;
    if (db_.changes() > 0) return variant;
    auto q = db_.prepare("SELECT variant FROM experiment_assignments WHERE id = ? AND user = ?");
    if (!q.ok()) return q.status();
    (void)q->bind_text(1, id);
    (void)q->bind_text(2, user);
    auto row = q->step();
    if (!row.ok()) return row.status();
    return *row ? static_cast<int>(q->column_int64(0)) : variant;
  }

  SqliteDb& db_;
};

}  // namespace

Result<std::unique_ptr<ExperimentStore>> OpenSqliteExperimentStore(SqliteDb& db) {
  Status s = db.migrate(
      "experiments",
      {"CREATE TABLE experiments(id TEXT PRIMARY KEY, spec TEXT NOT NULL, status TEXT NOT NULL, "
       "winner TEXT NOT NULL DEFAULT '');"
       "CREATE TABLE experiment_counts(id TEXT NOT NULL, variant INTEGER NOT NULL, "
       "impressions INTEGER NOT NULL, conversions INTEGER NOT NULL, outcomes INTEGER NOT NULL, "
       "value_count INTEGER NOT NULL, value_sum REAL NOT NULL, value_sum_sq REAL NOT NULL, "
       "PRIMARY KEY(id, variant));"
       "CREATE TABLE experiment_assignments(id TEXT NOT NULL, user TEXT NOT NULL, "
       "variant INTEGER NOT NULL, PRIMARY KEY(id, user))",
       // The bounded outcome log (records with metadata), newest = highest seq.
       "CREATE TABLE experiment_outcomes(seq INTEGER PRIMARY KEY AUTOINCREMENT, "
       "id TEXT NOT NULL, record TEXT NOT NULL);"
       "CREATE INDEX experiment_outcomes_id ON experiment_outcomes(id, seq)"});
  if (!s.ok()) return s;
  return std::unique_ptr<ExperimentStore>(std::make_unique<SqliteExperimentStore>(db));
}

}  // namespace agentgate
