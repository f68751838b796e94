// FlightLock: the cross-instance half of request de-duplication. Instances
// sharing a backend (Redis DB 4) elect one leader per request key: the
// leader holds the key's lock while it calls the upstream and stores the
// answer in the shared response store; the others see the lock taken and
// wait for that answer (CacheStage polls the store).
//
//   FlightLock::Lock l = co_await lock.try_lock(key, ttl);
//   if (l.state == FlightLock::State::kTaken) ...wait for the answer...
//   ...compute, store...
//   if (l.state == FlightLock::State::kAcquired) co_await lock.unlock(key, l.token);
//
// The lock expires by itself after `ttl`, so a leader that died never blocks
// anyone longer than that. A backend failure is kFailed: the caller goes on
// as if it led (fail-open), never as an error.
//
// Thread-safety: implementations are internally synchronized.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>

#include "agentgate/core/clock.h"

namespace agentgate {

class FlightLock {
 public:
  enum class State {
    kAcquired,  // this caller holds the lock: it leads
    kTaken,     // another holds it: wait for its answer
    kFailed,    // the backend did not answer: go on alone
  };
  struct Lock {
    State state = State::kFailed;
    std::string token;  // kAcquired: what unlock() needs
  };

  virtual ~FlightLock() = default;
  // try_lock: takes `key` for `ttl` if nobody holds it.
  virtual boost::asio::awaitable<Lock> try_lock(const std::string& key, Nanos ttl) = 0;
  // held: whether anyone holds `key` (false also when the backend failed).
  virtual boost::asio::awaitable<bool> held(const std::string& key) = 0;
  // unlock: releases `key` if `token` still holds it (an expired lock taken
  // over by another leader is left alone).
  virtual boost::asio::awaitable<void> unlock(const std::string& key, const std::string& token) = 0;
};

}  // namespace agentgate
