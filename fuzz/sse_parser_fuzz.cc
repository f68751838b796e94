// Fuzz target: the SSE parser (upstream streams). The input is fed whole to
// one parser and split at every position given by its first bytes to
// another: both must produce the same events and the same error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "upstream/sse_parser.h"

namespace {

struct Parsed {
  std::vector<std::string> events;  // "type|id|data"
  bool ok = true;
};

Parsed Feed(const std::vector<std::string_view>& pieces) {
  agentgate::SseParser parser(4096);
  Parsed out;
  for (std::string_view p : pieces) {
    agentgate::Status s = parser.feed(p, [&](const agentgate::SseEvent& e) {
      out.events.push_back(std::string(e.type) + "|" + std::string(e.id) + "|" +
                           std::string(e.data));
    });
    if (!s.ok()) {
      out.ok = false;
      break;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // The first two bytes choose the split points; the rest is the stream.
  const size_t step = 1 + data[0] % 64;
  const size_t first = data[1] % 32;
  std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);
  std::vector<std::string_view> pieces;
  size_t at = 0;
  size_t len = first;
  while (at < stream.size()) {
    const size_t n = std::min(len, stream.size() - at);
    pieces.push_back(stream.substr(at, n));
    at += n;
    len = step;
  }
  const Parsed whole = Feed({stream});
  const Parsed split = Feed(pieces);
  // The limit is checked per event, so both agree on errors too; events
  // before an error are the same.
  if (whole.ok != split.ok) std::abort();
  if (whole.ok && whole.events != split.events) std::abort();
  return 0;
}
