#include "gateway/proxy_request.h"

#include <simdjson.h>

namespace agentgate {

namespace od = simdjson::ondemand;

std::string_view ProxyEndpointPath(ProxyEndpoint e) {
  switch (e) {
    case ProxyEndpoint::kChatCompletions: return "/v1/chat/completions";
    case ProxyEndpoint::kCompletions: return "/v1/completions";
    case ProxyEndpoint::kEmbeddings: return "/v1/embeddings";
  }
  return "";
}

namespace {

Status Bad(std::string message) { return InvalidArgument(std::move(message)); }

Status MalformedJson(simdjson::error_code e) {
  return Bad(std::string("request body is not valid JSON: ") + simdjson::error_message(e));
}

// RequiredInput: the field each endpoint cannot do without, besides `model`.
std::string_view RequiredInput(ProxyEndpoint e) {
  switch (e) {
    case ProxyEndpoint::kChatCompletions: return "messages";
    case ProxyEndpoint::kCompletions: return "prompt";
    case ProxyEndpoint::kEmbeddings: return "input";
  }
  return "";
}

}  // namespace

Result<ProxyRequestInfo> ParseProxyRequest(ProxyEndpoint endpoint, std::string& body) {
  thread_local od::parser parser;
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  simdjson::padded_string_view input(body.data(), body.size(), body.capacity());
  od::document doc;
  if (auto e = parser.iterate(input).get(doc); e) return MalformedJson(e);
  od::object obj;
  if (auto e = doc.get_object().get(obj); e) {
    if (e == simdjson::INCORRECT_TYPE) return Bad("request body must be a JSON object");
    return MalformedJson(e);
  }

  ProxyRequestInfo info;
  bool has_model = false;
  bool has_input = false;
  const std::string_view input_field = RequiredInput(endpoint);
  for (auto field : obj) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key); e) return MalformedJson(e);
    od::value v;
    if (auto e = field.value().get(v); e) return MalformedJson(e);
    if (key == "model") {
      std::string_view raw;
      raw = v.raw_json_token();
      std::string_view model;
      if (v.get_string().get(model) != simdjson::SUCCESS) {
        return Bad("field 'model' must be a string");
      }
      if (model.empty()) return Bad("field 'model' must not be empty");
      // raw_json_token may include trailing whitespace; keep the quoted token.
      size_t end = raw.rfind('"');
      info.model = std::string(model);
      info.model_offset = static_cast<size_t>(raw.data() - body.data());
      info.model_length = end + 1;
      has_model = true;
    } else if (key == input_field) {
      od::json_type t;
      if (auto e = v.type().get(t); e) return MalformedJson(e);
      if (endpoint == ProxyEndpoint::kChatCompletions) {
        od::array arr;
        if (t != od::json_type::array || v.get_array().get(arr) != simdjson::SUCCESS) {
          return Bad("field 'messages' must be an array");
        }
        size_t n = 0;
        for (auto m : arr) {
          od::json_type mt;
          if (auto e = m.type().get(mt); e) return MalformedJson(e);
          if (mt != od::json_type::object) return Bad("each entry of 'messages' must be an object");
          ++n;
        }
        if (n == 0) return Bad("field 'messages' must not be empty");
      } else if (t != od::json_type::string && t != od::json_type::array) {
        return Bad("field '" + std::string(input_field) + "' must be a string or an array");
      }
      has_input = true;
    } else if (key == "stream") {
      od::json_type t;
      if (auto e = v.type().get(t); e) return MalformedJson(e);
      if (t == od::json_type::null) continue;
      if (v.get_bool().get(info.stream) != simdjson::SUCCESS) {
        return Bad("field 'stream' must be a boolean");
      }
    } else if (key == "stream_options") {
      od::json_type t;
      if (auto e = v.type().get(t); e) return MalformedJson(e);
      if (t == od::json_type::null) continue;
      od::object so;
      if (v.get_object().get(so) != simdjson::SUCCESS) {
        return Bad("field 'stream_options' must be an object");
      }
      for (auto f : so) {
        std::string_view k;
        if (auto e = f.unescaped_key().get(k); e) return MalformedJson(e);
        if (k == "include_usage") {
          if (f.value().get_bool().get(info.include_usage) != simdjson::SUCCESS) {
            return Bad("field 'stream_options.include_usage' must be a boolean");
          }
        }
      }
    } else if (key == "user") {
      std::string_view user;
      if (v.get_string().get(user) != simdjson::SUCCESS) {
        return Bad("field 'user' must be a string");
      }
      info.user = std::string(user);
    }
  }
  if (const char* rest = nullptr; doc.current_location().get(rest) == simdjson::SUCCESS) {
    return Bad("request body is not valid JSON: trailing content");
  }
  if (!has_model) return Bad("missing required field 'model'");
  if (!has_input) return Bad("missing required field '" + std::string(input_field) + "'");
  if (info.stream && endpoint == ProxyEndpoint::kEmbeddings) {
    return Bad("field 'stream' is not supported for embeddings");
  }
  return info;
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

void RewriteModel(std::string& body, ProxyRequestInfo& info, std::string_view model) {
  std::string token = "\"" + JsonEscape(model) + "\"";
  body.replace(info.model_offset, info.model_length, token);
  info.model_length = token.size();
  info.model = std::string(model);
}

}  // namespace agentgate
