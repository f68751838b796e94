#include <gtest/gtest.h>

#include "config/config.h"

namespace agentgate {
namespace {

TEST(ExperimentsConfig, DefaultsYamlEnvAndValidation) {
  const Env none = MapEnv({});
  auto d = LoadConfigString("", none);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->experiments.enabled);
  EXPECT_EQ(d->experiments.store, "sqlite");

  auto off = LoadConfigString("experiments:\n  enabled: false\n", none);
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->experiments.enabled);

  auto bad = LoadConfigString("experiments:\n  store: mongo\n", none);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("experiments.store"), std::string::npos)
      << bad.status().message();

  auto no_redis = LoadConfigString("experiments:\n  store: redis\n", none);
  ASSERT_FALSE(no_redis.ok());
  EXPECT_NE(no_redis.status().message().find("redis"), std::string::npos);

  auto redis = LoadConfigString("redis:\n  host: 127.0.0.1\nexperiments:\n  store: redis\n", none);
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  EXPECT_EQ(redis->experiments.store, "redis");

  auto unknown = LoadConfigString("experiments:\n  enable: false\n", none);
  EXPECT_FALSE(unknown.ok());

  // Write-behind, sync and the outcome log.
  EXPECT_EQ(d->experiments.flush_interval, std::chrono::milliseconds(100));
  EXPECT_EQ(d->experiments.sync_interval, std::chrono::milliseconds(1000));
  EXPECT_EQ(d->experiments.outcome_log_size, 1000u);
  auto tuned = LoadConfigString(
      "experiments:\n  flush_interval_ms: 20\n  sync_interval_ms: 0\n  outcome_log_size: 50\n",
      none);
  ASSERT_TRUE(tuned.ok()) << tuned.status().ToString();
  EXPECT_EQ(tuned->experiments.flush_interval, std::chrono::milliseconds(20));
  EXPECT_EQ(tuned->experiments.sync_interval, Nanos(0));
  EXPECT_EQ(tuned->experiments.outcome_log_size, 50u);
  for (const char* key : {"flush_interval_ms: 0", "flush_interval_ms: -5", "sync_interval_ms: -1",
                          "outcome_log_size: 0", "outcome_log_size: lots"}) {
    auto r = LoadConfigString(std::string("experiments:\n  ") + key + "\n", none);
    ASSERT_FALSE(r.ok()) << key;
    const std::string name = std::string(key).substr(0, std::string(key).find(':'));
    EXPECT_NE(r.status().message().find("experiments." + name), std::string::npos)
        << r.status().message();
  }

  auto env = LoadConfigString("", MapEnv({{"EXPERIMENTS_ENABLED", "false"}}));
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_FALSE(env->experiments.enabled);
}

}  // namespace
}  // namespace agentgate
