// RedisExperimentStore: experiments in Redis, shared by every gateway
// instance that uses the same Redis (config `experiments.store: redis`).
//
// Keys (under `base`, e.g. "agentgate:exp:"):
//   <base>defs                 hash  id -> spec JSON
//   <base>status               hash  id -> "<status>|<selected winner>"
//   <base>counts:<id>          hash  "<variant>:<field>" -> count (HINCRBY / HINCRBYFLOAT)
//   <base>sticky:<id>          hash  user -> variant (HSETNX: the first choice wins
//                              across instances)
//   <base>outcomes:<id>        list  outcome records (JSON with metadata), newest
//                              first, trimmed to the log size (LPUSH + LTRIM)
//   <base>version              string, INCR on every definition or status change
// Counts are incremented, never overwritten, so instances add up. A batch
// (ExperimentStore::apply) is one Lua script: atomic, one round trip, and it
// skips experiments whose definition is gone.
//
// Calls block the calling thread until Redis answers (the client's own
// thread does the I/O; its command timeout bounds the wait). REQUIRES: not
// called on the client's thread.
//
// Thread-safety: internally synchronized (RedisClient is). Ownership:
// borrows the client, which must outlive the store.
#pragma once

#include <memory>
#include <string>

#include "agentgate/experiments/experiment_manager.h"
#include "store/redis_client.h"

namespace agentgate {

std::unique_ptr<ExperimentStore> NewRedisExperimentStore(RedisClient& client, std::string base);

}  // namespace agentgate
