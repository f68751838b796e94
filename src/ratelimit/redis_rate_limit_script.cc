#include "ratelimit/redis_rate_limit_script.h"

#include <algorithm>

namespace agentgate {

namespace {

static_assert(kRateSlots == 9 && kRateBuckets == 8 && kRateWindowCount == 4,
              "the Lua script below hard-codes the ring and window sizes");
static_assert(kRedisRateStateBytes == 200);

// The script unpacks the whole state with Redis's `struct` library into
// s[1..80]: window w at b = 20 * w holds s[b + 1] head, s[b + 2] head_slot,
// s[b + 3 + i] last[i], s[b + 12 + i] counts[i]. (Measured per call in
// redis-server CPU, uniform users: GET 5 us, unpack 4, pack 3, SET 4; the
// logic is little. Reading only the fields needed with string.sub/byte and
// a stored total was no cheaper: Lua interns every string it makes.)
// "%F%" is replaced by the struct format of the state.
constexpr const char* kScript = R"lua(
local F = '%F%'
local raw = redis.call('GET', KEYS[1])
if raw and #raw ~= 200 then raw = false end
local mode = ARGV[1]
local cost = tonumber(ARGV[2])
local s
if raw then
  s = {struct.unpack(F, raw)}
else
  s = {}
  for w = 0, 3 do
    local b = w * 20
    s[b + 1] = tonumber(ARGV[4 + w * 4])
    for i = 2, 20 do s[b + i] = 0 end
  end
end
local allowed = 1
for w = 0, 3 do
  local b = w * 20
  local a = 4 + w * 4
  local cur = tonumber(ARGV[a])
  local gap = (cur - s[b + 1]) % 4294967296
  if gap ~= 0 and gap <= 2147483648 then
    local hs = s[b + 2]
    if gap >= 9 then
      for i = 3, 20 do s[b + i] = 0 end
      hs = (hs + gap % 9) % 9
    else
      for i = 1, gap do
        hs = (hs + 1) % 9
        s[b + 3 + hs] = 0
        s[b + 12 + hs] = 0
      end
    end
    s[b + 1] = cur
    s[b + 2] = hs
  end
  if mode ~= 'r' then
    local limit = tonumber(ARGV[a + 3])
    if limit > 0 then
      -- the 8 newest buckets, plus the oldest while its last admission is in
      local old = (s[b + 2] + 1) % 9
      local co = s[b + 12 + old]
      local n = s[b + 12] + s[b + 13] + s[b + 14] + s[b + 15] + s[b + 16] + s[b + 17] +
                s[b + 18] + s[b + 19] + s[b + 20] - co
      if co ~= 0 and s[b + 3 + old] >= tonumber(ARGV[a + 2]) then n = n + co end
      if n + cost > limit then allowed = 0 end
    end
  end
end
if mode == 'c' or allowed == 0 or cost <= 0 then
  return {allowed, raw or ''}
end
for w = 0, 3 do
  local b = w * 20
  local hs = s[b + 2]
  local c = s[b + 12 + hs] + cost
  if c > 4294967295 then c = 4294967295 end
  s[b + 12 + hs] = c
  local rec = tonumber(ARGV[5 + w * 4])
  if rec > s[b + 3 + hs] then s[b + 3 + hs] = rec end
end
redis.call('SET', KEYS[1], struct.pack(F, unpack(s, 1, 80)), 'PX', ARGV[3])
if mode == 'r' then return 1 end
return {allowed, raw or ''}
)lua";

uint32_t LoadU32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

const std::string& RedisRateLimitScript() {
  static const std::string source = [] {
    std::string window = "I4B";  // head, head_slot
    for (int i = 0; i < kRateSlots; ++i) window += "B";   // last
    for (int i = 0; i < kRateSlots; ++i) window += "I4";  // counts
    std::string format = "<";
    for (int w = 0; w < kRateWindowCount; ++w) format += window;
    std::string src(kScript);
    src.replace(src.find("%F%"), 3, format);
    return src;
  }();
  return source;
}

std::vector<std::string> RateScriptArgs(char mode, int64_t cost, int64_t ttl_ms, int64_t t,
                                        const SlidingWindowGeometry (&geometry)[kRateWindowCount],
                                        const std::array<int64_t, kRateWindowCount>& limits) {
  std::vector<std::string> args;
  args.reserve(3 + 4 * kRateWindowCount);
  args.emplace_back(1, mode);
  args.push_back(std::to_string(cost));
  args.push_back(std::to_string(ttl_ms));
  t = std::max<int64_t>(t, 0);
  for (int w = 0; w < kRateWindowCount; ++w) {
    const int64_t b = geometry[w].bucket_ns;
    const int64_t cur = t / b;
    const int64_t off = t - cur * b;  // [0, b)
    // rec: as SlidingWindow::record keeps it.
    const int64_t rec = std::clamp<int64_t>(off * 256 / b, 0, 255);
    // SlidingWindow::count counts the oldest bucket (cur - kRateBuckets) iff
    //   (cur - 8) * b + (last + 1) * b / 256 > t - W,  W = 8 * b
    //   <=> (last + 1) * b / 256 >= off + 1   (integer division)
    //   <=> last + 1 >= ceil(256 * (off + 1) / b).
    const int64_t thr = (256 * (off + 1) + b - 1) / b - 1;
    args.push_back(std::to_string(static_cast<uint32_t>(cur)));
    args.push_back(std::to_string(rec));
    args.push_back(std::to_string(thr));
    args.push_back(std::to_string(limits[w]));
  }
  return args;
}

bool ParseRateState(std::string_view state, SlidingWindow (&windows)[kRateWindowCount]) {
  if (state.size() != kRedisRateStateBytes) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(state.data());
  for (SlidingWindow& w : windows) {
    w.head = LoadU32(p);
    w.head_slot = p[4];
    p += 5;
    for (int i = 0; i < kRateSlots; ++i) w.last[i] = *p++;
    for (int i = 0; i < kRateSlots; ++i, p += 4) w.counts[i] = LoadU32(p);
    if (w.head_slot >= kRateSlots) return false;
  }
  return true;
}

}  // namespace agentgate
