#include "integration/support/gateway_process.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

namespace agentgate::test {

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string MakeTempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  std::string dir = ::testing::TempDir() + "agentgate_" + name + "_" + std::to_string(::getpid()) +
                    "_" + std::to_string(counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::unique_ptr<MockProcess> MockProcess::Start(const std::vector<std::string>& extra_args) {
  auto m = std::unique_ptr<MockProcess>(new MockProcess());
  std::vector<std::string> args = {"--port", "0", "--host", "127.0.0.1"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::string error;
  m->child_ = ChildProcess::Spawn(AGENTGATE_MOCK_BINARY, args, {}, &error);
  if (!m->child_) {
    ADD_FAILURE() << "cannot start agentgate-mock: " << error;
    return nullptr;
  }
  auto line = m->child_->wait_for_line("agentgate-mock listening on", std::chrono::seconds(20));
  if (!line) {
    ADD_FAILURE() << "agentgate-mock did not come up: " << m->child_->output();
    return nullptr;
  }
  m->port_ = PortFromLine(*line);
  return m;
}

std::unique_ptr<GatewayProcess> GatewayProcess::Start(const std::string& config_yaml,
                                                      const std::vector<std::string>& env,
                                                      const std::string& data_dir) {
  auto g = std::unique_ptr<GatewayProcess>(new GatewayProcess());
  g->dir_ = data_dir.empty() ? MakeTempDir("gateway") : data_dir;
  std::string config_path = g->dir_ + "/agentgate.yaml";
  {
    std::ofstream f(config_path);
    f << config_yaml;
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    g->port_ = FreePort();
    std::vector<std::string> args = {"serve",  "--config", config_path, "--port",
                                     std::to_string(g->port_), "--host", "127.0.0.1",
                                     "--data-dir", g->dir_ + "/data"};
    ChildProcessOptions options;
    options.env = env;
    options.merge_stderr = true;
    options.unset_env = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENTGATE_ADMIN_KEY", "REDIS_HOST"};
    std::string error;
    g->child_ = ChildProcess::Spawn(AGENTGATE_BINARY, args, options, &error);
    if (!g->child_) {
      ADD_FAILURE() << "cannot start agentgate: " << error;
      return nullptr;
    }
    if (g->child_->wait_for_line("agentgate listening on", std::chrono::seconds(20))) return g;
    g->child_->wait(std::chrono::seconds(5));
    if (g->child_->output().find("cannot listen") == std::string::npos) break;  // not a port race
  }
  ADD_FAILURE() << "agentgate did not come up: " << g->child_->output();
  return nullptr;
}

}  // namespace agentgate::test
