#include "agentgate/cache/local_embedder.h"

#include <cmath>

#include "agentgate/core/hash.h"

namespace agentgate {

namespace {

constexpr float kUnigram = 1.0f;
constexpr float kBigram = 0.7f;
constexpr float kTrigram = 0.35f;

void Add(std::vector<float>& v, std::string_view feature, uint64_t seed, float weight) {
  const uint64_t h = Hash64(feature, seed);
  const size_t bucket = static_cast<size_t>(h % v.size());
  v[bucket] += (h >> 63) != 0 ? weight : -weight;
}

}  // namespace

std::vector<std::string> EmbedderWords(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '\'' || c >= 0x80) {
      cur.push_back(static_cast<char>(c < 0x80 ? std::tolower(c) : c));
    } else if (!cur.empty()) {
      words.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

std::vector<float> LocalEmbedder::embed(std::string_view text) const {
  std::vector<float> v(dim_, 0.0f);
  const std::vector<std::string> words = EmbedderWords(text);
  for (size_t i = 0; i < words.size(); ++i) {
    Add(v, words[i], 1, kUnigram);
    if (i + 1 < words.size()) Add(v, words[i] + ' ' + words[i + 1], 2, kBigram);
    const std::string marked = "<" + words[i] + ">";
    for (size_t j = 0; j + 3 <= marked.size(); ++j) Add(v, std::string_view(marked).substr(j, 3), 3, kTrigram);
  }
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  if (norm > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& x : v) x *= inv;
  }
  return v;
}

}  // namespace agentgate
