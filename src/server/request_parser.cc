#include "server/request_parser.h"

#include <simdjson.h>

namespace agentgate {

namespace http = boost::beast::http;

RequestParser::RequestParser(RequestStorage& storage, std::string& body)
    : storage_(storage), body_(body) {}

std::string_view RequestParser::field(std::string_view name) const {
  for (const auto& f : storage_.fields) {
    if (EqualsIgnoreCase(View(f.name_at, f.name_size), name)) return View(f.value_at, f.value_size);
  }
  return {};
}

void RequestParser::headers(HeaderList& out) const {
  out.clear();
  for (const auto& f : storage_.fields) {
    out.emplace_back(View(f.name_at, f.name_size), View(f.value_at, f.value_size));
  }
}

void RequestParser::on_request_impl(http::verb method, BeastView method_str, BeastView target,
                                    int version, ErrorCode&) {
  storage_.head.clear();
  storage_.fields.clear();
  body_.clear();
  method_ = method;
  version_ = version;
  storage_.head.append(method_str.data(), method_str.size());
  storage_.head.append(target.data(), target.size());
  method_size_ = method_str.size();
  target_size_ = target.size();
}

void RequestParser::on_response_impl(int, BeastView, int, ErrorCode& ec) {
  ec = http::error::bad_version;  // never called for requests
}

void RequestParser::on_field_impl(http::field, BeastView name, BeastView value, ErrorCode&) {
  // The header limit (well under 4 GiB) bounds the offsets.
  RequestStorage::Field f;
  f.name_at = static_cast<uint32_t>(storage_.head.size());
  f.name_size = static_cast<uint32_t>(name.size());
  storage_.head.append(name.data(), name.size());
  f.value_at = static_cast<uint32_t>(storage_.head.size());
  f.value_size = static_cast<uint32_t>(value.size());
  storage_.head.append(value.data(), value.size());
  storage_.fields.push_back(f);
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& length, ErrorCode&) {
  // The body limit was checked against the length before this call.
  if (length) body_.reserve(static_cast<size_t>(*length) + simdjson::SIMDJSON_PADDING);
}

size_t RequestParser::on_body_impl(BeastView body, ErrorCode&) {
  body_.append(body.data(), body.size());
  return body.size();
}

size_t RequestParser::on_chunk_body_impl(std::uint64_t, BeastView body, ErrorCode&) {
  body_.append(body.data(), body.size());
  return body.size();
}

}  // namespace agentgate
