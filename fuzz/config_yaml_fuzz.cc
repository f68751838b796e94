// Fuzz target: the YAML configuration loader (yaml-cpp, then our readers
// and validation). Any input must give a Config or an error naming a key;
// an accepted config must validate again unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  static const agentgate::Env env = agentgate::MapEnv({});
  auto config = agentgate::LoadConfigString(yaml, env);
  if (config.ok() && !agentgate::ValidateConfig(*config).ok()) std::abort();
  if (!config.ok() && config.status().message().empty()) std::abort();
  return 0;
}
