#include "agentgate/cache/semantic_cache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <random>

#include "agentgate/cache/local_embedder.h"
#include "agentgate/cache/semantic_guard.h"

namespace agentgate {
namespace {

using namespace std::chrono_literals;

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

TEST(LocalEmbedderTest, UnitVectorsThatIgnoreCaseAndPunctuation) {
  LocalEmbedder e(384);
  std::vector<float> a = e.embed("What is the capital of France?");
  std::vector<float> b = e.embed("what is the capital of france");
  ASSERT_EQ(a.size(), 384u);
  EXPECT_NEAR(Cosine(a, a), 1.0, 1e-5);
  EXPECT_NEAR(Cosine(a, b), 1.0, 1e-5);
  EXPECT_LT(Cosine(a, e.embed("How do I bake sourdough bread at home")), 0.3);
  std::vector<float> empty = e.embed("?!");
  EXPECT_EQ(Cosine(empty, empty), 0.0);
}

TEST(SemanticGuardTest, NumbersAndNegationMustMatch) {
  EXPECT_TRUE(SemanticGuardAccepts("What is 2+2?", "what is 2 + 2"));
  EXPECT_FALSE(SemanticGuardAccepts("What is 2+2?", "What is 2+3?"));
  EXPECT_FALSE(SemanticGuardAccepts("Give me five ideas", "Give me six ideas"));
  EXPECT_FALSE(SemanticGuardAccepts("price of 2.5 kg", "price of 25 kg"));
  EXPECT_FALSE(SemanticGuardAccepts("Is it safe to swim here?", "Is it not safe to swim here?"));
  EXPECT_FALSE(SemanticGuardAccepts("Is it safe?", "Isn't it safe?"));
  EXPECT_FALSE(SemanticGuardAccepts("coffee with sugar", "coffee without sugar"));
  EXPECT_TRUE(SemanticGuardAccepts("Isn't it safe?", "Is it not safe?"));
  EXPECT_TRUE(SemanticGuardAccepts("I can't log in", "I cannot log in"));
}

SemanticNamespace Ns(std::string tenant = "t1") {
  return {.tenant = std::move(tenant), .agent_type = "support", .model = "gpt-4o", .params = "{}"};
}

class SemanticCacheTest : public ::testing::Test {
 protected:
  bool Set(std::string_view q, std::string answer, const SemanticNamespace& ns = Ns()) {
    return cache_.set(q, ns, std::move(answer), embedder_.embed(q));
  }
  std::optional<SemanticHit> Get(std::string_view q, const SemanticNamespace& ns = Ns()) {
    return cache_.get(q, ns, embedder_.embed(q));
  }
  ManualClock clock_;
  LocalEmbedder embedder_;
  SemanticCache cache_{{.similarity_threshold = 0.95, .ttl = 1h, .max_entries = 100}, clock_};
};

TEST_F(SemanticCacheTest, SimilarQueryHitsWithItsSimilarity) {
  ASSERT_TRUE(Set("What is the capital of France?", "Paris"));
  std::optional<SemanticHit> hit = Get("what is the capital of FRANCE");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->response, "Paris");
  EXPECT_EQ(hit->query, "What is the capital of France?");
  EXPECT_GE(hit->similarity, 0.95);
  EXPECT_FALSE(Get("How do I reset my password?").has_value());
  SemanticCacheStats s = cache_.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_GE(s.average_similarity, 0.95);
}

TEST_F(SemanticCacheTest, GuardRejectsNumberAndNegationNearMisses) {
  // A low threshold, so that only the guard stands between these and a hit.
  SemanticCache loose({.similarity_threshold = 0.5}, clock_);
  ASSERT_TRUE(loose.set("What is 2+2?", Ns(), "4", embedder_.embed("What is 2+2?")));
  EXPECT_FALSE(loose.get("What is 2+3?", Ns(), embedder_.embed("What is 2+3?")).has_value());
  ASSERT_TRUE(loose.set("Is the API rate limited?", Ns(), "yes", embedder_.embed("Is the API rate limited?")));
  EXPECT_FALSE(loose.get("Is the API not rate limited?", Ns(), embedder_.embed("Is the API not rate limited?")).has_value());
  EXPECT_GE(loose.stats().guard_rejections, 2u);
  EXPECT_TRUE(loose.get("what is 2+2", Ns(), embedder_.embed("what is 2+2")).has_value());
}

TEST_F(SemanticCacheTest, PartitionsAreHard) {
  ASSERT_TRUE(Set("What is our refund policy?", "tenant one's policy", Ns("t1")));
  EXPECT_FALSE(Get("What is our refund policy?", Ns("t2")).has_value());
  SemanticNamespace other_agent = Ns("t1");
  other_agent.agent_type = "sales";
  EXPECT_FALSE(Get("What is our refund policy?", other_agent).has_value());
  SemanticNamespace other_model = Ns("t1");
  other_model.model = "gpt-4o-mini";
  EXPECT_FALSE(Get("What is our refund policy?", other_model).has_value());
  EXPECT_TRUE(Get("What is our refund policy?", Ns("t1")).has_value());
}

TEST_F(SemanticCacheTest, EntriesExpireAndAreEvictedLeastRecentlyUsedFirst) {
  ASSERT_TRUE(Set("first question here", "1"));
  clock_.advance(59min);
  EXPECT_TRUE(Get("first question here").has_value());
  clock_.advance(1min);
  EXPECT_FALSE(Get("first question here").has_value());

  SemanticCache small({.max_entries = 3}, clock_);
  for (std::string q : {"alpha topic", "beta topic", "gamma topic"}) {
    ASSERT_TRUE(small.set(q, Ns(), q, embedder_.embed(q)));
  }
  ASSERT_TRUE(small.get("alpha topic", Ns(), embedder_.embed("alpha topic")));  // alpha is now recent
  ASSERT_TRUE(small.set("delta topic", Ns(), "d", embedder_.embed("delta topic")));
  EXPECT_FALSE(small.get("beta topic", Ns(), embedder_.embed("beta topic")).has_value());
  EXPECT_TRUE(small.get("alpha topic", Ns(), embedder_.embed("alpha topic")).has_value());
  EXPECT_EQ(small.stats().entries, 3u);
}

TEST_F(SemanticCacheTest, HnswIndexFindsTheNearestEntryAcrossEvictions) {
  SemanticCache big({.similarity_threshold = 0.9, .max_entries = 1500, .hnsw_from = 64}, clock_);
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  constexpr size_t kDim = 64;
  std::vector<std::vector<float>> vecs;
  for (int i = 0; i < 2000; ++i) {  // more than max_entries: the first 500 are evicted
    std::vector<float> v(kDim);
    for (float& x : v) x = noise(rng);
    vecs.push_back(v);
    ASSERT_TRUE(big.set("q", Ns(), std::to_string(i), v));
  }
  EXPECT_EQ(big.stats().entries, 1500u);
  int found = 0;
  for (int i = 500; i < 2000; i += 15) {
    std::optional<SemanticHit> hit = big.get("q", Ns(), vecs[i]);
    if (hit && hit->response == std::to_string(i)) ++found;
  }
  EXPECT_GE(found, 95);  // of 100: recall@1 of exact vectors through HNSW
  EXPECT_FALSE(big.get("q", Ns(), vecs[10]).has_value());  // evicted
}

// A labelled set of query pairs: paraphrases that may hit, and near misses
// (numbers, negation, entities) that must not. Reports the local embedder's
// precision and recall at the default threshold.
TEST(SemanticCacheLabelledTest, LocalEmbedderPrecisionAndRecallAtDefaultThreshold) {
  enum Kind { kRewording, kParaphrase, kNumberOrNegation, kEntity };
  struct Pair {
    const char* stored;
    const char* asked;
    Kind kind;  // the first two should hit, the others must not
  };
  const Pair pairs[] = {
      {"What is the capital of France?", "what is the capital of france", kRewording},
      {"How do I reset my password?", "How do I reset my password", kRewording},
      {"Explain recursion in simple terms.", "explain recursion in simple terms!", kRewording},
      {"How do I reset my password?", "how do i reset  my password ??", kRewording},
      {"Summarize the quarterly report", "Summarise the quarterly report", kRewording},
      {"What are the opening hours of the store", "What are the opening hours of the store today", kRewording},
      // Paraphrases with other words: a hashed n-gram embedder sees little in
      // common; an upstream embedding model would find more of them.
      {"How do I reset my password?", "How can I reset my password?", kParaphrase},
      {"What is the capital of France?", "Which city is the capital of France?", kParaphrase},
      {"Summarize the quarterly report", "Give me a summary of the quarterly report", kParaphrase},
      {"What is the weather like in Paris today?", "How is the weather in Paris today?", kParaphrase},
      {"Translate good morning into Spanish", "How do you say good morning in Spanish?", kParaphrase},
      {"What is 2+2?", "What is 2+3?", kNumberOrNegation},
      {"Give me five ideas for a party", "Give me six ideas for a party", kNumberOrNegation},
      {"Is it safe to swim here?", "Is it not safe to swim here?", kNumberOrNegation},
      {"Can I pay with a credit card?", "Can't I pay with a credit card?", kNumberOrNegation},
      {"Coffee with sugar, please", "Coffee without sugar, please", kNumberOrNegation},
      {"Convert 100 USD to EUR", "Convert 1000 USD to EUR", kNumberOrNegation},
      {"List 3 prime numbers", "List 30 prime numbers", kNumberOrNegation},
      {"Should I never restart the server?", "Should I restart the server?", kNumberOrNegation},
      {"What is the capital of France?", "What is the capital of Spain?", kEntity},
      {"Book a flight to Berlin on Monday", "Book a flight to Boston on Monday", kEntity},
  };
  ManualClock clock;
  LocalEmbedder embedder;
  int tp = 0, fp = 0, fn = 0, number_or_negation_false_hits = 0, rewordings_hit = 0;
  for (const Pair& p : pairs) {
    SemanticCache cache({}, clock);  // the defaults: threshold 0.95
    ASSERT_TRUE(cache.set(p.stored, Ns(), "answer", embedder.embed(p.stored)));
    const bool hit = cache.get(p.asked, Ns(), embedder.embed(p.asked)).has_value();
    const bool should_hit = p.kind == kRewording || p.kind == kParaphrase;
    if (hit && should_hit) ++tp;
    if (hit && p.kind == kRewording) ++rewordings_hit;
    if (hit && !should_hit) {
      ++fp;
      if (p.kind == kNumberOrNegation) ++number_or_negation_false_hits;
    }
    if (!hit && should_hit) ++fn;
  }
  const double precision = tp + fp == 0 ? 1.0 : static_cast<double>(tp) / (tp + fp);
  const double recall = tp + fn == 0 ? 1.0 : static_cast<double>(tp) / (tp + fn);
  std::cout << "local embedder at 0.95: precision " << precision << ", recall " << recall
            << " (" << tp << " true hits, " << fp << " false hits, " << fn << " missed; "
            << rewordings_hit << " of 6 rewordings hit)\n";
  RecordProperty("precision", std::to_string(precision));
  RecordProperty("recall", std::to_string(recall));
  EXPECT_EQ(number_or_negation_false_hits, 0);
  EXPECT_EQ(fp, 0);
  EXPECT_GE(rewordings_hit, 4);  // the near-identical rewordings do hit
}

}  // namespace
}  // namespace agentgate
