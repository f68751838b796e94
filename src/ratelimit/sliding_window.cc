#include "ratelimit/sliding_window.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace agentgate {

namespace {

// BucketIndex: the bucket holding `t`, as the caller's newest index or an
// older one; t < 0 is clamped to 0.
uint64_t BucketOf(const SlidingWindowGeometry& g, int64_t t) {
  return t <= 0 ? 0 : static_cast<uint64_t>(t / g.bucket_ns);
}

}  // namespace

void SlidingWindow::init(const SlidingWindowGeometry& g, int64_t t) {
  head = static_cast<uint32_t>(BucketOf(g, t));
  head_slot = 0;
  std::memset(last, 0, sizeof(last));
  std::memset(counts, 0, sizeof(counts));
}

void SlidingWindow::advance(const SlidingWindowGeometry& g, int64_t t) {
  uint32_t cur = static_cast<uint32_t>(BucketOf(g, t));
  uint32_t gap = cur - head;
  if (gap == 0 || gap > 0x80000000u) return;  // same bucket, or time went back
  if (gap >= static_cast<uint32_t>(kRateSlots)) {
    std::memset(last, 0, sizeof(last));
    std::memset(counts, 0, sizeof(counts));
    head_slot = static_cast<uint8_t>((head_slot + gap % kRateSlots) % kRateSlots);
  } else {
    for (uint32_t i = 0; i < gap; ++i) {
      head_slot = static_cast<uint8_t>(head_slot + 1 == kRateSlots ? 0 : head_slot + 1);
      counts[head_slot] = 0;
      last[head_slot] = 0;
    }
  }
  head = cur;
}

int64_t SlidingWindow::count(const SlidingWindowGeometry& g, int64_t t) const {
  int64_t sum = 0;
  int slot = head_slot;
  for (int i = 0; i < kRateBuckets; ++i) {
    sum += counts[slot];
    slot = slot == 0 ? kRateSlots - 1 : slot - 1;
  }
  // `slot` is now the oldest bucket (head - kRateBuckets), partly in the window.
  if (counts[slot] != 0) {
    int64_t oldest_start = (static_cast<int64_t>(BucketOf(g, t)) - kRateBuckets) * g.bucket_ns;
    int64_t last_upper = oldest_start + (static_cast<int64_t>(last[slot]) + 1) * g.bucket_ns / 256;
    if (last_upper > t - g.width_ns) sum += counts[slot];
  }
  return sum;
}

void SlidingWindow::record(const SlidingWindowGeometry& g, int64_t t, int64_t cost) {
  if (cost <= 0) return;
  uint64_t c = static_cast<uint64_t>(counts[head_slot]) + static_cast<uint64_t>(cost);
  counts[head_slot] = static_cast<uint32_t>(std::min<uint64_t>(c, std::numeric_limits<uint32_t>::max()));
  int64_t start = static_cast<int64_t>(BucketOf(g, t)) * g.bucket_ns;
  int64_t off = std::clamp<int64_t>((t - start) * 256 / g.bucket_ns, 0, 255);
  last[head_slot] = std::max<uint8_t>(last[head_slot], static_cast<uint8_t>(off));
}

int64_t SlidingWindow::time_to_free(const SlidingWindowGeometry& g, int64_t t, int64_t need) const {
  int64_t cur = static_cast<int64_t>(BucketOf(g, t));
  int64_t freed = 0;
  // From the oldest bucket (cur - kRateBuckets) to the newest.
  for (int age = kRateBuckets; age >= 0; --age) {
    int slot = (head_slot - age + kRateSlots * 2) % kRateSlots;
    if (counts[slot] == 0) continue;
    int64_t start = (cur - age) * g.bucket_ns;
    int64_t leaves = start + (static_cast<int64_t>(last[slot]) + 1) * g.bucket_ns / 256 + g.width_ns;
    if (age == kRateBuckets && leaves <= t) continue;  // already out of the count
    freed += counts[slot];
    if (freed >= need) return std::max<int64_t>(leaves - t, 0);
  }
  return -1;
}

}  // namespace agentgate
