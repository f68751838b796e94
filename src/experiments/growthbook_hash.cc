#include "agentgate/experiments/growthbook_hash.h"

#include <algorithm>
#include <array>

namespace agentgate {

namespace {

constexpr uint32_t kFnvOffset = 0x811c9dc5u;
constexpr uint32_t kFnvPrime = 0x01000193u;
constexpr uint32_t kReplacement = 0xFFFD;

inline uint32_t Mix(uint32_t h, uint32_t unit) { return (h ^ unit) * kFnvPrime; }

// DecodeUtf8: the code point at s[i], advancing i; U+FFFD (one byte
// consumed) for an invalid or truncated sequence.
uint32_t DecodeUtf8(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++i;
    return kReplacement;
  }
  if (i + static_cast<size_t>(len) > s.size()) {
    ++i;
    return kReplacement;
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return kReplacement;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return kReplacement;
  }
  i += static_cast<size_t>(len);
  return cp;
}

uint32_t Feed(uint32_t h, std::string_view utf8) {
  size_t i = 0;
  while (i < utf8.size()) {
    const auto b = static_cast<unsigned char>(utf8[i]);
    if (b < 0x80) {  // ASCII fast path: one code unit
      h = Mix(h, b);
      ++i;
      continue;
    }
    uint32_t cp = DecodeUtf8(utf8, i);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      h = Mix(h, 0xD800 + (cp >> 10));
      h = Mix(h, 0xDC00 + (cp & 0x3FF));
    } else {
      h = Mix(h, cp);
    }
  }
  return h;
}

}  // namespace

uint32_t Fnv1a32Utf16(std::string_view utf8) { return Feed(kFnvOffset, utf8); }

double GrowthBookHashV2(std::string_view seed, std::string_view user) {
  const uint32_t inner = Feed(Feed(kFnvOffset, seed), user);  // fnv(seed + user)
  std::array<char, 10> digits{};
  size_t n = 0;
  uint32_t v = inner;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  uint32_t h = kFnvOffset;
  while (n > 0) h = Mix(h, static_cast<unsigned char>(digits[--n]));
  return static_cast<double>(h % 10000) / 10000.0;
}

std::vector<BucketRange> GrowthBookBucketRanges(std::span<const double> weights, double coverage) {
  coverage = std::clamp(coverage, 0.0, 1.0);
  std::vector<BucketRange> out;
  out.reserve(weights.size());
  double cumulative = 0;
  for (double w : weights) {
    const double start = cumulative;
    cumulative += w;
    out.push_back({start, start + coverage * w});
  }
  return out;
}

int GrowthBookChooseVariation(double n, std::span<const BucketRange> ranges) {
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (n >= ranges[i].start && n < ranges[i].end) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace agentgate
