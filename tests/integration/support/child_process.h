// ChildProcess: a program started by a test (agentgate-mock, agentgate,
// redis-server), with its stdout read by a background thread so that the
// child never blocks on a full pipe, and killed when the test lets go of it.
//
//   std::string error;
//   auto mock = ChildProcess::Spawn(AGENTGATE_MOCK_BINARY, {"--port", "0"}, {}, &error);
//   ASSERT_TRUE(mock) << error;
//   std::optional<std::string> line = mock->wait_for_line("agentgate-mock listening on", 10s);
//   uint16_t port = PortFromLine(*line);
//   ...
//   mock->signal(SIGTERM);
//   EXPECT_EQ(mock->wait(10s), 0);
//
// The child gets SIGKILL if the thread that spawned it exits first
// (PR_SET_PDEATHSIG), so a crashed test leaves no stray servers behind.
// Thread-safety: every method may be called from any thread.
// Ownership: the ChildProcess owns the child: destruction kills (SIGKILL) and
// reaps it if it still runs.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace agentgate::test {

// ChildProcessOptions: how ChildProcess::Spawn starts a program.
struct ChildProcessOptions {
  // Added to the parent's environment, "NAME=value"; replaces a variable of the same name.
  std::vector<std::string> env;
  // Variable names removed from the inherited environment.
  std::vector<std::string> unset_env;
  // Read stdout through a pipe (wait_for_line, output); else inherit it.
  bool capture_stdout = true;
  // Send stderr into the same pipe (REQUIRES capture_stdout); else inherit it.
  bool merge_stderr = false;
  // Directory to run in; empty = the parent's.
  std::string working_dir;
};

class ChildProcess {
 public:
  using Options = ChildProcessOptions;

  // Spawn: starts `path` with `args` (not including argv[0]). nullptr, with
  // `error` set when given, if the program cannot be started.
  static std::unique_ptr<ChildProcess> Spawn(const std::string& path,
                                             const std::vector<std::string>& args,
                                             const Options& options = {},
                                             std::string* error = nullptr);

  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // wait_for_line: the first stdout line (without '\n') that starts with
  // `prefix`, including lines already read; nullopt if none arrives within
  // `timeout` or stdout closes first.
  std::optional<std::string> wait_for_line(std::string_view prefix,
                                           std::chrono::milliseconds timeout);

  // output: everything read from stdout so far.
  std::string output() const;

  // signal: sends `sig` to the child; false once it has been reaped.
  bool signal(int sig);

  // wait: the exit status once the child ends: its exit code, or 128 + the
  // signal that killed it; nullopt if it still runs after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  // running: the child has not exited (reaps it if it has).
  bool running();

 private:
  ChildProcess(pid_t pid, int stdout_fd);
  void read_loop();
  // try_reap: waitpid without blocking. REQUIRES status_mu_ held.
  void try_reap_locked();

  const pid_t pid_;
  const int stdout_fd_;  // -1 when not captured; closed by read_loop at EOF
  std::thread reader_;
  std::atomic<bool> stop_reader_{false};

  mutable std::mutex out_mu_;
  std::condition_variable out_cv_;
  std::string output_;  // GUARDED_BY(out_mu_)
  bool eof_ = false;    // GUARDED_BY(out_mu_)

  std::mutex status_mu_;
  std::optional<int> exit_status_;  // GUARDED_BY(status_mu_)
};

// PortFromLine: the port at the end of a line like "... listening on
// 127.0.0.1:43117"; 0 if there is none.
uint16_t PortFromLine(std::string_view line);

}  // namespace agentgate::test
