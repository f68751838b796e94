#include "cache/cache_codec.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace agentgate {

namespace {

constexpr std::string_view kResponseMagic = "AGR1";
constexpr std::string_view kSemanticMagic = "AGS1";
constexpr uint8_t kStreamed = 1;
constexpr uint8_t kComplete = 2;

static_assert(std::endian::native == std::endian::little, "cache encodings are little-endian");

void PutU32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

void PutString(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// Reader: bounds-checked reads from a byte string.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  bool u32(uint32_t* v) {
    if (rest_.size() < 4) return false;
    std::memcpy(v, rest_.data(), 4);
    rest_.remove_prefix(4);
    return true;
  }
  bool u8(uint8_t* v) {
    if (rest_.empty()) return false;
    *v = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return true;
  }
  bool string(std::string* s) {
    uint32_t n = 0;
    if (!u32(&n) || rest_.size() < n) return false;
    s->assign(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return true;
  }
  bool empty() const { return rest_.empty(); }
  size_t size() const { return rest_.size(); }

 private:
  std::string_view rest_;
};

}  // namespace

std::string EncodeCachedResponse(const CachedResponse& r) {
  std::string out(kResponseMagic);
  size_t size = 32 + r.content_type.size() + r.body.size();
  for (const std::string& e : r.events) size += 4 + e.size();
  out.reserve(size);
  PutU32(out, static_cast<uint32_t>(r.status));
  out.push_back(static_cast<char>((r.streamed ? kStreamed : 0) | (r.complete ? kComplete : 0)));
  PutString(out, r.content_type);
  PutString(out, r.body);
  PutU32(out, static_cast<uint32_t>(r.events.size()));
  for (const std::string& e : r.events) PutString(out, e);
  return out;
}

std::optional<CachedResponse> DecodeCachedResponse(std::string_view bytes) {
  if (!bytes.starts_with(kResponseMagic)) return std::nullopt;
  Reader in(bytes.substr(kResponseMagic.size()));
  CachedResponse r;
  uint32_t status = 0, events = 0;
  uint8_t flags = 0;
  if (!in.u32(&status) || !in.u8(&flags) || !in.string(&r.content_type) || !in.string(&r.body) ||
      !in.u32(&events) || events > in.size() / 4) {
    return std::nullopt;
  }
  if (status < 100 || status > 599) return std::nullopt;
  r.status = static_cast<int>(status);
  r.streamed = (flags & kStreamed) != 0;
  r.complete = (flags & kComplete) != 0;
  r.events.resize(events);
  for (std::string& e : r.events) {
    if (!in.string(&e)) return std::nullopt;
  }
  if (!in.empty()) return std::nullopt;
  return r;
}

std::string EncodeSemanticEntry(const SemanticEntry& e, int64_t expires_at_ms) {
  std::string out(kSemanticMagic);
  out.append(reinterpret_cast<const char*>(&expires_at_ms), 8);
  for (std::string_view s : {std::string_view(e.query), std::string_view(e.ns.tenant),
                             std::string_view(e.ns.agent_type), std::string_view(e.ns.model),
                             std::string_view(e.ns.params), std::string_view(e.response)}) {
    PutString(out, s);
  }
  PutU32(out, static_cast<uint32_t>(e.embedding.size()));
  out.append(reinterpret_cast<const char*>(e.embedding.data()), e.embedding.size() * 4);
  return out;
}

std::optional<SemanticEntry> DecodeSemanticEntry(std::string_view bytes, int64_t* expires_at_ms) {
  if (!bytes.starts_with(kSemanticMagic) || bytes.size() < kSemanticMagic.size() + 8) {
    return std::nullopt;
  }
  std::memcpy(expires_at_ms, bytes.data() + kSemanticMagic.size(), 8);
  Reader in(bytes.substr(kSemanticMagic.size() + 8));
  SemanticEntry e;
  uint32_t dims = 0;
  if (!in.string(&e.query) || !in.string(&e.ns.tenant) || !in.string(&e.ns.agent_type) ||
      !in.string(&e.ns.model) || !in.string(&e.ns.params) || !in.string(&e.response) ||
      !in.u32(&dims) || in.size() != static_cast<size_t>(dims) * 4) {
    return std::nullopt;
  }
  e.embedding.resize(dims);
  if (dims > 0) {
    std::string_view rest = bytes.substr(bytes.size() - static_cast<size_t>(dims) * 4);
    std::memcpy(e.embedding.data(), rest.data(), rest.size());
  }
  return e;
}

std::string EncodeEmbedding(const Json& value) {
  bool numbers = value.is_array();
  bool fits_float = true;
  if (numbers) {
    for (const Json& x : value) {
      if (!x.is_number()) {
        numbers = false;
        break;
      }
      const double d = x.get<double>();
      if (static_cast<double>(static_cast<float>(d)) != d) fits_float = false;
    }
  }
  if (!numbers) return "j" + DumpJson(value);
  std::string out(1, fits_float ? 'f' : 'd');
  out.reserve(1 + value.size() * (fits_float ? 4 : 8));
  for (const Json& x : value) {
    const double d = x.get<double>();
    if (fits_float) {
      const float f = static_cast<float>(d);
      out.append(reinterpret_cast<const char*>(&f), 4);
    } else {
      out.append(reinterpret_cast<const char*>(&d), 8);
    }
  }
  return out;
}

std::optional<Json> DecodeEmbedding(std::string_view bytes) {
  if (bytes.empty()) return std::nullopt;
  const char tag = bytes[0];
  bytes.remove_prefix(1);
  if (tag == 'j') {
    Json j = Json::parse(bytes, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return std::nullopt;
    return j;
  }
  const size_t width = tag == 'f' ? 4 : tag == 'd' ? 8 : 0;
  if (width == 0 || bytes.size() % width != 0) return std::nullopt;
  Json out = Json::array();
  for (size_t i = 0; i < bytes.size(); i += width) {
    if (width == 4) {
      float f = 0;
      std::memcpy(&f, bytes.data() + i, 4);
      out.push_back(static_cast<double>(f));
    } else {
      double d = 0;
      std::memcpy(&d, bytes.data() + i, 8);
      out.push_back(d);
    }
  }
  return out;
}

}  // namespace agentgate
