#include "upstream/sse_parser.h"

#include <fmt/format.h>

#include <cstring>

namespace agentgate {

namespace {

// LineEnd: the offset of the first '\n' or '\r' in `bytes`, or npos. Two
// memchr scans, not find_first_of, which tests every byte against the set
// with its own memchr (most of a stream's parsing cost).
size_t LineEnd(std::string_view bytes) {
  const char* begin = bytes.data();
  const void* lf = std::memchr(begin, '\n', bytes.size());
  const size_t limit = lf ? static_cast<size_t>(static_cast<const char*>(lf) - begin) : bytes.size();
  const void* cr = std::memchr(begin, '\r', limit);
  if (cr) return static_cast<size_t>(static_cast<const char*>(cr) - begin);
  return lf ? limit : std::string_view::npos;
}

}  // namespace

void SseParser::fail() {
  error_ = BadGateway(fmt::format("server-sent event larger than {} bytes", max_event_bytes_));
  partial_.clear();
  data_.clear();
}

bool SseParser::next_line(std::string_view& bytes, std::string_view* line) {
  if (!started_) {
    // Skip a UTF-8 BOM, which may itself be split across chunks.
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    while (!bytes.empty() && bom_matched_ < kBom.size() && bytes.front() == kBom[bom_matched_]) {
      ++bom_matched_;
      bytes.remove_prefix(1);
    }
    if (bom_matched_ == kBom.size()) {
      started_ = true;
    } else if (bytes.empty()) {
      return false;
    } else {
      started_ = true;  // not a BOM: the bytes matched so far are content
      partial_.assign(kBom.substr(0, bom_matched_));
    }
  }
  if (skip_lf_ && !bytes.empty()) {
    skip_lf_ = false;
    if (bytes.front() == '\n') bytes.remove_prefix(1);
  }
  const size_t end = LineEnd(bytes);
  if (end == std::string_view::npos) {
    if (partial_.size() + bytes.size() + data_.size() > max_event_bytes_) {
      fail();
      bytes = {};
      return false;
    }
    partial_.append(bytes);
    bytes = {};
    return false;
  }
  char terminator = bytes[end];
  if (partial_.empty()) {
    *line = bytes.substr(0, end);
  } else {
    if (partial_.size() + end + data_.size() > max_event_bytes_) {
      fail();
      bytes = {};
      return false;
    }
    partial_.append(bytes.substr(0, end));
    line_.swap(partial_);
    partial_.clear();
    *line = line_;
  }
  bytes.remove_prefix(end + 1);
  if (terminator == '\r') {
    if (bytes.empty()) {
      skip_lf_ = true;
    } else if (bytes.front() == '\n') {
      bytes.remove_prefix(1);
    }
  }
  return true;
}

bool SseParser::process_line(std::string_view line) {
  if (line.empty()) {
    if (data_.empty()) {
      type_.clear();
      return false;
    }
    data_.pop_back();  // the trailing '\n'
    return true;
  }
  if (line.front() == ':') return false;  // comment
  std::string_view field = line;
  std::string_view value;
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (data_.size() + value.size() + 1 > max_event_bytes_) {
      fail();
      return false;
    }
    data_.append(value);
    data_ += '\n';
  } else if (field == "event") {
    type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  } else if (field == "retry") {
    bool digits = !value.empty() && value.size() < 18;
    for (char c : value) digits = digits && c >= '0' && c <= '9';
    if (digits) retry_ms_ = std::stoll(std::string(value));
  }
  return false;
}

}  // namespace agentgate
