// FlightStream: the streaming half of cross-instance de-duplication. The
// instance whose leader holds a key's FlightLock appends the bytes it writes
// to its client to the key's shared stream as they pass; a streaming
// follower on another instance reads them from the start and relays them to
// its own client while the leader still streams.
//
//   leader:   stream.publish(key, bytes, ttl);  ...  stream.end(key, ok, ttl);
//   follower: FlightStream::Read r = co_await stream.read(key, cursor);
//             ...write r.chunks...; cursor = r.cursor; until r.ended
//
// publish() and end() never wait for the backend: the leader's client is
// never delayed, and a backend failure only costs the followers (they fall
// back to calling the upstream, or end their stream with an error event).
// Appends from one thread keep their order. The stream expires `ttl` after
// the last append, so nothing is left behind by a leader that died.
//
// Thread-safety: implementations are internally synchronized.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "agentgate/core/clock.h"

namespace agentgate {

class FlightStream {
 public:
  // Read: what read() found after the cursor.
  struct Read {
    std::vector<std::string> chunks;  // stream bytes, in order
    bool ended = false;               // the leader ended its stream ...
    bool ok = false;                  // ... with [DONE]
    bool failed = false;              // the backend did not answer
    std::string cursor;               // where the next read starts
  };

  virtual ~FlightStream() = default;
  // publish: appends `bytes` to `key`'s stream, which lives `ttl` from now.
  virtual void publish(const std::string& key, std::string_view bytes, Nanos ttl) = 0;
  // end: marks `key`'s stream ended (`ok`: with [DONE]); it lives `ttl` more.
  virtual void end(const std::string& key, bool ok, Nanos ttl) = 0;
  // read: what follows `cursor` ("" = from the start), without waiting.
  virtual boost::asio::awaitable<Read> read(const std::string& key, std::string cursor) = 0;
};

}  // namespace agentgate
