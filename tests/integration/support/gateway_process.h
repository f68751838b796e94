// GatewayProcess: the real `agentgate` binary started for a test, with a
// YAML config written to a fresh temp dir (which is also its data dir), and
// MockProcess: the real `agentgate-mock`. Both are killed by their PID when
// the object dies.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "integration/support/child_process.h"

namespace agentgate::test {

// FreePort: a loopback TCP port that was free a moment ago.
uint16_t FreePort();

// TempDir: a new empty directory under the test temp dir.
std::string MakeTempDir(const std::string& name);

class MockProcess {
 public:
  // Start: agentgate-mock on a free port; nullptr (with a gtest failure) if it fails.
  static std::unique_ptr<MockProcess> Start(const std::vector<std::string>& extra_args = {});
  uint16_t port() const { return port_; }
  ChildProcess& process() { return *child_; }

 private:
  std::unique_ptr<ChildProcess> child_;
  uint16_t port_ = 0;
};

class GatewayProcess {
 public:
  // Start: agentgate serve with `config_yaml` (a `server.port` line is added
  // unless present) and `env` ("NAME=value"). nullptr with a failure if it
  // does not come up.
  static std::unique_ptr<GatewayProcess> Start(const std::string& config_yaml,
                                               const std::vector<std::string>& env = {},
                                               const std::string& data_dir = "");
  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }
  ChildProcess& process() { return *child_; }

 private:
  std::unique_ptr<ChildProcess> child_;
  uint16_t port_ = 0;
  std::string dir_;
};

}  // namespace agentgate::test
