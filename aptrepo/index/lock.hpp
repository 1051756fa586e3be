#pragma once

// The repository lock: an flock(2) on DATA/lock that serializes every
// operation changing the database, the pool or the published tree. The
// holder writes its pid into the file so that a waiting process can say whom
// it waits for.

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include <sys/types.h>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"

namespace aptship::index {

// How long acquire() waits when no timeout is configured.
inline constexpr std::chrono::milliseconds k_default_lock_timeout{60'000};

struct LockOptions {
  std::chrono::milliseconds timeout = k_default_lock_timeout;
  // Called once, when the lock is found busy, with the holder's pid (0 if
  // it could not be read).
  std::function<void(pid_t holder)> on_wait;
};

class RepoLock {
public:
  // Takes the lock on PATH (created if missing), waiting up to
  // OPTIONS.timeout; the error says how long it waited and for which pid.
  [[nodiscard]] static Expected<RepoLock> acquire(const std::filesystem::path& path,
                                                  const LockOptions& options = {});
  RepoLock(RepoLock&&) noexcept = default;
  RepoLock& operator=(RepoLock&&) noexcept = default;
  RepoLock(const RepoLock&) = delete;
  RepoLock& operator=(const RepoLock&) = delete;
  // Clears the recorded pid, so that a later waiter never names a process
  // that is gone, and releases the lock by closing the descriptor.
  ~RepoLock();

private:
  explicit RepoLock(Fd fd) : m_fd(std::move(fd)) {}
  Fd m_fd;
};

// The lock timeout from $APTSHIP_LOCK_TIMEOUT (seconds, decimals allowed)
// or k_default_lock_timeout when it is unset or empty.
[[nodiscard]] Expected<std::chrono::milliseconds> lock_timeout_from_env();

// A duration as the lock messages show it: "60 s", "0.5 s".
[[nodiscard]] std::string format_seconds(std::chrono::milliseconds duration);

} // namespace aptship::index
