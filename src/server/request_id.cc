#include "server/request_id.h"

#include <cstdint>

#include "agentgate/core/hash.h"

namespace agentgate {

void AssignNewRequestId(std::string& id) {
  thread_local uint64_t state = [] {
    uint64_t seed = 0;
    std::string t = RandomToken(8);
    for (char c : t) seed = seed * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    return seed;
  }();
  // splitmix64
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  static constexpr char kHex[] = "0123456789abcdef";
  id.assign(16, '0');
  for (int i = 15; i >= 0; --i, z >>= 4) id[static_cast<size_t>(i)] = kHex[z & 0xf];
}

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace agentgate
