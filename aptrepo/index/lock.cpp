#include "aptrepo/index/lock.hpp"

#include "aptrepo/core/log.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace aptship::index {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// The pid the holder wrote, or 0 while it has not written it yet.
pid_t read_holder(const Fd& fd) {
  char buffer[32] = {};
  ssize_t n = ::pread(fd.get(), buffer, sizeof buffer - 1, 0);
  if (n <= 0) {
    return 0;
  }
  char* end = nullptr;
  long pid = std::strtol(buffer, &end, 10);
  if (end == buffer || pid <= 0) {
    return 0;
  }
  return static_cast<pid_t>(pid);
}

std::string holder_text(pid_t pid) {
  return pid > 0 ? fmt::format("pid {}", pid) : std::string("another process");
}

Expected<bool> try_lock(const Fd& fd, const std::filesystem::path& path) {
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      return true;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EWOULDBLOCK) {
      return false;
    }
    return errno_error(fmt::format("locking {}", path.string()), errno);
  }
}

} // namespace

std::string format_seconds(milliseconds duration) {
  if (duration.count() % 1000 == 0) {
    return fmt::format("{} s", duration.count() / 1000);
  }
  return fmt::format("{:g} s", static_cast<double>(duration.count()) / 1000.0);
}

Expected<RepoLock> RepoLock::acquire(const std::filesystem::path& path,
                                     const LockOptions& options) {
  TRY_ASSIGN(Fd fd, Fd::open(path, O_RDWR | O_CREAT, 0644));
  const auto deadline = Clock::now() + options.timeout;
  bool announced = false;
  // Polling keeps the wait bounded without signals; the interval grows so
  // that a long wait costs little, and stays short so that a quick release
  // is noticed quickly.
  milliseconds interval{5};
  for (;;) {
    TRY_ASSIGN(bool locked, try_lock(fd, path));
    if (locked) {
      break;
    }
    if (!announced) {
      announced = true;
      if (options.on_wait) {
        options.on_wait(read_holder(fd));
      }
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      return make_error("timed out after {} waiting for the repository lock held by {}",
                        format_seconds(options.timeout), holder_text(read_holder(fd)));
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
    std::this_thread::sleep_for(std::min(interval, left + milliseconds(1)));
    interval = std::min(interval * 2, milliseconds(100));
  }
  // The pid is informative only: a waiter that reads it half-written shows
  // "another process", so no atomic write is needed.
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd.get(), 0) != 0) {
    return errno_error(fmt::format("truncating {}", path.string()), errno);
  }
  TRY_CTX(fd.pwrite_all(pid, 0), path.string());
  return RepoLock(std::move(fd));
}

RepoLock::~RepoLock() {
  if (m_fd) {
    // Still held here: no other process can be writing its pid meanwhile.
    // A failure leaves a stale pid, which waiters only show in a message.
    if (::ftruncate(m_fd.get(), 0) != 0) {
      log::debug("clearing the lock holder's pid: {}", std::strerror(errno));
    }
  }
}

Expected<milliseconds> lock_timeout_from_env() {
  const char* env = std::getenv("APTSHIP_LOCK_TIMEOUT");
  if (env == nullptr || *env == '\0') {
    return k_default_lock_timeout;
  }
  char* end = nullptr;
  errno = 0;
  double seconds = std::strtod(env, &end);
  if (end == env || *end != '\0' || errno != 0 || !std::isfinite(seconds) || seconds < 0 ||
      seconds > 1e9) {
    return make_error("APTSHIP_LOCK_TIMEOUT '{}': expected a number of seconds", env);
  }
  return milliseconds(static_cast<int64_t>(std::llround(seconds * 1000.0)));
}

} // namespace aptship::index
