#include "agentgate/cache/semantic_guard.h"

#include <algorithm>
#include <cctype>
#include <span>

#include "agentgate/cache/local_embedder.h"

namespace agentgate {

namespace {

constexpr std::string_view kNumberWords[] = {
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    "hundred", "thousand", "million", "billion", "trillion", "first", "second", "third",
    "half", "twice", "double", "triple", "dozen"};

constexpr std::string_view kNegations[] = {"not", "no", "never", "none", "nobody", "nothing",
                                           "neither", "nor", "without", "cannot", "nowhere"};

bool IsOneOf(std::string_view w, std::span<const std::string_view> set) {
  return std::find(set.begin(), set.end(), w) != set.end();
}

}  // namespace

QueryFacts ExtractQueryFacts(std::string_view query) {
  QueryFacts f;
  // Numbers written with digits, from the raw text (keeps "2.5" and "-3" whole).
  for (size_t i = 0; i < query.size();) {
    if (std::isdigit(static_cast<unsigned char>(query[i])) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < query.size() && (std::isdigit(static_cast<unsigned char>(query[j])) != 0 ||
                                ((query[j] == '.' || query[j] == ',') && j + 1 < query.size() &&
                                 std::isdigit(static_cast<unsigned char>(query[j + 1])) != 0))) {
      ++j;
    }
    std::string n(query.substr(i, j - i));
    std::erase(n, ',');
    if (i > 0 && query[i - 1] == '-') n = "-" + n;
    f.numbers.push_back(std::move(n));
    i = j;
  }
  for (const std::string& w : EmbedderWords(query)) {
    if (IsOneOf(w, kNumberWords)) f.numbers.push_back(w);
    if (IsOneOf(w, kNegations) || (w.size() > 3 && w.ends_with("n't"))) {
      // "isn't", "is not" and "cannot" are the same negation.
      f.negations.push_back(w.ends_with("n't") || w == "cannot" ? "not" : w);
    }
  }
  std::sort(f.numbers.begin(), f.numbers.end());
  std::sort(f.negations.begin(), f.negations.end());
  return f;
}

bool SemanticGuardAccepts(std::string_view a, std::string_view b) {
  return ExtractQueryFacts(a) == ExtractQueryFacts(b);
}

}  // namespace agentgate
