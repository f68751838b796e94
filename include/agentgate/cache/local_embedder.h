// LocalEmbedder: a built-in text embedder that needs no model download:
// hashed word unigrams, word bigrams and character trigrams (with word
// boundary marks) folded into `dim` signed buckets, L2-normalized. Texts
// that differ in case, punctuation or spacing embed identically; small
// rewordings stay close; unrelated texts are near orthogonal.
//
//   LocalEmbedder e(384);
//   std::vector<float> v = e.embed("What is the capital of France?");
//
// Thread-safety: immutable; embed() may be called concurrently.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace agentgate {

class LocalEmbedder {
 public:
  explicit LocalEmbedder(size_t dim = 384) : dim_(dim == 0 ? 1 : dim) {}

  // embed: a unit vector of dim() floats (all zero for a text without words).
  std::vector<float> embed(std::string_view text) const;
  size_t dim() const { return dim_; }

 private:
  size_t dim_;
};

// EmbedderWords: lowercase runs of letters, digits and apostrophes in `text`
// (the tokens LocalEmbedder and the semantic guard see).
std::vector<std::string> EmbedderWords(std::string_view text);

}  // namespace agentgate
