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

  auto env = LoadConfigString("", MapEnv({{"EXPERIMENTS_ENABLED", "false"}}));
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_FALSE(env->experiments.enabled);
}

}  // namespace
}  // namespace agentgate
