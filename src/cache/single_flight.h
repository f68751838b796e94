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
// Followers may wait on any io_context: the leader wakes each on its own
// executor. Thread-safety: join() and the Tickets may be used from any
// thread; one Ticket by one coroutine.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

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

   private:
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
