#include "aptrepo/fleet/lock.hpp"

#include <cerrno>
#include <csignal>
#include <ctime>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <unistd.h>

namespace aptship::fleet {

namespace {

std::optional<LockOwner> parse_owner(const std::string& text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return std::nullopt;
  }
  LockOwner owner;
  owner.pid = json.value("pid", 0);
  owner.host = json.value("host", "");
  owner.started = json.value("started", "");
  return owner;
}

Expected<std::string> read_from_start(const Fd& fd) {
  if (::lseek(fd.get(), 0, SEEK_SET) < 0) {
    return errno_error("lseek", errno);
  }
  return fd.read_all();
}

} // namespace

std::string LockOwner::describe() const {
  return fmt::format("pid {} on {} since {}", pid, host.empty() ? "?" : host,
                     started.empty() ? "?" : started);
}

std::string this_host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) {
    return "unknown";
  }
  return name;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

Expected<LockAttempt> RolloutLock::try_acquire(const std::filesystem::path& path) {
  std::error_code ec;
  if (!path.parent_path().empty()) {
    std::filesystem::create_directories(path.parent_path(), ec);
  }
  if (ec) {
    return make_error("creating {}: {}", path.parent_path().string(), ec.message());
  }
  TRY_ASSIGN(Fd fd, Fd::open(path, O_RDWR | O_CREAT, 0644));
  LockAttempt attempt;
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) {
      continue;
    }
    if (errno != EWOULDBLOCK) {
      return errno_error(fmt::format("locking {}", path.string()), errno);
    }
    TRY_ASSIGN(std::string text, read_from_start(fd));
    attempt.holder = parse_owner(text).value_or(LockOwner{});
    return attempt;
  }
  TRY_ASSIGN(std::string previous, read_from_start(fd));
  if (auto owner = parse_owner(previous); owner && owner->pid > 0) {
    attempt.stale = owner;
    attempt.stale_pid_dead =
        owner->host == this_host_name() && ::kill(owner->pid, 0) != 0 && errno == ESRCH;
  }
  nlohmann::json me = {{"pid", ::getpid()}, {"host", this_host_name()}, {"started", utc_now()}};
  if (::ftruncate(fd.get(), 0) != 0) {
    return errno_error(fmt::format("truncating {}", path.string()), errno);
  }
  TRY(fd.pwrite_all(me.dump() + "\n", 0));
  TRY(fd.sync());
  attempt.lock = RolloutLock(std::move(fd));
  return attempt;
}

RolloutLock::~RolloutLock() {
  if (m_fd) {
    // A clean release leaves an empty file; an owner left behind means a run died.
    (void)::ftruncate(m_fd.get(), 0);
  }
}

} // namespace aptship::fleet
