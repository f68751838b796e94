// The deterministic content of the mock upstream: token estimates, echoed
// replies, stream pieces and hashed bag-of-words embeddings.
//
// Embeddings: lower-cased words (ASCII letters and digits; bytes >= 0x80 count
// as letters), crudely stemmed ("jumps", "jumped", "jumping" -> "jump"),
// hashed as unigrams (weight 1, stop words 0.25) and bigrams (weight 0.5)
// into `dims` signed buckets, then L2-normalised. Near-duplicate sentences
// get a cosine similarity well above 0.8; unrelated ones stay near 0. The
// semantic-cache tests rely on this.
//
//   std::vector<float> a = MockEmbedding("What is the capital of France?", 256);
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace agentgate {

// EstimateTokens: ceil(bytes / 4), the mock's tokenizer; 0 for "".
int64_t EstimateTokens(std::string_view text);

// TruncateToTokens: the longest prefix of `text` whose estimate is at most
// `max_tokens`, cut on a UTF-8 character boundary.
std::string_view TruncateToTokens(std::string_view text, int64_t max_tokens);

// EchoReply: "Echo: " followed by `text` with whitespace runs collapsed to
// one space, cut at `max_chars` bytes of `text` (on a UTF-8 boundary).
std::string EchoReply(std::string_view text, size_t max_chars);

// SplitStreamPieces: `text` cut after each space, so that the pieces
// concatenate back to `text`: "a b c" -> {"a ", "b ", "c"}.
std::vector<std::string_view> SplitStreamPieces(std::string_view text);

// MockEmbedding: the L2-normalised embedding of `text` in `dims` dimensions
// (REQUIRES dims > 0). Text without words maps to a fixed unit vector.
std::vector<float> MockEmbedding(std::string_view text, int dims);

// CosineSimilarity: a.b / (|a| |b|); 0 if either is zero or sizes differ.
double CosineSimilarity(const std::vector<float>& a, const std::vector<float>& b);

// EncodeFloatsBase64: the little-endian float32 bytes of `v`, base64-encoded
// (OpenAI's `encoding_format: "base64"`).
std::string EncodeFloatsBase64(const std::vector<float>& v);

}  // namespace agentgate
