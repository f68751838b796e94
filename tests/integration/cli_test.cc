// The agentgate command line: version, --help, check-config naming the bad key.
#include <gtest/gtest.h>

#include <fstream>

#include "integration/support/child_process.h"
#include "integration/support/gateway_process.h"

namespace agentgate::test {
namespace {

using namespace std::chrono_literals;

struct CliRun {
  int code = -1;
  std::string output;
};

CliRun RunCli(const std::vector<std::string>& args) {
  ChildProcessOptions o;
  o.merge_stderr = true;
  auto child = ChildProcess::Spawn(AGENTGATE_BINARY, args, o);
  if (!child) return {};
  auto code = child->wait(20s);
  return {code.value_or(-1), child->output()};
}

std::string WriteFile(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(CliTest, VersionAndHelp) {
  CliRun v = RunCli({"version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.output.find("agentgate " AGENTGATE_VERSION), std::string::npos);
  for (std::vector<std::string> args : {std::vector<std::string>{"--help"},
                                        std::vector<std::string>{"serve", "--help"},
                                        std::vector<std::string>{"check-config", "--help"}}) {
    CliRun h = RunCli(args);
    EXPECT_EQ(h.code, 0) << h.output;
    EXPECT_NE(h.output.find("Usage"), std::string::npos) << h.output;
  }
  EXPECT_NE(RunCli({"no-such-command"}).code, 0);
}

TEST(CliTest, CheckConfigNamesTheBadKey) {
  std::string dir = MakeTempDir("cli");
  std::string good = WriteFile(dir, "good.yaml",
                               "upstreams:\n  - name: a\n    base_url: http://127.0.0.1:1\n    models: [m]\n");
  CliRun ok = RunCli({"check-config", good});
  EXPECT_EQ(ok.code, 0) << ok.output;

  struct Case {
    std::string yaml;
    std::string names;
  };
  std::vector<Case> cases = {
      {"server:\n  port: abc\n", "server.port"},
      {"server:\n  prot: 8000\n", "server.prot"},
      {"upstreams:\n  - name: a\n    base_url: ftp://x\n    models: [m]\n", "upstreams[0].base_url"},
      {"cache:\n  similarity_threshold: 2\n", "cache.similarity_threshold"},
      {"server: [\n", "YAML"},
  };
  for (const auto& c : cases) {
    CliRun r = RunCli({"check-config", WriteFile(dir, "bad.yaml", c.yaml)});
    EXPECT_NE(r.code, 0) << c.yaml;
    EXPECT_NE(r.output.find(c.names), std::string::npos) << c.yaml << " -> " << r.output;
  }
  CliRun missing = RunCli({"check-config", dir + "/nope.yaml"});
  EXPECT_NE(missing.code, 0);
}

TEST(CliTest, ServeRefusesABadConfigNamingTheKey) {
  std::string dir = MakeTempDir("cli_serve");
  CliRun r = RunCli({"serve", "--config", WriteFile(dir, "bad.yaml", "rate_limit:\n  default_tier: gold\n"),
                  "--data-dir", dir + "/data"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("default_tier"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace agentgate::test
