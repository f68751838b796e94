// A small blocking HTTP/1.1 client for integration tests: one request per
// connection to 127.0.0.1:port, with an overall deadline, and a variant that
// reads a Server-Sent Events stream chunk by chunk.
//
//   HttpResult r = Request(port, "POST", "/v1/chat/completions", body);
//   EXPECT_EQ(r.status, 200);
//   SseResult s = RequestSse(port, "POST", "/v1/chat/completions", stream_body);
//   EXPECT_TRUE(s.done());
//
// Transport failures (refused, reset, timeout, a body cut short) are values:
// status 0 (or the status line that did arrive) and `error` set; nothing throws.
// Thread-safety: each call uses its own io_context and socket; call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agentgate/core/json.h"

namespace agentgate::test {

using TestHeaders = std::vector<std::pair<std::string, std::string>>;

constexpr std::chrono::milliseconds kDefaultRequestTimeout{15000};

struct HttpResult {
  int status = 0;      // 0: no response (refused, reset, timed out)
  std::string error;   // transport error, empty when the response arrived whole
  TestHeaders headers;
  std::string body;

  // header: the first value of `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
  // json: the body parsed; a discarded value when it is not JSON.
  Json json() const;
};

// Request: sends one request and reads the whole response. A body gets
// Content-Type: application/json unless `headers` name another.
HttpResult Request(uint16_t port, std::string_view method, std::string_view target,
                   std::string_view body = {}, const TestHeaders& headers = {},
                   std::chrono::milliseconds timeout = kDefaultRequestTimeout);

struct SseResult {
  int status = 0;            // 0: no response
  std::string error;         // set when the stream did not end cleanly (truncated, reset, timeout)
  TestHeaders headers;
  std::string body;          // the raw body as received
  size_t http_chunks = 0;    // chunks of the chunked transfer encoding received
  std::vector<std::string> events;  // each event's data payload in order ("[DONE]" included)
  std::chrono::steady_clock::time_point first_data_at{};  // when the first body bytes arrived
  std::chrono::steady_clock::time_point finished_at{};    // when the response ended

  std::string header(std::string_view name) const;
  // done: the last event is "[DONE]".
  bool done() const { return !events.empty() && events.back() == "[DONE]"; }
  // json_events: the events parsed as JSON, "[DONE]" and unparsable ones left out.
  std::vector<Json> json_events() const;
};

// RequestSse: like Request, but parses the body as Server-Sent Events as it
// arrives (also when it is cut short).
SseResult RequestSse(uint16_t port, std::string_view method, std::string_view target,
                     std::string_view body = {}, const TestHeaders& headers = {},
                     std::chrono::milliseconds timeout = kDefaultRequestTimeout);

// ParseSseEvents: the data payloads of the complete events in `text`
// (multi-line data joined with '\n'); an incomplete last event is dropped.
std::vector<std::string> ParseSseEvents(std::string_view text);

}  // namespace agentgate::test
