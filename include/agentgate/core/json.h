// JSON helpers for the admin API and responses (nlohmann-json). The proxy's
// hot path parses with simdjson instead; see gateway/.
//
// Every helper reports bad input as kInvalidArgument naming the field, so
// handlers can return the Status straight to the client as a 400.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "agentgate/core/status.h"

namespace agentgate {

using Json = nlohmann::json;

// ParseJsonObject: `body` parsed; an error unless it is one JSON object.
Result<Json> ParseJsonObject(std::string_view body);

// GetString / GetInt / GetDouble / GetBool: the field `key` of object `j`.
// Absent (or null) and not required: `fallback`. Present with the wrong type
// or absent and required: kInvalidArgument naming `key`.
Result<std::string> GetString(const Json& j, std::string_view key, bool required,
                              std::string fallback = {});
Result<int64_t> GetInt(const Json& j, std::string_view key, bool required, int64_t fallback = 0);
Result<double> GetDouble(const Json& j, std::string_view key, bool required, double fallback = 0);
Result<bool> GetBool(const Json& j, std::string_view key, bool required, bool fallback = false);

// DumpJson: compact JSON; invalid UTF-8 is replaced rather than throwing.
std::string DumpJson(const Json& j);

}  // namespace agentgate
