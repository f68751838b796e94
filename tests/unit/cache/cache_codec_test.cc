#include "cache/cache_codec.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

TEST(CacheCodec, ResponseRoundTrip) {
  CachedResponse r{.status = 201, .content_type = "text/event-stream", .body = "b\0dy",
                   .streamed = true, .events = {"{\"a\":1}", "", "x\ny"}, .complete = true};
  r.body.push_back('\0');
  std::optional<CachedResponse> back = DecodeCachedResponse(EncodeCachedResponse(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->status, 201);
  EXPECT_EQ(back->content_type, r.content_type);
  EXPECT_EQ(back->body, r.body);
  EXPECT_TRUE(back->streamed);
  EXPECT_TRUE(back->complete);
  EXPECT_EQ(back->events, r.events);

  CachedResponse plain{.body = "{}", .complete = false};
  back = DecodeCachedResponse(EncodeCachedResponse(plain));
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->streamed);
  EXPECT_FALSE(back->complete);
  EXPECT_TRUE(back->events.empty());
}

TEST(CacheCodec, MalformedResponsesAreRejected) {
  const std::string good = EncodeCachedResponse({.body = "hello", .events = {"e"}});
  EXPECT_FALSE(DecodeCachedResponse(""));
  EXPECT_FALSE(DecodeCachedResponse("garbage"));
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeCachedResponse(good.substr(0, n))) << "truncated at " << n;
  }
  EXPECT_FALSE(DecodeCachedResponse(good + "x"));
  std::string huge_count = EncodeCachedResponse({.body = "hello"});
  huge_count.replace(huge_count.size() - 4, 4, std::string("\xff\xff\xff\x7f", 4));
  EXPECT_FALSE(DecodeCachedResponse(huge_count));
}

TEST(CacheCodec, EmbeddingsAsBinaryFloats) {
  Json floats = Json::array({0.5, -0.25, 1.0, 0.0});
  std::string bytes = EncodeEmbedding(floats);
  EXPECT_EQ(bytes[0], 'f');
  EXPECT_EQ(bytes.size(), 1u + 4 * 4);
  EXPECT_EQ(DecodeEmbedding(bytes), floats);

  Json doubles = Json::array({0.1, 0.123456789012, -3.0});  // 0.1 is not a float
  bytes = EncodeEmbedding(doubles);
  EXPECT_EQ(bytes[0], 'd');
  EXPECT_EQ(bytes.size(), 1u + 3 * 8);
  ASSERT_TRUE(DecodeEmbedding(bytes));
  EXPECT_EQ(DumpJson(*DecodeEmbedding(bytes)), DumpJson(doubles));

  Json base64 = "AAAAPwAAgL8=";
  bytes = EncodeEmbedding(base64);
  EXPECT_EQ(bytes[0], 'j');
  EXPECT_EQ(DecodeEmbedding(bytes), base64);

  EXPECT_FALSE(DecodeEmbedding(""));
  EXPECT_FALSE(DecodeEmbedding("f123"));   // not a multiple of 4
  EXPECT_FALSE(DecodeEmbedding("x1234"));  // unknown tag
  EXPECT_FALSE(DecodeEmbedding("j{"));     // bad JSON
}

TEST(CacheCodec, SemanticEntryRoundTrip) {
  SemanticEntry e{.query = "what is up?",
                  .ns = {.tenant = "t", .agent_type = "sales", .model = "m", .params = "{}"},
                  .response = "{\"a\":1}",
                  .embedding = {0.6f, 0.8f, 0.0f}};
  const std::string bytes = EncodeSemanticEntry(e, 1234567);
  int64_t expires = 0;
  std::optional<SemanticEntry> back = DecodeSemanticEntry(bytes, &expires);
  ASSERT_TRUE(back);
  EXPECT_EQ(expires, 1234567);
  EXPECT_EQ(back->query, e.query);
  EXPECT_EQ(back->ns.key(), e.ns.key());
  EXPECT_EQ(back->response, e.response);
  EXPECT_EQ(back->embedding, e.embedding);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeSemanticEntry(bytes.substr(0, n), &expires)) << "truncated at " << n;
  }
  EXPECT_FALSE(DecodeSemanticEntry(bytes + "x", &expires));
}

TEST(SemanticCacheListener, SetTellsTheListenerInsertDoesNot) {
  ManualClock clock;
  SemanticCache a({}, clock), b({}, clock);
  std::vector<SemanticEntry> told;
  a.set_listener([&](const SemanticEntry& e) { told.push_back(e); });
  const SemanticNamespace ns{.tenant = "t"};
  ASSERT_TRUE(a.set("how tall is the tower", ns, "300 m", {3, 4}));
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].embedding, (std::vector<float>{0.6f, 0.8f}));  // normalized
  EXPECT_EQ(told[0].ttl, std::chrono::hours(1));
  // Another instance inserts it with the time left; it expires then.
  SemanticEntry copy = told[0];
  copy.ttl = std::chrono::seconds(10);
  b.set_listener([&](const SemanticEntry& e) { told.push_back(e); });
  ASSERT_TRUE(b.insert(copy));
  EXPECT_EQ(told.size(), 1u);
  EXPECT_TRUE(b.get("how tall is the tower", ns, {3, 4}));
  EXPECT_FALSE(b.get("how tall is the tower", SemanticNamespace{.tenant = "other"}, {3, 4}));
  clock.advance(std::chrono::seconds(11));
  EXPECT_FALSE(b.get("how tall is the tower", ns, {3, 4}));
}

}  // namespace
}  // namespace agentgate
