// GrowthBook-compatible deterministic assignment: the same seed and user id
// give the same bucket here as in GrowthBook's SDKs.
//
// The algorithm, as GrowthBook publishes it (sdk-js `util.ts`):
//   fnv32a(s): FNV-1a 32-bit over the UTF-16 code units of s (JavaScript's
//              charCodeAt), offset basis 0x811c9dc5, prime 0x01000193.
//   hash v2:   fnv32a(decimal(fnv32a(seed + user))) % 10000 / 10000
//   ranges:    variation i covers [c_i, c_i + coverage * w_i) where
//              c_i = w_0 + ... + w_{i-1}
//   choose:    the first range with start <= n < end, or none.
//
//   std::vector<BucketRange> r = GrowthBookBucketRanges({0.5, 0.5}, 1.0);
//   int v = GrowthBookChooseVariation(GrowthBookHashV2("checkout", user), r);
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace agentgate {

// Fnv1a32Utf16: FNV-1a 32-bit over the UTF-16 code units of `utf8` (decoded
// as UTF-8; characters outside the BMP become surrogate pairs; an invalid
// byte counts as U+FFFD, as a JavaScript string built from it would hold).
uint32_t Fnv1a32Utf16(std::string_view utf8);

// GrowthBookHashV2: the v2 hash of `user` under `seed`, in [0, 1) on a grid
// of 1e-4.
double GrowthBookHashV2(std::string_view seed, std::string_view user);

// BucketRange: [start, end) of one variation on [0, 1).
struct BucketRange {
  double start = 0;
  double end = 0;
};

// GrowthBookBucketRanges: the ranges for `weights` (one per variation,
// summing to 1) with `coverage` (clamped to [0, 1]) of the traffic included.
std::vector<BucketRange> GrowthBookBucketRanges(std::span<const double> weights, double coverage);

// GrowthBookChooseVariation: the index of the range containing `n`, or -1
// (the user is outside the coverage).
int GrowthBookChooseVariation(double n, std::span<const BucketRange> ranges);

}  // namespace agentgate
