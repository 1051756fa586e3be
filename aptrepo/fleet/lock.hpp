#pragma once

// One rollout per app at a time: an flock(2) on DATA/fleet/APP.lock whose
// content names the owner (pid, host, start time) as JSON. The kernel drops
// the flock when its holder dies, so a lock file with an owner but no flock
// is the trace of a run that died: the next run reports it and takes over.

#include <filesystem>
#include <optional>
#include <string>

#include <sys/types.h>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"

namespace aptship::fleet {

struct LockOwner {
  pid_t pid = 0;
  std::string host;
  std::string started; // UTC, ISO 8601

  // "pid 123 on build1 since 2025-01-01T10:00:00Z".
  [[nodiscard]] std::string describe() const;
};

struct LockAttempt;

class RolloutLock {
public:
  // Tries once to take the lock at PATH (created with its directory if
  // missing) and records this process as the owner.
  [[nodiscard]] static Expected<LockAttempt> try_acquire(const std::filesystem::path& path);
  RolloutLock(RolloutLock&&) noexcept = default;
  RolloutLock& operator=(RolloutLock&&) noexcept = default;
  RolloutLock(const RolloutLock&) = delete;
  RolloutLock& operator=(const RolloutLock&) = delete;
  // Clears the owner, so that the next run sees a clean release, and unlocks.
  ~RolloutLock();

private:
  explicit RolloutLock(Fd fd) : m_fd(std::move(fd)) {}
  Fd m_fd;
};

struct LockAttempt {
  // Set when the lock was taken.
  std::optional<RolloutLock> lock;
  // When busy: the owner recorded in the file (pid 0 if unreadable).
  LockOwner holder;
  // When taken over from a run that died without releasing it: its owner,
  // and whether that pid is known to be gone (same host, no such process).
  std::optional<LockOwner> stale;
  bool stale_pid_dead = false;
};

// This machine's host name.
[[nodiscard]] std::string this_host_name();

// The current UTC time as "2025-01-01T10:00:00Z".
[[nodiscard]] std::string utc_now();

} // namespace aptship::fleet
