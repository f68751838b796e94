#include "integration/support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace agentgate::test {

using namespace std::chrono_literals;

namespace {

std::string VarName(std::string_view assignment) {
  return std::string(assignment.substr(0, assignment.find('=')));
}

std::vector<std::string> BuildEnvironment(const ChildProcess::Options& options) {
  std::vector<std::string> env;
  auto overridden = [&](const std::string& name) {
    for (const std::string& e : options.env) {
      if (VarName(e) == name) return true;
    }
    for (const std::string& u : options.unset_env) {
      if (u == name) return true;
    }
    return false;
  };
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    if (!overridden(VarName(entry))) env.push_back(std::move(entry));
  }
  for (const std::string& e : options.env) env.push_back(e);
  return env;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::Spawn(const std::string& path,
                                                  const std::vector<std::string>& args,
                                                  const Options& options, std::string* error) {
  auto fail = [&](std::string message) -> std::unique_ptr<ChildProcess> {
    if (error) *error = std::move(message);
    return nullptr;
  };
  if (::access(path.c_str(), X_OK) != 0) return fail(path + ": " + std::strerror(errno));

  // Everything the child needs is built before fork(): after it, only
  // async-signal-safe calls.
  std::vector<std::string> argv_storage;
  argv_storage.push_back(path);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = BuildEnvironment(options);
  std::vector<char*> envp;
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  const char* dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();

  int fds[2] = {-1, -1};
  if (options.capture_stdout && ::pipe2(fds, O_CLOEXEC) != 0) {
    return fail(std::string("pipe: ") + std::strerror(errno));
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    if (fds[0] >= 0) {
      ::close(fds[0]);
      ::close(fds[1]);
    }
    return fail(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (options.capture_stdout) {
      ::dup2(fds[1], STDOUT_FILENO);
      if (options.merge_stderr) ::dup2(fds[1], STDERR_FILENO);
    }
    if (dir && ::chdir(dir) != 0) ::_exit(127);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  if (options.capture_stdout) ::close(fds[1]);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, options.capture_stdout ? fds[0] : -1));
}

ChildProcess::ChildProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {
  if (stdout_fd_ >= 0) {
    reader_ = std::thread([this] { read_loop(); });
  } else {
    eof_ = true;
  }
}

ChildProcess::~ChildProcess() {
  if (running()) {
    signal(SIGKILL);
    (void)wait(10s);
  }
  if (reader_.joinable()) {
    // The pipe's writer is gone with the child: give the reader a moment to
    // drain what is left, then stop it.
    std::unique_lock lock(out_mu_);
    out_cv_.wait_for(lock, 1s, [this] { return eof_; });
    lock.unlock();
    stop_reader_.store(true, std::memory_order_release);
    reader_.join();
  }
}

void ChildProcess::read_loop() {
  char buf[4096];
  for (;;) {
    // Poll so that the destructor can stop the reader even if a grandchild
    // keeps the pipe open.
    pollfd p{stdout_fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, 100);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) {
      if (stop_reader_.load(std::memory_order_acquire)) break;
      continue;
    }
    ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard lock(out_mu_);
    output_.append(buf, static_cast<size_t>(n));
    out_cv_.notify_all();
  }
  ::close(stdout_fd_);
  std::lock_guard lock(out_mu_);
  eof_ = true;
  out_cv_.notify_all();
}

std::optional<std::string> ChildProcess::wait_for_line(std::string_view prefix,
                                                       std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(out_mu_);
  auto find = [&]() -> std::optional<std::string> {
    size_t pos = 0;
    while (pos < output_.size()) {
      size_t eol = output_.find('\n', pos);
      if (eol == std::string::npos) break;  // a partial line waits for its end
      std::string_view line(output_.data() + pos, eol - pos);
      if (line.substr(0, prefix.size()) == prefix) return std::string(line);
      pos = eol + 1;
    }
    return std::nullopt;
  };
  for (;;) {
    if (std::optional<std::string> line = find()) return line;
    if (eof_) return std::nullopt;
    if (out_cv_.wait_until(lock, deadline) == std::cv_status::timeout) return find();
  }
}

std::string ChildProcess::output() const {
  std::lock_guard lock(out_mu_);
  return output_;
}

bool ChildProcess::signal(int sig) {
  std::lock_guard lock(status_mu_);
  try_reap_locked();
  if (exit_status_) return false;
  return ::kill(pid_, sig) == 0;
}

void ChildProcess::try_reap_locked() {
  if (exit_status_) return;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) exit_status_ = DecodeStatus(status);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard lock(status_mu_);
      try_reap_locked();
    }
    std::optional<int> status;
    {
      std::lock_guard lock(status_mu_);
      status = exit_status_;
    }
    if (status) {
      // Let the reader drain what the child wrote before it exited (its
      // stdout closes at exit unless a grandchild still holds it).
      std::unique_lock lock(out_mu_);
      out_cv_.wait_until(lock, deadline, [this] { return eof_; });
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

bool ChildProcess::running() {
  std::lock_guard lock(status_mu_);
  try_reap_locked();
  return !exit_status_.has_value();
}

uint16_t PortFromLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  size_t colon = line.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= line.size()) return 0;
  unsigned port = 0;
  for (char c : line.substr(colon + 1)) {
    if (c < '0' || c > '9') return 0;
    port = port * 10 + static_cast<unsigned>(c - '0');
    if (port > 65535) return 0;
  }
  return static_cast<uint16_t>(port);
}

}  // namespace agentgate::test
