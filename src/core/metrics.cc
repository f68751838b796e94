#include "agentgate/core/metrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace agentgate {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) {
    throw std::logic_error("histogram bounds must be sorted");
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.upper_bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  s.count = running;
  return s;
}

std::vector<double> Histogram::LatencySeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,    5,    10, 30, 60};
}

namespace {

bool ValidName(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string LabelKey(const Labels& labels) {
  std::string key;
  for (const auto& [k, v] : labels) {
    key += k;
    key += '\x1f';
    key += v;
    key += '\x1e';
  }
  return key;
}

std::string FormatLabels(const Labels& labels, std::string_view extra_key = {},
                         std::string_view extra_value = {}) {
  if (labels.empty() && extra_key.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += EscapeLabelValue(v);
    out += '"';
  }
  if (!extra_key.empty()) {
    if (!first) out += ',';
    out += extra_key;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

std::string EscapeHelp(std::string_view h) {
  std::string out;
  for (char c : h) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  MetricType type;
  struct Child {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  std::map<std::string, Child> children;  // by LabelKey
  std::map<uint64_t, Collector> collectors;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::family(std::string_view name, std::string_view help,
                                                 MetricType type) {
  auto it = families_.find(name);
  if (it != families_.end()) {
    if (it->second->type != type) {
      throw std::logic_error(fmt::format("metric {} registered with two types", name));
    }
    return *it->second;
  }
  if (!ValidName(name)) throw std::logic_error(fmt::format("bad metric name '{}'", name));
  auto f = std::make_unique<Family>();
  f->name = std::string(name);
  f->help = std::string(help);
  f->type = type;
  auto& ref = *f;
  families_.emplace(std::string(name), std::move(f));
  return ref;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help,
                                  const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& child = family(name, help, MetricType::kCounter).children[LabelKey(labels)];
  if (!child.counter) {
    child.labels = labels;
    child.counter = std::make_unique<Counter>();
  }
  return *child.counter;
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& child = family(name, help, MetricType::kGauge).children[LabelKey(labels)];
  if (!child.gauge) {
    child.labels = labels;
    child.gauge = std::make_unique<Gauge>();
  }
  return *child.gauge;
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                      const std::vector<double>& upper_bounds,
                                      const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& child = family(name, help, MetricType::kHistogram).children[LabelKey(labels)];
  if (!child.histogram) {
    child.labels = labels;
    child.histogram = std::make_unique<Histogram>(upper_bounds);
  }
  return *child.histogram;
}

uint64_t MetricsRegistry::add_collector(std::string_view name, std::string_view help,
                                        MetricType type, Collector collect) {
  std::lock_guard lock(mu_);
  uint64_t id = next_collector_id_++;
  family(name, help, type).collectors.emplace(id, std::move(collect));
  return id;
}

void MetricsRegistry::remove_collector(uint64_t id) {
  std::lock_guard lock(mu_);
  for (auto& [_, f] : families_) {
    if (f->collectors.erase(id) > 0) return;
  }
}

std::string MetricsRegistry::render_prometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(16384);
  for (const auto& [name, f] : families_) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += EscapeHelp(f->help);
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += TypeName(f->type);
    out += '\n';
    for (const auto& [_, child] : f->children) {
      if (child.counter) {
        out += fmt::format("{}{} {}\n", name, FormatLabels(child.labels), child.counter->value());
      } else if (child.gauge) {
        out += fmt::format("{}{} {}\n", name, FormatLabels(child.labels),
                           FormatValue(child.gauge->value()));
      } else if (child.histogram) {
        auto s = child.histogram->snapshot();
        for (size_t i = 0; i <= s.upper_bounds.size(); ++i) {
          std::string le = i < s.upper_bounds.size() ? FormatValue(s.upper_bounds[i]) : "+Inf";
          out += fmt::format("{}_bucket{} {}\n", name, FormatLabels(child.labels, "le", le),
                             s.cumulative[i]);
        }
        out += fmt::format("{}_sum{} {}\n", name, FormatLabels(child.labels), FormatValue(s.sum));
        out += fmt::format("{}_count{} {}\n", name, FormatLabels(child.labels), s.count);
      }
    }
    for (const auto& [_, collect] : f->collectors) {
      for (const auto& sample : collect()) {
        out += fmt::format("{}{} {}\n", name, FormatLabels(sample.labels),
                           FormatValue(sample.value));
      }
    }
  }
  return out;
}

double MetricsRegistry::value(std::string_view name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto c = it->second->children.find(LabelKey(labels));
  if (c != it->second->children.end()) {
    if (c->second.counter) return static_cast<double>(c->second.counter->value());
    if (c->second.gauge) return c->second.gauge->value();
    if (c->second.histogram) return static_cast<double>(c->second.histogram->snapshot().count);
  }
  for (const auto& [_, collect] : it->second->collectors) {
    for (const auto& sample : collect()) {
      if (sample.labels == labels) return sample.value;
    }
  }
  return 0;
}

}  // namespace agentgate
