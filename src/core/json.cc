#include "agentgate/core/json.h"

namespace agentgate {

Result<Json> ParseJsonObject(std::string_view body) {
  Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("request body is not valid JSON");
  if (!j.is_object()) return InvalidArgument("request body must be a JSON object");
  return j;
}

namespace {
template <typename T, typename Check>
Result<T> Get(const Json& j, std::string_view key, bool required, T fallback, Check check,
              const char* type_name) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return InvalidArgument("missing required field '" + std::string(key) + "'");
    return fallback;
  }
  if (!check(*it)) {
    return InvalidArgument("field '" + std::string(key) + "' must be " + type_name);
  }
  return it->template get<T>();
}
}  // namespace

Result<std::string> GetString(const Json& j, std::string_view key, bool required,
                              std::string fallback) {
  return Get<std::string>(j, key, required, std::move(fallback),
                          [](const Json& v) { return v.is_string(); }, "a string");
}

Result<int64_t> GetInt(const Json& j, std::string_view key, bool required, int64_t fallback) {
  return Get<int64_t>(j, key, required, fallback,
                      [](const Json& v) { return v.is_number_integer(); }, "an integer");
}

Result<double> GetDouble(const Json& j, std::string_view key, bool required, double fallback) {
  return Get<double>(j, key, required, fallback, [](const Json& v) { return v.is_number(); },
                     "a number");
}

Result<bool> GetBool(const Json& j, std::string_view key, bool required, bool fallback) {
  return Get<bool>(j, key, required, fallback, [](const Json& v) { return v.is_boolean(); },
                   "a boolean");
}

std::string DumpJson(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace agentgate
