#include "gateway/query_embedder.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/await.h"

namespace agentgate {
namespace {

using agentgate::testing::Await;

TEST(QueryEmbedderTest, EmbeddingAnswersAreReadAndNormalized) {
  Result<std::vector<float>> v =
      ParseEmbeddingResponse(R"({"object":"list","data":[{"embedding":[3,4],"index":0}]})");
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_EQ(v->size(), 2u);
  EXPECT_FLOAT_EQ((*v)[0], 0.6f);
  EXPECT_FLOAT_EQ((*v)[1], 0.8f);
}

TEST(QueryEmbedderTest, AnswersWithoutAnEmbeddingAreErrors) {
  for (const char* body : {"", "[]", R"({"data":[]})", R"({"data":[{"embedding":"AAAA"}]})",
                           R"({"data":[{"embedding":[1,"x"]}]})", R"({"data":[{}]})"}) {
    Result<std::vector<float>> v = ParseEmbeddingResponse(body);
    ASSERT_FALSE(v.ok()) << body;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << body;
  }
}

TEST(QueryEmbedderTest, TheLocalEmbedderNeedsNoModel) {
  std::unique_ptr<QueryEmbedder> e = NewLocalQueryEmbedder();
  EXPECT_EQ(e->id(), "local");
  Result<std::vector<float>> v = Await(e->embed("What is the capital of France?", Principal{}));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->size(), 384u);
  double norm = 0;
  for (float x : *v) norm += static_cast<double>(x) * x;
  EXPECT_NEAR(norm, 1.0, 1e-4);
}

}  // namespace
}  // namespace agentgate
