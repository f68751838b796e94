#include "mock/mock_content.h"

#include <gtest/gtest.h>

#include <cmath>

namespace agentgate {
namespace {

TEST(MockContentTest, EstimateTokensIsCeilOfBytesOverFour) {
  EXPECT_EQ(EstimateTokens(""), 0);
  EXPECT_EQ(EstimateTokens("a"), 1);
  EXPECT_EQ(EstimateTokens("abcd"), 1);
  EXPECT_EQ(EstimateTokens("abcde"), 2);
  EXPECT_EQ(EstimateTokens(std::string(400, 'x')), 100);
}

TEST(MockContentTest, TruncateToTokensKeepsUtf8Whole) {
  EXPECT_EQ(TruncateToTokens("abcdefgh", 2), "abcdefgh");
  EXPECT_EQ(TruncateToTokens("abcdefghij", 2), "abcdefgh");
  EXPECT_EQ(TruncateToTokens("abc", 0), "");
  // "abcdefg" then a 2-byte character straddling byte 8: cut before it.
  EXPECT_EQ(TruncateToTokens("abcdefg\xc3\xa9xyz", 2), "abcdefg");
}

TEST(MockContentTest, EchoReplyCollapsesWhitespaceAndTruncates) {
  EXPECT_EQ(EchoReply("  hello \n\t world  ", 200), "Echo: hello world");
  EXPECT_EQ(EchoReply("abcdefghij", 4), "Echo: abcd");
  EXPECT_EQ(EchoReply("abc\xc3\xa9", 4), "Echo: abc");
}

TEST(MockContentTest, StreamPiecesConcatenateBack) {
  std::string text = "Echo: one two  three";
  std::vector<std::string_view> pieces = SplitStreamPieces(text);
  EXPECT_EQ(pieces.size(), 5u);
  std::string joined;
  for (auto p : pieces) joined += p;
  EXPECT_EQ(joined, text);
  EXPECT_EQ(pieces[0], "Echo: ");
  EXPECT_TRUE(SplitStreamPieces("").empty());
  EXPECT_EQ(SplitStreamPieces("word").size(), 1u);
}

TEST(MockContentTest, EmbeddingsAreNormalisedAndDeterministic) {
  for (int dims : {1, 8, 256, 1536}) {
    std::vector<float> v = MockEmbedding("The quick brown fox", dims);
    ASSERT_EQ(v.size(), static_cast<size_t>(dims));
    double norm = 0;
    for (float x : v) norm += static_cast<double>(x) * x;
    EXPECT_NEAR(norm, 1.0, 1e-5);
    EXPECT_EQ(v, MockEmbedding("The quick brown fox", dims));
  }
  std::vector<float> empty = MockEmbedding("  ?! ", 16);
  EXPECT_FLOAT_EQ(empty[0], 1.0f);
  // Case and punctuation do not matter.
  EXPECT_NEAR(CosineSimilarity(MockEmbedding("Hello, World!", 256), MockEmbedding("hello world", 256)),
              1.0, 1e-6);
}

TEST(MockContentTest, NearDuplicatesAreSimilar) {
  const std::pair<const char*, const char*> kPairs[] = {
      {"The quick brown fox jumps over the lazy dog", "The quick brown fox jumped over the lazy dog"},
      {"What is the capital of France?", "What's the capital of France"},
      {"How do I reset my password?", "How can I reset my password?"},
      {"Explain quantum computing in simple terms", "Explain quantum computing in simple terms please"},
      {"Write a poem about the ocean", "write a poem about the ocean!"},
  };
  for (const auto& [a, b] : kPairs) {
    double cos = CosineSimilarity(MockEmbedding(a, 256), MockEmbedding(b, 256));
    EXPECT_GT(cos, 0.8) << a << " | " << b;
  }
}

TEST(MockContentTest, UnrelatedTextsAreNot) {
  const std::pair<const char*, const char*> kPairs[] = {
      {"What is the capital of France?", "How do I bake chocolate chip cookies?"},
      {"What is the capital of France?", "What is the weather in Tokyo today?"},
      {"Explain quantum computing in simple terms", "Best pizza toppings for a party"},
      {"How do I reset my password?", "Translate good morning into Spanish"},
      {"Write a poem about the ocean", "Summarize the quarterly sales report"},
  };
  for (const auto& [a, b] : kPairs) {
    double cos = CosineSimilarity(MockEmbedding(a, 256), MockEmbedding(b, 256));
    EXPECT_LT(cos, 0.3) << a << " | " << b;
  }
}

TEST(MockContentTest, CosineSimilarityEdgeCases) {
  EXPECT_EQ(CosineSimilarity({}, {}), 0);
  EXPECT_EQ(CosineSimilarity({1, 0}, {1, 0, 0}), 0);
  EXPECT_EQ(CosineSimilarity({0, 0}, {1, 0}), 0);
  EXPECT_NEAR(CosineSimilarity({1, 0}, {-2, 0}), -1.0, 1e-9);
}

TEST(MockContentTest, Base64OfFloats) {
  EXPECT_EQ(EncodeFloatsBase64({}), "");
  EXPECT_EQ(EncodeFloatsBase64({1.0f}), "AACAPw==");          // 00 00 80 3f
  EXPECT_EQ(EncodeFloatsBase64({0.0f, -1.0f}), "AAAAAAAAgL8=");  // 8 bytes
  EXPECT_EQ(EncodeFloatsBase64(std::vector<float>(3, 0.0f)), "AAAAAAAAAAAAAAAA");
}

}  // namespace
}  // namespace agentgate
