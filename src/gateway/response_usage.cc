#include "gateway/response_usage.h"

#include <simdjson.h>

namespace agentgate {

namespace {

void ReadUsageObject(simdjson::dom::element root, Usage* usage) {
  simdjson::dom::object u;
  if (root["usage"].get(u) != simdjson::SUCCESS) return;
  int64_t v = 0;
  if (u["prompt_tokens"].get(v) == simdjson::SUCCESS) usage->prompt_tokens = v;
  if (u["completion_tokens"].get(v) == simdjson::SUCCESS) usage->completion_tokens = v;
  if (u["total_tokens"].get(v) == simdjson::SUCCESS) {
    usage->total_tokens = v;
  } else {
    usage->total_tokens = usage->prompt_tokens + usage->completion_tokens;
  }
  usage->known = true;
}

simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

}  // namespace

bool ValidateAndReadUsage(std::string& body, Usage* usage) {
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  simdjson::dom::element root;
  if (Parser().parse(body.data(), body.size(), false).get(root) != simdjson::SUCCESS) return false;
  ReadUsageObject(root, usage);
  return true;
}

void ReadChunkUsage(std::string_view data, Usage* usage) {
  // Searched from its 'u' (find stops at every first character of the
  // needle, and a chunk has far fewer 'u's than '"'s).
  size_t at = 0;
  for (size_t from = 1;; from = at + 1) {
    at = data.find("usage\"", from);
    if (at == std::string_view::npos) return;
    if (data[at - 1] == '"') break;
  }
  at -= 1;  // at the opening quote
  // Most chunks say "usage":null; skip them without parsing.
  size_t colon = data.find(':', at + 7);
  if (colon == std::string_view::npos) return;
  size_t value = data.find_first_not_of(" \t\r\n", colon + 1);
  if (value == std::string_view::npos || data[value] != '{') return;
  simdjson::dom::element root;
  if (Parser().parse(data.data(), data.size(), true).get(root) != simdjson::SUCCESS) return;
  ReadUsageObject(root, usage);
}

bool IsOpenAiError(std::string& body) {
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  simdjson::dom::element root;
  if (Parser().parse(body.data(), body.size(), false).get(root) != simdjson::SUCCESS) return false;
  simdjson::dom::object err;
  return root["error"].get(err) == simdjson::SUCCESS;
}

}  // namespace agentgate
