// SemanticGuard: rejects a semantic-cache hit whose query differs from the
// stored one in a way an embedding cannot be trusted to see: its numbers
// ("2+2" vs "2+3", "five" vs "six") or its negation ("is" vs "isn't",
// "with" vs "without").
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace agentgate {

// QueryFacts: what must match between two queries for one's answer to serve
// the other.
struct QueryFacts {
  std::vector<std::string> numbers;    // sorted: digit runs (with decimals) and number words
  std::vector<std::string> negations;  // sorted: not, no, never, n't, without, ...
  friend bool operator==(const QueryFacts&, const QueryFacts&) = default;
};

QueryFacts ExtractQueryFacts(std::string_view query);

// SemanticGuardAccepts: the two queries have the same numbers and negations.
bool SemanticGuardAccepts(std::string_view a, std::string_view b);

}  // namespace agentgate
