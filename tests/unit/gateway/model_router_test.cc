#include "gateway/model_router.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

UpstreamConfig Up(std::string name, std::vector<std::string> models, int weight = 1) {
  UpstreamConfig u;
  u.name = std::move(name);
  u.base_url = "http://127.0.0.1:1";
  u.models = std::move(models);
  u.weight = weight;
  return u;
}

TEST(ModelRouterTest, NamedModelsWinOverWildcard) {
  ModelRouter r({Up("a", {"gpt-4o"}), Up("any", {"*"})}, {});
  auto p = r.plan("gpt-4o", 0);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].upstream, 0u);
  auto q = r.plan("other", 0);
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].upstream, 1u);
  EXPECT_TRUE(ModelRouter({Up("a", {"m"})}, {}).plan("x", 0).empty());
}

TEST(ModelRouterTest, WeightsSplitTheFirstChoiceExactly) {
  ModelRouter r({Up("a", {"m"}, 1), Up("b", {"m"}, 3)}, {});
  int first_a = 0;
  for (uint64_t random = 0; random < 4000; ++random) {
    auto p = r.plan("m", random);
    ASSERT_EQ(p.size(), 2u);  // the other member follows as a second attempt
    EXPECT_NE(p[0].upstream, p[1].upstream);
    if (p[0].upstream == 0) ++first_a;
  }
  EXPECT_EQ(first_a, 1000);
}

TEST(ModelRouterTest, FallbackModelsFollowInOrder) {
  RoutingConfig routing;
  routing.fallbacks["big"] = {"small", "tiny"};
  ModelRouter r({Up("a", {"big"}), Up("b", {"small"}), Up("c", {"tiny"})}, routing);
  auto p = r.plan("big", 0);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].model, "big");
  EXPECT_FALSE(p[0].fallback);
  EXPECT_EQ(p[1].model, "small");
  EXPECT_EQ(p[1].upstream, 1u);
  EXPECT_TRUE(p[1].fallback);
  EXPECT_EQ(p[2].model, "tiny");
  EXPECT_EQ(r.models(), (std::vector<std::string>{"big", "small", "tiny"}));
}

}  // namespace
}  // namespace agentgate
