// SingleFlight: in-process de-duplication of identical requests in flight at
// the same time. The first caller of a key becomes its leader and computes
// the answer; callers of the same key that join before the leader finishes
// are followers and wait (bounded by a timeout) for the leader's answer.
//
//   SingleFlight::Ticket t = flights.join(key);
//   if (t.leader()) { ...compute...; t.finish(answer_or_nullptr); }
//   else { CachedResponsePtr r = co_await t.wait(timeout); if (!r) ...compute yourself... }
//
// A leader's Ticket that is destroyed without finish() (an exception, a
// cancelled coroutine) finishes with nullptr, so followers never wait past
// their timeout for a leader that is gone. A nullptr answer means "nothing to
// share" (an error, a no-store answer): followers then compute themselves.
//
// Streams: a streaming leader publish()es the bytes it writes to its client
// and end_stream()s; a streaming follower watch()es them and writes each
// chunk as it arrives (from the first byte on, also when it joined late),
// instead of waiting for the whole answer. The flight keeps the bytes until
// it ends.
//
// Followers may wait on any io_context: the leader wakes each on its own
// executor. Thread-safety: join() and the Tickets may be used from any
// thread; one Ticket by one coroutine.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agentgate/cache/response_cache.h"
#include "agentgate/core/clock.h"

namespace agentgate {

class SingleFlight {
 public:
  struct Flight;  // one key's flight: result and waiting followers

  class Ticket {
   public:
    Ticket(SingleFlight* owner, std::string key, std::shared_ptr<Flight> flight, bool leader)
        : owner_(owner), key_(std::move(key)), flight_(std::move(flight)), leader_(leader) {}
    Ticket(Ticket&&) = default;
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket();

    bool leader() const { return leader_; }
    // finish: REQUIRES leader(). Shares `answer` with the followers (nullptr:
    // nothing to share) and ends the flight. Idempotent.
    void finish(CachedResponsePtr answer);
    // wait: REQUIRES !leader(). The leader's answer, or nullptr when it had
    // none to share or `timeout` passed first.
    boost::asio::awaitable<CachedResponsePtr> wait(Nanos timeout);

    // publish: REQUIRES leader(). Bytes of the leader's stream, as written
    // to its client; the first call makes the flight live.
    void publish(std::string_view bytes);
    // end_stream: REQUIRES leader(). The leader's stream is over; `ok` when it
    // ended with [DONE].
    void end_stream(bool ok);

    // Update: what watch() saw.
    struct Update {
      std::vector<std::string> chunks;  // stream bytes from `from` on, in order
      bool live = false;                // the leader streams
      bool stream_ended = false;        // its stream is over ...
      bool stream_ok = false;           // ... and ended with [DONE]
      bool done = false;                // the flight ended
      CachedResponsePtr answer;         // done: the shared answer (or nullptr)
      bool timed_out = false;           // nothing new within the timeout
    };
    // watch: REQUIRES !leader(). Waits (at most `timeout`) until the leader
    // has published more than `from` chunks, ended its stream, or ended the
    // flight, and returns what is new.
    boost::asio::awaitable<Update> watch(size_t from, Nanos timeout);

   private:
    // await_until: waits (at most `timeout`) until `ready(flight)` holds
    // (checked under the flight's lock at each wake-up); whether it does.
    boost::asio::awaitable<bool> await_until(const std::function<bool(const Flight&)>& ready,
                                             Nanos timeout);

    SingleFlight* owner_;
    std::string key_;
    std::shared_ptr<Flight> flight_;
    bool leader_;
  };

  // join: the leader's ticket if no flight of `key` is in progress, else a
  // follower's.
  Ticket join(const std::string& key);

  // in_flight: keys with a leader now (for stats).
  size_t in_flight() const;

 private:
  void end(const std::string& key, const std::shared_ptr<Flight>& flight, CachedResponsePtr answer);

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;  // GUARDED_BY(mu_)
};

}  // namespace agentgate
