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

class RedisExperimentStore final : public ExperimentStore {
 public:
  RedisExperimentStore(RedisClient& client, std::string base)
      : client_(client), base_(std::move(base)) {}

  Status put_experiment(const ExperimentSpec& spec, ExperimentStatus status,
                        std::string_view winner) override {
    auto r = run({"HSET", base_ + "defs", spec.name, DumpJson(ExperimentSpecToJson(spec))});
    if (!r.ok()) return r.status();
    std::string state = std::string(ExperimentStatusName(status)) + "|" + std::string(winner);
    return run({"HSET", base_ + "status", spec.name, state}).status();
  }

  Status erase_experiment(std::string_view id) override {
    const std::string sid(id);
    for (auto& cmd : std::vector<std::vector<std::string>>{{"DEL", base_ + "counts:" + sid},
                                                           {"DEL", base_ + "sticky:" + sid},
                                                           {"HDEL", base_ + "status", sid},
                                                           {"HDEL", base_ + "defs", sid}}) {
      if (auto r = run(std::move(cmd)); !r.ok()) return r.status();
    }
    return Status::Ok();
  }

  Status add_counts(std::string_view id, int variant, const VariantCounts& d) override {
    const std::string key = base_ + "counts:" + std::string(id);
    const std::string v = std::to_string(variant) + ":";
    const std::pair<const char*, uint64_t> ints[] = {{"impressions", d.impressions},
                                                     {"conversions", d.conversions},
                                                     {"outcomes", d.outcomes},
                                                     {"value_count", d.value_count}};
    for (const auto& [field, n] : ints) {
      if (n == 0) continue;
      if (auto r = run({"HINCRBY", key, v + field, std::to_string(n)}); !r.ok()) return r.status();
    }
    if (d.value_count > 0) {
      if (auto r = run({"HINCRBYFLOAT", key, v + "value_sum", Number(d.value_sum)}); !r.ok())
        return r.status();
      if (auto r = run({"HINCRBYFLOAT", key, v + "value_sum_sq", Number(d.value_sum_sq)});
          !r.ok()) {
        return r.status();
      }
    }
    return Status::Ok();
  }

  Result<int> put_assignment(std::string_view id, std::string_view user, int variant) override {
    // One round trip: set unless set, and answer what is stored.
    auto r = run({"EVAL",
                  "if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then return "
                  "tonumber(ARGV[2]) end return tonumber(redis.call('HGET', KEYS[1], ARGV[1]))",
                  "1", base_ + "sticky:" + std::string(id), std::string(user),
                  std::to_string(variant)});
    if (!r.ok()) return r.status();
    return r->type == RedisReply::Type::kInteger ? static_cast<int>(r->integer) : variant;
  }

  Result<std::vector<Snapshot>> load() override {
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
      auto sticky = hash(base_ + "sticky:" + id);
      if (!sticky.ok()) return sticky.status();
      for (const auto& [user, v] : *sticky)
        s.sticky.emplace_back(user, static_cast<int>(ToUint(v)));
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
};

}  // namespace

std::unique_ptr<ExperimentStore> NewRedisExperimentStore(RedisClient& client, std::string base) {
  return std::make_unique<RedisExperimentStore>(client, std::move(base));
}

}  // namespace agentgate
