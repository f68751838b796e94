#include "ratelimit/redis_rate_limit_script.h"

namespace agentgate {

namespace {

static_assert(kRateWindowCount == 4 && kRunHeaderBytes == 8 && kRunBytes == 6 &&
                  kMaxRunsPerWindow == 250 && kRunTickModulus == 16777216 &&
                  kRunTickHalf == 8388608 && kMaxRunCount == 16777215 &&
                  kRunWindowTicks == 1000000 && kRunTimeClosureTicks == 62500,
              "the Lua script below hard-codes these constants of run_log.h");

// The script reads the log with Redis's `struct` library: v[2i + 1], v[2i + 2]
// are the tick and count of run i (day window first), keeps each window's
// runs from the first whose first admission is still in the window
// (RunLogView::expire), sums them, and, if every window admits, records as
// RunLogView::record does.
constexpr const char* kScript = R"lua(
local raw = redis.call('GET', KEYS[1])
local mode = ARGV[1]
local cost = tonumber(ARGV[2])
local now_s = tonumber(ARGV[4])
local last = now_s
local n = {0, 0, 0, 0}
local v
if raw then
  local ok = false
  if #raw >= 8 then
    local l, a, b, c, d = struct.unpack('<I4BBBB', raw)
    local total = a + b + c + d
    if a <= 250 and b <= 250 and c <= 250 and d <= 250 and #raw == 8 + 6 * total then
      ok = true
      last = l
      n = {a, b, c, d}
      if total > 0 then v = {struct.unpack('<' .. string.rep('I3', 2 * total), raw, 9)} end
    end
  end
  if not ok then raw = false end
end
local elapsed = (now_s - last) % 4294967296
local later = elapsed < 2147483648
local seconds = {1, 60, 3600, 86400}
local runs = {}
local allowed = 1
local pos = 0
for w = 4, 1, -1 do
  local cur = tonumber(ARGV[2 + 3 * w])
  local nw = n[w]
  local k = 0
  if later and elapsed > seconds[w] then
    k = nw
  else
    while k < nw do
      local age = (cur - v[2 * (pos + k) + 1]) % 16777216
      if age > 1000000 and age < 8388608 then k = k + 1 else break end
    end
  end
  local list = {}
  local sum = 0
  for j = pos + k, pos + nw - 1 do
    local cnt = v[2 * j + 2]
    list[#list + 1] = v[2 * j + 1]
    list[#list + 1] = cnt
    sum = sum + cnt
  end
  pos = pos + nw
  runs[w] = list
  if mode ~= 'r' then
    local limit = tonumber(ARGV[4 + 3 * w])
    if limit > 0 and sum + cost > limit then allowed = 0 end
  end
end
if mode == 'c' or allowed == 0 or cost <= 0 then
  return {allowed, raw or ''}
end
local MAXC = 16777215
local flat = {last, 0, 0, 0, 0}
if later then flat[1] = now_s end
local total = 0
for w = 1, 4 do
  local list = runs[w]
  local cur = tonumber(ARGV[2 + 3 * w])
  local cap = tonumber(ARGV[3 + 3 * w])
  local m = #list / 2
  local join = false
  local tick = cur
  if m > 0 then
    local lt, lc = list[2 * m - 1], list[2 * m]
    local age = (cur - lt) % 16777216
    local ahead = age >= 8388608
    if m >= 250 then
      join = true
    elseif cap > 0 then
      join = lc + cost <= cap
    else
      join = (ahead or age < 62500) and lc + cost <= MAXC
    end
    if join then
      list[2 * m] = math.min(lc + cost, MAXC)
    elseif ahead then
      tick = lt
    end
  end
  if not join then
    local rest = cost
    while rest > 0 and m < 250 do
      local piece = math.min(rest, MAXC)
      list[2 * m + 1] = tick
      list[2 * m + 2] = piece
      m = m + 1
      rest = rest - piece
    end
    if rest > 0 then list[2 * m] = math.min(list[2 * m] + rest, MAXC) end
  end
  flat[1 + w] = m
  total = total + m
end
for w = 4, 1, -1 do
  local list = runs[w]
  for j = 1, #list do flat[#flat + 1] = list[j] end
end
redis.call('SET', KEYS[1], struct.pack('<I4BBBB' .. string.rep('I3', 2 * total), unpack(flat)),
           'PX', ARGV[3])
if mode == 'r' then return 1 end
return {allowed, raw or ''}
)lua";

}  // namespace

const std::string& RedisRateLimitScript() {
  static const std::string source(kScript);
  return source;
}

std::vector<std::string> RateScriptArgs(char mode, int64_t cost, int64_t ttl_ms, const RunClock& c,
                                        const std::array<int64_t, kRateWindowCount>& limits) {
  std::vector<std::string> args;
  args.reserve(4 + 3 * kRateWindowCount);
  args.emplace_back(1, mode);
  args.push_back(std::to_string(cost));
  args.push_back(std::to_string(ttl_ms));
  args.push_back(std::to_string(c.now_s));
  for (int w = 0; w < kRateWindowCount; ++w) {
    args.push_back(std::to_string(c.cur[w]));
    args.push_back(std::to_string(RunCap(limits[w])));
    args.push_back(std::to_string(limits[w]));
  }
  return args;
}

}  // namespace agentgate
