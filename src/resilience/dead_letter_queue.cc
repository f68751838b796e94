#include "resilience/dead_letter_queue.h"

#include <algorithm>
#include <cctype>

#include "agentgate/core/json.h"

namespace agentgate {

namespace {

bool SecretKey(std::string key) {
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view k : {"authorization", "api_key", "apikey", "api-key", "password", "secret",
                             "token", "access_token", "refresh_token", "client_secret"}) {
    if (key == k) return true;
  }
  return false;
}

void Scrub(Json& j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (SecretKey(it.key())) {
        *it = "[REDACTED]";
      } else {
        Scrub(*it);
      }
    }
  } else if (j.is_array()) {
    for (Json& e : j) Scrub(e);
  }
}

}  // namespace

std::string ScrubSecrets(const std::string& body) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded()) return body;
  Scrub(j);
  return DumpJson(j);
}

DlqMetrics::DlqMetrics(MetricsRegistry* metrics) {
  if (metrics == nullptr) return;
  added = &metrics->counter("agentgate_dlq_added_total", "Requests stored in the dead-letter queue");
  dropped = &metrics->counter("agentgate_dlq_dropped_total",
                              "Dead letters dropped, oldest first, because the queue was full");
}

void DlqMetrics::count(int64_t n) const {
  if (added != nullptr) added->inc();
  if (dropped != nullptr && n > 0) dropped->inc(static_cast<uint64_t>(n));
}

}  // namespace agentgate
