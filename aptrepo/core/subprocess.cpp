#include "aptrepo/core/subprocess.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aptrepo/core/fd.hpp"

extern char** environ;

namespace aptship {

namespace {

using Clock = std::chrono::steady_clock;

// Owned posix_spawn attribute and file-action objects.
class SpawnSetup {
public:
  SpawnSetup() {
    posix_spawnattr_init(&m_attr);
    posix_spawn_file_actions_init(&m_actions);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&m_actions);
    posix_spawnattr_destroy(&m_attr);
  }
  posix_spawnattr_t* attr() { return &m_attr; }
  posix_spawn_file_actions_t* actions() { return &m_actions; }

private:
  posix_spawnattr_t m_attr{};
  posix_spawn_file_actions_t m_actions{};
};

struct Pipe {
  Fd read;
  Fd write;
};

Expected<Pipe> make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    return errno_error("pipe", errno);
  }
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

// Blocks SIGPIPE in this thread while the parent feeds a child's stdin, so
// that a child that stops reading yields EPIPE instead of killing us, and
// swallows the SIGPIPE that such a write leaves pending.
class SigpipeGuard {
public:
  SigpipeGuard() {
    sigemptyset(&m_set);
    sigaddset(&m_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &m_set, &m_old);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    m_was_pending = sigismember(&pending, SIGPIPE) == 1;
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;
  ~SigpipeGuard() {
    if (m_raised && !m_was_pending) {
      timespec zero{};
      while (sigtimedwait(&m_set, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }
  void raised() { m_raised = true; }

private:
  sigset_t m_set{};
  sigset_t m_old{};
  bool m_was_pending = false;
  bool m_raised = false;
};

int decode_status(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

Expected<int> wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return errno_error("waitpid", errno);
    }
  }
  return decode_status(status);
}

// Milliseconds left until DEADLINE for poll(2), or -1 without a deadline.
int poll_timeout(const std::optional<Clock::time_point>& deadline) {
  if (!deadline) {
    return -1;
  }
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Everything the parent does between spawning and reaping the child.
class Pump {
public:
  Pump(const SubprocessOptions& options, Fd in, Fd out, Fd err)
      : m_options(options), m_in(std::move(in)), m_out(std::move(out)), m_err(std::move(err)) {
    if (m_options.input) {
      m_pending = *m_options.input;
    }
  }

  // Moves data until every pipe is closed or the deadline passes; returns
  // false on timeout.
  Expected<bool> run(const std::optional<Clock::time_point>& deadline, SubprocessResult& result) {
    if (m_in) {
      if (m_pending.empty()) {
        m_in = Fd();
      } else if (::fcntl(m_in.get(), F_SETFL, O_NONBLOCK) != 0) {
        return errno_error("fcntl", errno);
      }
    }
    std::optional<SigpipeGuard> guard;
    if (m_in) {
      guard.emplace();
    }
    char buffer[65536];
    while (m_in || m_out || m_err) {
      std::array<pollfd, 3> fds{};
      nfds_t count = 0;
      int in_index = -1;
      int out_index = -1;
      int err_index = -1;
      if (m_in) {
        in_index = static_cast<int>(count);
        fds[count++] = pollfd{m_in.get(), POLLOUT, 0};
      }
      if (m_out) {
        out_index = static_cast<int>(count);
        fds[count++] = pollfd{m_out.get(), POLLIN, 0};
      }
      if (m_err) {
        err_index = static_cast<int>(count);
        fds[count++] = pollfd{m_err.get(), POLLIN, 0};
      }
      int ready = ::poll(fds.data(), count, poll_timeout(deadline));
      if (ready < 0) {
        if (errno == EINTR) {
          continue;
        }
        return errno_error("poll", errno);
      }
      if (ready == 0) {
        if (deadline && Clock::now() >= *deadline) {
          return false;
        }
        continue;
      }
      if (in_index >= 0 && fds[in_index].revents != 0) {
        feed_stdin(*guard);
      }
      // stdout before stderr within one wake-up: the best order available
      // once both pipes hold data.
      if (out_index >= 0 && fds[out_index].revents != 0) {
        TRY(drain(m_out, false, buffer, sizeof(buffer), result));
      }
      if (err_index >= 0 && fds[err_index].revents != 0) {
        TRY(drain(m_err, true, buffer, sizeof(buffer), result));
      }
    }
    return true;
  }

private:
  void feed_stdin(SigpipeGuard& guard) {
    ssize_t n = ::write(m_in.get(), m_pending.data(), m_pending.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        return;
      }
      // The child closed its stdin (EPIPE) or the pipe broke: what it did
      // not read it did not want, and its exit status tells the rest.
      if (errno == EPIPE) {
        guard.raised();
      }
      m_in = Fd();
      return;
    }
    m_pending.remove_prefix(static_cast<size_t>(n));
    if (m_pending.empty()) {
      m_in = Fd();
    }
  }

  Expected<void> drain(Fd& fd, bool is_stderr, char* buffer, size_t size,
                       SubprocessResult& result) {
    ssize_t n = ::read(fd.get(), buffer, size);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        return {};
      }
      return errno_error("reading a child's output", errno);
    }
    if (n == 0) {
      fd = Fd();
      return {};
    }
    std::string_view chunk(buffer, static_cast<size_t>(n));
    if (m_options.output == Output::stream) {
      if (m_options.on_output) {
        m_options.on_output(is_stderr, chunk);
      }
    } else {
      (is_stderr ? result.err : result.out).append(chunk);
    }
    return {};
  }

  const SubprocessOptions& m_options;
  Fd m_in;
  Fd m_out;
  Fd m_err;
  std::string_view m_pending;
};

// Waits for PID until DEADLINE; false if the deadline passed first.
Expected<bool> wait_with_deadline(pid_t pid, Clock::time_point deadline, int& exit_code) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error("waitpid", errno);
    }
    if (r == pid) {
      exit_code = decode_status(status);
      return true;
    }
    int left = poll_timeout(deadline);
    if (left == 0) {
      return false;
    }
    // Without a descriptor that signals exit, a short sleep is the simple
    // portable wait; it only happens when a timeout was asked for.
    ::poll(nullptr, 0, left < 10 ? left : 10);
  }
}

} // namespace

Expected<SubprocessResult> run(const std::vector<std::string>& argv,
                               const SubprocessOptions& options) {
  if (argv.empty()) {
    return make_error("running a program: empty command line");
  }
  const std::string& program = argv.front();

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);

  std::vector<std::string> env_strings;
  std::vector<char*> env_ptrs;
  char** envp = environ;
  if (options.env) {
    env_strings.reserve(options.env->size());
    for (const auto& [key, value] : *options.env) {
      env_strings.push_back(key + "=" + value);
    }
    for (auto& entry : env_strings) {
      env_ptrs.push_back(entry.data());
    }
    env_ptrs.push_back(nullptr);
    envp = env_ptrs.data();
  }

  SpawnSetup setup;
  auto fail = [&program](int err) {
    return errno_error(fmt::format("running '{}'", program), err);
  };

  // The child leads its own process group so that a timeout can kill every
  // process it started; it gets a clean signal mask and default dispositions
  // for the signals a daemon commonly ignores or blocks.
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD}) {
    sigaddset(&defaults, sig);
  }
  int rc = posix_spawnattr_setflags(setup.attr(), POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                      POSIX_SPAWN_SETSIGDEF);
  if (rc == 0) {
    rc = posix_spawnattr_setpgroup(setup.attr(), 0);
  }
  if (rc == 0) {
    rc = posix_spawnattr_setsigmask(setup.attr(), &empty);
  }
  if (rc == 0) {
    rc = posix_spawnattr_setsigdefault(setup.attr(), &defaults);
  }
  if (rc != 0) {
    return fail(rc);
  }

  Pipe in;
  Pipe out;
  Pipe err;
  if (options.input) {
    TRY_ASSIGN(in, make_pipe());
    rc = posix_spawn_file_actions_adddup2(setup.actions(), in.read.get(), STDIN_FILENO);
  } else {
    rc = posix_spawn_file_actions_addopen(setup.actions(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  if (rc == 0 && options.output != Output::inherit) {
    TRY_ASSIGN(out, make_pipe());
    TRY_ASSIGN(err, make_pipe());
    rc = posix_spawn_file_actions_adddup2(setup.actions(), out.write.get(), STDOUT_FILENO);
    if (rc == 0) {
      rc = posix_spawn_file_actions_adddup2(setup.actions(), err.write.get(), STDERR_FILENO);
    }
  }
  if (rc == 0 && !options.cwd.empty()) {
    rc = posix_spawn_file_actions_addchdir_np(setup.actions(), options.cwd.c_str());
  }
  if (rc != 0) {
    return fail(rc);
  }

  pid_t pid = -1;
  rc = posix_spawnp(&pid, program.c_str(), setup.actions(), setup.attr(), args.data(), envp);
  if (rc != 0) {
    return fail(rc);
  }
  // The child holds its own copies; ours must go so that EOF arrives.
  in.read = Fd();
  out.write = Fd();
  err.write = Fd();

  std::optional<Clock::time_point> deadline;
  if (options.timeout.count() > 0) {
    deadline = Clock::now() + options.timeout;
  }

  SubprocessResult result;
  Pump pump(options, std::move(in.write), std::move(out.read), std::move(err.read));
  auto finished = pump.run(deadline, result);
  if (finished && *finished && deadline) {
    int code = -1;
    finished = wait_with_deadline(pid, *deadline, code);
    if (finished && *finished) {
      result.exit_code = code;
      return result;
    }
  }
  if (!finished || !*finished) {
    // Timed out, or the parent failed mid-way: never leave the group behind.
    ::kill(-pid, SIGKILL);
    result.timed_out = finished.has_value();
  }
  auto code = wait_child(pid);
  if (!finished) {
    return tl::unexpected<Error>(finished.error().context(fmt::format("running '{}'", program)));
  }
  if (!code) {
    return tl::unexpected<Error>(code.error().context(fmt::format("running '{}'", program)));
  }
  result.exit_code = *code;
  return result;
}

Expected<std::string> run_checked(const std::vector<std::string>& argv,
                                  const SubprocessOptions& options) {
  TRY_ASSIGN(SubprocessResult result, run(argv, options));
  if (result.timed_out) {
    return make_error("'{}' timed out after {} ms", argv.front(), options.timeout.count());
  }
  if (result.exit_code != 0) {
    std::string_view err = result.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r' || err.back() == ' ')) {
      err.remove_suffix(1);
    }
    std::string_view last =
        err.substr(err.rfind('\n') == std::string_view::npos ? 0 : err.rfind('\n') + 1);
    if (last.empty()) {
      return make_error("'{}' exited with status {}", argv.front(), result.exit_code);
    }
    return make_error("'{}' exited with status {}: {}", argv.front(), result.exit_code, last);
  }
  return std::move(result.out);
}

} // namespace aptship
