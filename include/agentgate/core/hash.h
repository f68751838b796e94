// Hashing and secrets: SHA-256 for cache keys and stored API keys, xxHash for
// non-security hashing (sharding), random tokens, constant-time comparison.
//
// Thread-safety: every function is safe to call concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace agentgate {

using Sha256Digest = std::array<uint8_t, 32>;

// Sha256: the SHA-256 digest of `data`.
Sha256Digest Sha256(std::string_view data);
// Sha256Hex: the SHA-256 digest of `data` as 64 lowercase hex characters.
std::string Sha256Hex(std::string_view data);

// HexEncode: lowercase hex of `data`.
std::string HexEncode(std::string_view data);

// Hash64: a fast non-cryptographic 64-bit hash (XXH3). Never for secrets.
uint64_t Hash64(std::string_view data, uint64_t seed = 0);

// RandomToken: `bytes` bytes from the OS CSPRNG, hex-encoded.
std::string RandomToken(size_t bytes);

// ConstantTimeEqual: compares without an early exit on the first difference.
// Lengths are compared first (a length leak is acceptable for fixed-size hashes).
bool ConstantTimeEqual(std::string_view a, std::string_view b);

}  // namespace agentgate
