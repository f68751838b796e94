#include "upstream/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace agentgate {
namespace {

struct Ev {
  std::string type, data, id;
  bool operator==(const Ev&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Ev& e) {
  return os << "{" << e.type << "|" << e.data << "|" << e.id << "}";
}

// Parse: feeds `parts` in order and collects the events.
std::vector<Ev> Parse(const std::vector<std::string_view>& parts, Status* status = nullptr,
                      size_t limit = SseParser::kDefaultMaxEventBytes) {
  SseParser p(limit);
  std::vector<Ev> out;
  Status s;
  for (auto part : parts) {
    s = p.feed(part, [&](const SseEvent& e) {
      out.push_back({std::string(e.type), std::string(e.data), std::string(e.id)});
    });
  }
  if (status) *status = s;
  return out;
}

const std::string kStream =
    "\xEF\xBB\xBF"
    ": keep-alive comment\n"
    "data: {\"id\":1}\n\n"
    "event: update\r\n"
    "id: 42\r\n"
    "data: line one\r\n"
    "data:line two\r\n"
    "\r\n"
    "retry: 1500\r"
    "data: cr only\r"
    "\r"
    "data\n"
    "\n"
    "unknown: x\n"
    "\n"
    "data: {\"usage\":{\"total_tokens\":7}}\n\n"
    "data: [DONE]\n\n"
    "data: incomplete, never dispatched";

const std::vector<Ev> kExpected = {
    {"message", "{\"id\":1}", ""},
    {"update", "line one\nline two", "42"},
    {"message", "cr only", "42"},
    {"message", "", "42"},
    {"message", "{\"usage\":{\"total_tokens\":7}}", "42"},
    {"message", "[DONE]", "42"},
};

TEST(SseParserTest, ParsesWholeStream) { EXPECT_EQ(Parse({kStream}), kExpected); }

TEST(SseParserTest, EverySplitPointGivesTheSameEvents) {
  for (size_t i = 0; i <= kStream.size(); ++i) {
    std::string_view s = kStream;
    EXPECT_EQ(Parse({s.substr(0, i), s.substr(i)}), kExpected) << "split at " << i;
  }
}

TEST(SseParserTest, EveryTwoSplitPointsGiveTheSameEvents) {
  std::string_view s = kStream;
  for (size_t i = 0; i <= s.size(); i += 3) {
    for (size_t j = i; j <= s.size(); ++j) {
      ASSERT_EQ(Parse({s.substr(0, i), s.substr(i, j - i), s.substr(j)}), kExpected)
          << "splits at " << i << ", " << j;
    }
  }
}

TEST(SseParserTest, ByteByByte) {
  std::vector<std::string_view> parts;
  std::string_view s = kStream;
  for (size_t i = 0; i < s.size(); ++i) parts.push_back(s.substr(i, 1));
  EXPECT_EQ(Parse(parts), kExpected);
}

TEST(SseParserTest, CrLfSplitBetweenChunksIsOneLineEnd) {
  // "\r" ends one chunk, "\n" starts the next: one line end, not two (which
  // would dispatch early and lose nothing here, but would turn "data: a\r" +
  // "\ndata: b\r\n\r\n" into two events).
  auto events = Parse({"data: a\r", "\ndata: b\r\n\r\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a\nb");
}

TEST(SseParserTest, RetryAndEmptyEventAreHandled) {
  SseParser p;
  int n = 0;
  EXPECT_TRUE(p.feed("retry: 250\n\nevent: x\n\n", [&](const SseEvent&) { ++n; }).ok());
  EXPECT_EQ(n, 0);  // no data: nothing dispatched, and the type is reset
  EXPECT_EQ(p.retry_ms(), 250);
  EXPECT_TRUE(p.feed("data: y\n\n", [&](const SseEvent& e) {
                 ++n;
                 EXPECT_EQ(e.type, "message");
               }).ok());
  EXPECT_EQ(n, 1);
}

TEST(SseParserTest, OversizeEventIsAnErrorNotGrowth) {
  std::string big = "data: " + std::string(2000, 'x') + "\n";
  Status s;
  auto events = Parse({big, big, "\n"}, &s, 3000);
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(s.code(), StatusCode::kBadGateway);

  // An endless line without a terminator, fed in pieces, also stops.
  SseParser p(1000);
  Status last;
  for (int i = 0; i < 100 && last.ok(); ++i) {
    last = p.feed(std::string(100, 'y'), [](const SseEvent&) {});
  }
  EXPECT_EQ(last.code(), StatusCode::kBadGateway);
  // And stays failed.
  EXPECT_FALSE(p.feed("data: ok\n\n", [](const SseEvent&) { FAIL(); }).ok());
}

TEST(SseParserTest, EventsUnderTheLimitAfterBigOnesAreFine) {
  std::string ok = "data: " + std::string(900, 'x') + "\n\n";
  auto events = Parse({ok, ok, ok}, nullptr, 1000);
  EXPECT_EQ(events.size(), 3u);
}

}  // namespace
}  // namespace agentgate
