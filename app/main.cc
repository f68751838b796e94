// agentgate: the command line. `agentgate serve`, `agentgate check-config F`,
// `agentgate version`; --help on each.
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "config/config.h"
#include "server/gateway.h"

namespace {

using agentgate::Config;
using agentgate::Result;
using agentgate::Status;

struct ServeFlags {
  std::string config_path;
  int port = 0;
  std::string host;
  std::string data_dir;
  bool demo = false;
};

void SetUpLogging(const Config& config) {
  auto app = spdlog::stderr_color_mt("agentgate");
  spdlog::set_default_logger(app);
  spdlog::set_level(spdlog::level::from_str(config.server.log_level));
  auto access = spdlog::stdout_logger_mt("access");
  access->set_pattern("%v");
  access->set_level(spdlog::level::info);
}

Result<Config> LoadForServe(const ServeFlags& f) {
  auto env = agentgate::ProcessEnv();
  Result<Config> config = f.config_path.empty() ? agentgate::DefaultConfig(env)
                                                : agentgate::LoadConfigFile(f.config_path, env);
  if (!config.ok()) return config;
  if (f.port != 0) config->server.port = f.port;
  if (!f.host.empty()) config->server.host = f.host;
  if (!f.data_dir.empty()) config->storage.data_dir = f.data_dir;
  if (f.demo) config->demo = true;
  if (Status s = agentgate::ValidateConfig(*config); !s.ok()) return s;
  return config;
}

int Serve(const ServeFlags& flags) {
  Result<Config> config = LoadForServe(flags);
  if (!config.ok()) {
    std::fprintf(stderr, "agentgate: %s\n", config.status().message().c_str());
    return 2;
  }
  SetUpLogging(*config);

  // Block the stop signals before any thread starts, then wait for one here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  agentgate::Gateway gateway(std::move(*config));
  if (Status s = gateway.start(); !s.ok()) {
    spdlog::critical("cannot start: {}", s.message());
    return 1;
  }
  spdlog::info("agentgate {} listening on {}:{}", AGENTGATE_VERSION,
               gateway.config().server.host, gateway.port());
  // One plain line on stdout for scripts and tests that wait for readiness.
  std::printf("agentgate listening on %s:%u\n", gateway.config().server.host.c_str(),
              static_cast<unsigned>(gateway.port()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("received {}, shutting down (grace {} s)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
               std::chrono::duration_cast<std::chrono::seconds>(
                   gateway.config().server.shutdown_grace)
                   .count());
  gateway.shutdown();
  spdlog::info("stopped");
  return 0;
}

int CheckConfig(const std::string& path) {
  Result<Config> config = agentgate::LoadConfigFile(path, agentgate::ProcessEnv());
  if (!config.ok()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), config.status().message().c_str());
    return 1;
  }
  std::printf("%s: ok (%zu upstream%s)\n", path.c_str(), config->upstreams.size(),
              config->upstreams.size() == 1 ? "" : "s");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"agentgate: a gateway for agent and LLM backends", "agentgate"};
  app.require_subcommand(1);

  ServeFlags flags;
  auto* serve = app.add_subcommand("serve", "Serve the gateway (OpenAI-compatible proxy + admin API)");
  serve->add_option("--config,-c", flags.config_path, "YAML configuration file")
      ->check(CLI::ExistingFile);
  serve->add_option("--port,-p", flags.port, "Port to listen on (overrides server.port)")
      ->check(CLI::Range(1, 65535));
  serve->add_option("--host", flags.host, "Address to listen on (overrides server.host)");
  serve->add_option("--data-dir", flags.data_dir, "Directory for SQLite data (overrides storage.data_dir)");
  serve->add_flag("--demo", flags.demo, "Serve a built-in simulated upstream (no provider needed)");

  std::string check_path;
  auto* check = app.add_subcommand("check-config", "Validate a configuration file; names the bad key");
  check->add_option("file", check_path, "YAML configuration file")->required();

  auto* version = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);
  if (*serve) return Serve(flags);
  if (*check) return CheckConfig(check_path);
  if (*version) {
    std::printf("agentgate %s\n", AGENTGATE_VERSION);
    return 0;
  }
  return 0;
}
