// SseParser: an incremental Server-Sent Events parser (WHATWG HTML,
// "Parsing an event stream"), fed with bytes as they arrive.
//
//   SseParser parser;
//   Status s = parser.feed(chunk, [&](const SseEvent& e) {
//     if (e.data != "[DONE]") ReadUsage(e.data);
//   });
//   if (!s.ok()) ...;   // an event over the size limit: the stream is unusable
//
// Lines end in "\n", "\r\n" or "\r" (a "\r" at the end of one chunk and a
// "\n" at the start of the next make one line end). "data:" lines are joined
// with "\n"; "event:" sets the type (default "message"); "id:" sets the last
// event id, which persists across events; lines starting with ':' are
// comments. A blank line dispatches the event (none if it has no data). A
// leading UTF-8 BOM is skipped. An incomplete event at the end of the stream
// is not dispatched (call nothing; just drop the parser).
//
// Memory is bounded: a pending line plus the event's data larger than
// max_event_bytes makes feed() return kBadGateway (the parser carries
// upstream bytes), and every later feed() returns the same error.
//
// Thread-safety: none; one parser per stream. The SseEvent views are valid
// only during the callback.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "agentgate/core/status.h"

namespace agentgate {

struct SseEvent {
  std::string_view type;  // "message" unless an event: field set it
  std::string_view data;  // data: lines joined with '\n'
  std::string_view id;    // the last event id seen on the stream ("" if none)
};

class SseParser {
 public:
  static constexpr size_t kDefaultMaxEventBytes = 1024 * 1024;

  explicit SseParser(size_t max_event_bytes = kDefaultMaxEventBytes)
      : max_event_bytes_(max_event_bytes) {}

  // feed: parses `bytes`, calling on_event(const SseEvent&) for each event
  // completed by them. Returns the error status once over the limit.
  template <typename F>
  Status feed(std::string_view bytes, F&& on_event) {
    if (!error_.ok()) return error_;
    while (!bytes.empty()) {
      std::string_view line;
      if (!next_line(bytes, &line)) break;
      if (process_line(line)) {
        on_event(SseEvent{type_.empty() ? std::string_view("message") : std::string_view(type_),
                          std::string_view(data_), std::string_view(last_id_)});
        type_.clear();
        data_.clear();
      }
    }
    return error_;
  }

  // retry_ms: the last valid "retry:" value, or -1.
  long long retry_ms() const { return retry_ms_; }

 private:
  // next_line: takes one complete line off `bytes` (buffering a partial
  // one); false when `bytes` is used up without completing a line.
  bool next_line(std::string_view& bytes, std::string_view* line);
  // process_line: applies one line; true when it dispatches an event.
  bool process_line(std::string_view line);
  void fail();

  const size_t max_event_bytes_;
  std::string partial_;   // an incomplete line carried between feeds
  std::string line_;      // a line completed from partial_, valid until the next line
  std::string data_;      // data of the event being built, each line + '\n'
  std::string type_;      // event type being built ("" = message)
  std::string last_id_;   // persists across events
  long long retry_ms_ = -1;
  bool skip_lf_ = false;  // the previous chunk ended with '\r'
  bool started_ = false;  // the BOM check is done
  size_t bom_matched_ = 0;
  Status error_;
};

}  // namespace agentgate
