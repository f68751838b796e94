// Request IDs: every request gets one, echoed in X-Request-Id and the logs.
//
// Thread-safety: AssignNewRequestId keeps a generator per thread;
// ValidRequestId is pure.
#pragma once

#include <string>
#include <string_view>

namespace agentgate {

// AssignNewRequestId: 16 hex digits from a per-thread generator seeded once
// from the OS CSPRNG, written over `id` (reusing its buffer). Unique enough to
// correlate logs; not a secret.
void AssignNewRequestId(std::string& id);

// ValidRequestId: a client's X-Request-Id is echoed only if short (at most
// 128 bytes) and printable ASCII without spaces.
bool ValidRequestId(std::string_view id);

}  // namespace agentgate
