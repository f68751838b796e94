#include "mock/mock_content.h"

#include <algorithm>
#include <iterator>
#include <cctype>
#include <cmath>
#include <cstring>

#include "agentgate/core/hash.h"

namespace agentgate {

namespace {

constexpr uint64_t kEmbeddingSeed = 0x6d6f636b656d6264ULL;  // "mockembd"
constexpr float kStopWordWeight = 0.25f;
constexpr float kBigramWeight = 0.5f;

// Function words, and what contractions leave behind ("what's" -> "what", "s").
constexpr std::string_view kStopWords[] = {
    "a",    "an",    "and",   "are",   "as",     "at",   "be",    "by",   "can",   "could",
    "d",    "do",    "does",  "for",   "from",   "how",  "i",     "in",   "is",    "it",
    "ll",   "m",     "me",    "my",    "of",     "on",   "or",    "please", "re",  "s",
    "should", "so",  "t",     "that",  "the",    "this", "to",    "ve",   "was",   "we",
    "what", "when",  "where", "which", "who",    "why",  "will",  "with", "would", "you",
    "your"};

bool IsStopWord(std::string_view w) {
  return std::find(std::begin(kStopWords), std::end(kStopWords), w) != std::end(kStopWords);
}

bool IsWordByte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

// Stem: drops a common English suffix from longer words.
std::string_view Stem(std::string_view w) {
  auto ends = [&](std::string_view s) {
    return w.size() > s.size() + 2 && w.substr(w.size() - s.size()) == s;
  };
  if (ends("ing")) return w.substr(0, w.size() - 3);
  if (ends("ed")) return w.substr(0, w.size() - 2);
  if (ends("es")) return w.substr(0, w.size() - 2);
  if (w.size() > 3 && w.back() == 's' && w[w.size() - 2] != 's') return w.substr(0, w.size() - 1);
  return w;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    words.emplace_back(IsStopWord(cur) ? std::string_view(cur) : Stem(cur));
    cur.clear();
  };
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (IsWordByte(c)) {
      cur += static_cast<char>(c < 0x80 ? std::tolower(c) : c);
    } else {
      flush();
    }
  }
  flush();
  return words;
}

void AddTerm(std::vector<float>& v, std::string_view term, float weight) {
  uint64_t h = Hash64(term, kEmbeddingSeed);
  size_t bucket = static_cast<size_t>(h % v.size());
  float sign = (h >> 63) ? -1.0f : 1.0f;
  v[bucket] += sign * weight;
}

size_t Utf8Floor(std::string_view text, size_t n) {
  if (n >= text.size()) return text.size();
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace

int64_t EstimateTokens(std::string_view text) {
  return static_cast<int64_t>((text.size() + 3) / 4);
}

std::string_view TruncateToTokens(std::string_view text, int64_t max_tokens) {
  if (max_tokens <= 0) return text.substr(0, 0);
  if (EstimateTokens(text) <= max_tokens) return text;
  return text.substr(0, Utf8Floor(text, static_cast<size_t>(max_tokens) * 4));
}

std::string EchoReply(std::string_view text, size_t max_chars) {
  std::string collapsed;
  collapsed.reserve(std::min(text.size(), max_chars));
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !collapsed.empty();
      continue;
    }
    if (space) collapsed += ' ';
    space = false;
    collapsed += c;
    if (collapsed.size() > max_chars + 4) break;  // enough to find a character boundary
  }
  collapsed.resize(Utf8Floor(collapsed, max_chars));
  return "Echo: " + collapsed;
}

std::vector<std::string_view> SplitStreamPieces(std::string_view text) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ' ') {
      pieces.push_back(text.substr(start, i + 1 - start));
      start = i + 1;
    }
  }
  if (start < text.size()) pieces.push_back(text.substr(start));
  return pieces;
}

std::vector<float> MockEmbedding(std::string_view text, int dims) {
  std::vector<float> v(static_cast<size_t>(dims > 0 ? dims : 1), 0.0f);
  std::vector<std::string> words = Words(text);
  for (size_t i = 0; i < words.size(); ++i) {
    AddTerm(v, words[i], IsStopWord(words[i]) ? kStopWordWeight : 1.0f);
    if (i + 1 < words.size()) {
      bool stop = IsStopWord(words[i]) || IsStopWord(words[i + 1]);
      std::string bigram = words[i] + ' ' + words[i + 1];
      AddTerm(v, bigram, stop ? kBigramWeight * kStopWordWeight : kBigramWeight);
    }
  }
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  if (norm == 0) {
    v[0] = 1.0f;
    return v;
  }
  auto inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : v) x *= inv;
  return v;
}

double CosineSimilarity(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return 0;
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  if (na == 0 || nb == 0) return 0;
  return dot / (std::sqrt(na) * std::sqrt(nb));
}

std::string EncodeFloatsBase64(const std::vector<float>& v) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(v.size() * 4, '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int k = 0; k < 4; ++k) bytes[i * 4 + k] = static_cast<char>((u >> (8 * k)) & 0xFF);
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                 static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace agentgate
