#include "experiments/redis_experiment_store.h"

#include <charconv>
#include <map>

#include "store/run_sync.h"

namespace agentgate {

namespace {

ExperimentStatus ParseStatus(std::string_view s) {
  if (s == "stopped") return ExperimentStatus::kStopped;
  if (s == "completed") return ExperimentStatus::kCompleted;
  return ExperimentStatus::kRunning;
}

uint64_t ToUint(const std::string& s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// kApplyScript: one WriteBatch, atomically. ARGV: base, log size, then ops of
// four fields: i|f <id> <field> <increment> (HINCRBY / HINCRBYFLOAT of
// counts:<id>), s <id> <user> <variant> (HSETNX sticky:<id>), o <id> <record>
// "" (LPUSH outcomes:<id>, trimmed at the end). Writes for an experiment
// whose definition is gone (deleted by any instance) are skipped. Returns the
// sticky choices that lost: id, user, stored variant, ...
constexpr const char* kApplyScript = R"lua(
local base = ARGV[1]
local log_size = tonumber(ARGV[2])
local lost, logged, live = {}, {}, {}
local i = 3
while i <= #ARGV do
  local op, id = ARGV[i], ARGV[i + 1]
  if live[id] == nil then live[id] = redis.call('HEXISTS', base .. 'defs', id) == 1 end
  if live[id] then
    if op == 'i' then
      redis.call('HINCRBY', base .. 'counts:' .. id, ARGV[i + 2], ARGV[i + 3])
    elseif op == 'f' then
      redis.call('HINCRBYFLOAT', base .. 'counts:' .. id, ARGV[i + 2], ARGV[i + 3])
    elseif op == 's' then
      local key = base .. 'sticky:' .. id
      if redis.call('HSETNX', key, ARGV[i + 2], ARGV[i + 3]) == 0 then
        local cur = redis.call('HGET', key, ARGV[i + 2])
        if cur ~= ARGV[i + 3] then
          lost[#lost + 1] = id
          lost[#lost + 1] = ARGV[i + 2]
          lost[#lost + 1] = cur
        end
      end
    elseif op == 'o' then
      local key = base .. 'outcomes:' .. id
      redis.call('LPUSH', key, ARGV[i + 2])
      logged[key] = true
    end
  end
  i = i + 4
end
for key, _ in pairs(logged) do redis.call('LTRIM', key, 0, log_size - 1) end
return lost
)lua";

class RedisExperimentStore final : public ExperimentStore {
 public:
  RedisExperimentStore(RedisClient& client, std::string base)
      : client_(client), base_(std::move(base)), apply_(client, kApplyScript) {}

  Status put_experiment(const ExperimentSpec& spec, ExperimentStatus status,
                        std::string_view winner) override {
    auto r = run({"HSET", base_ + "defs", spec.name, DumpJson(ExperimentSpecToJson(spec))});
    if (!r.ok()) return r.status();
    std::string state = std::string(ExperimentStatusName(status)) + "|" + std::string(winner);
    if (auto st = run({"HSET", base_ + "status", spec.name, state}); !st.ok()) return st.status();
    return run({"INCR", base_ + "version"}).status();
  }

  Status erase_experiment(std::string_view id) override {
    const std::string sid(id);
    for (auto& cmd : std::vector<std::vector<std::string>>{{"HDEL", base_ + "defs", sid},
                                                           {"HDEL", base_ + "status", sid},
                                                           {"DEL", base_ + "counts:" + sid},
                                                           {"DEL", base_ + "sticky:" + sid},
                                                           {"DEL", base_ + "outcomes:" + sid},
                                                           {"INCR", base_ + "version"}}) {
      if (auto r = run(std::move(cmd)); !r.ok()) return r.status();
    }
    return Status::Ok();
  }

  Result<std::vector<WriteBatch::Sticky>> apply(const WriteBatch& batch,
                                                size_t log_size) override {
    std::vector<std::string> args = {base_, std::to_string(log_size)};
    auto op = [&](const char* o, const std::string& id, std::string a, std::string b) {
      args.push_back(o);
      args.push_back(id);
      args.push_back(std::move(a));
      args.push_back(std::move(b));
    };
    for (const WriteBatch::Count& c : batch.counts) {
      const std::string v = std::to_string(c.variant) + ":";
      const VariantCounts& d = c.delta;
      const std::pair<const char*, uint64_t> ints[] = {{"impressions", d.impressions},
                                                       {"conversions", d.conversions},
                                                       {"outcomes", d.outcomes},
                                                       {"value_count", d.value_count}};
      for (const auto& [field, n] : ints) {
        if (n != 0) op("i", c.id, v + field, std::to_string(n));
      }
      if (d.value_count > 0) {
        op("f", c.id, v + "value_sum", Number(d.value_sum));
        op("f", c.id, v + "value_sum_sq", Number(d.value_sum_sq));
      }
    }
    for (const WriteBatch::Sticky& st : batch.sticky)
      op("s", st.id, st.user, std::to_string(st.variant));
    for (const OutcomeRecord& r : batch.outcomes)
      op("o", r.experiment, DumpJson(OutcomeRecordToJson(r)), "");
    std::vector<std::string> keys;
    Result<RedisReply> r = RunSync<Result<RedisReply>>(
        [&] { return apply_.eval(std::move(keys), std::move(args)); });
    if (!r.ok()) return r.status();
    if (r->is_error()) return Unavailable("redis: " + r->str);
    std::vector<WriteBatch::Sticky> lost;
    for (size_t i = 0; i + 2 < r->elements.size(); i += 3) {
      lost.push_back({r->elements[i].str, r->elements[i + 1].str,
                      static_cast<int>(ToUint(r->elements[i + 2].str))});
    }
    return lost;
  }

  Result<std::vector<OutcomeRecord>> recent_outcomes(std::string_view id, size_t limit) override {
    if (limit == 0) return std::vector<OutcomeRecord>{};
    auto r = run({"LRANGE", base_ + "outcomes:" + std::string(id), "0",
                  std::to_string(limit - 1)});
    if (!r.ok()) return r.status();
    std::vector<OutcomeRecord> out;
    for (const RedisReply& e : r->elements) {
      auto j = ParseJsonObject(e.str);
      if (!j.ok()) continue;
      auto rec = OutcomeRecordFromJson(*j);
      if (rec.ok()) out.push_back(std::move(*rec));
    }
    return out;
  }

  Result<uint64_t> version() override {
    auto r = run({"GET", base_ + "version"});
    if (!r.ok()) return r.status();
    return (r->is_nil() ? 0 : ToUint(r->str)) + 1;  // never 0: shared, always versioned
  }

  Result<std::vector<Snapshot>> load(bool with_sticky) override {
    auto defs = hash(base_ + "defs");
    if (!defs.ok()) return defs.status();
    auto states = hash(base_ + "status");
    if (!states.ok()) return states.status();
    std::vector<Snapshot> out;
    for (const auto& [id, json] : *defs) {
      auto j = ParseJsonObject(json);
      if (!j.ok()) return Internal("stored experiment spec is not JSON: " + j.status().message());
      auto spec = ExperimentSpecFromJson(*j);
      if (!spec.ok())
        return Internal("stored experiment spec is invalid: " + spec.status().message());
      Snapshot s;
      s.spec = std::move(*spec);
      s.counts.assign(s.spec.variants.size(), {});
      if (auto it = states->find(id); it != states->end()) {
        const size_t bar = it->second.find('|');
        s.status = ParseStatus(it->second.substr(0, bar));
        if (bar != std::string::npos) s.selected_winner = it->second.substr(bar + 1);
      }
      auto counts = hash(base_ + "counts:" + id);
      if (!counts.ok()) return counts.status();
      for (const auto& [field, value] : *counts) {
        const size_t colon = field.find(':');
        if (colon == std::string::npos) continue;
        const uint64_t v = ToUint(field.substr(0, colon));
        if (v >= s.counts.size()) continue;
        VariantCounts& c = s.counts[v];
        const std::string name = field.substr(colon + 1);
        if (name == "impressions") c.impressions = ToUint(value);
        if (name == "conversions") c.conversions = ToUint(value);
        if (name == "outcomes") c.outcomes = ToUint(value);
        if (name == "value_count") c.value_count = ToUint(value);
        if (name == "value_sum") c.value_sum = std::strtod(value.c_str(), nullptr);
        if (name == "value_sum_sq") c.value_sum_sq = std::strtod(value.c_str(), nullptr);
      }
      if (with_sticky) {
        auto sticky = hash(base_ + "sticky:" + id);
        if (!sticky.ok()) return sticky.status();
        for (const auto& [user, v] : *sticky)
          s.sticky.emplace_back(user, static_cast<int>(ToUint(v)));
      }
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  static std::string Number(double x) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
    return ec == std::errc() ? std::string(buf, end) : "0";
  }

  Result<RedisReply> run(std::vector<std::string> args) {
    Result<RedisReply> r =
        RunSync<Result<RedisReply>>([&] { return client_.command(std::move(args)); });
    if (r.ok() && r->is_error()) return Unavailable("redis: " + r->str);
    return r;
  }

  Result<std::map<std::string, std::string>> hash(const std::string& key) {
    auto r = run({"HGETALL", key});
    if (!r.ok()) return r.status();
    std::map<std::string, std::string> out;
    for (size_t i = 0; i + 1 < r->elements.size(); i += 2)
      out[r->elements[i].str] = r->elements[i + 1].str;
    return out;
  }

  RedisClient& client_;
  const std::string base_;
  RedisScript apply_;
};

}  // namespace

std::unique_ptr<ExperimentStore> NewRedisExperimentStore(RedisClient& client, std::string base) {
  return std::make_unique<RedisExperimentStore>(client, std::move(base));
}

}  // namespace agentgate
