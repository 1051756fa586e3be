#pragma once

// The rollout journal, DATA/fleet/APP.journal: one JSON object per line,
// appended and fsynced before the step it records is taken for done, so that
// a killed run can be resumed and can say which hosts it left out of service.

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"

namespace aptship::fleet {

// A host's journaled states, in the order the rollout reaches them.
namespace host_state {
inline constexpr const char* drain = "drain";         // drained on every load balancer
inline constexpr const char* maint = "maint";         // in maintenance, about to change
inline constexpr const char* installed = "installed"; // target version installed
inline constexpr const char* ready = "ready";         // back in service, UP not yet confirmed
inline constexpr const char* done = "done";           // on its target version and UP
inline constexpr const char* skipped = "skipped";     // already on its target version and UP
inline constexpr const char* restored = "restored";   // failed, back on its previous version and UP
inline constexpr const char* left_maint = "left_maint"; // failed and left in maintenance
} // namespace host_state

// True for the states in which a host takes no traffic.
[[nodiscard]] bool out_of_service(const std::string& state);

enum class RolloutMode { upgrade, rollback };

struct JournalHost {
  std::string from;  // the version before the run ("" when not installed)
  std::string to;    // the version the run puts on it
  std::string state; // the last journaled state; "" when never touched
};

// What the journal says of the last run (and the runs that resumed it).
struct JournalState {
  bool empty = true; // no run journaled
  std::string run;
  std::string app;
  RolloutMode mode = RolloutMode::upgrade;
  std::string version; // the target version given to the run (upgrade mode)
  bool ended = false;
  std::string result; // "done" or "failed" when ended
  std::map<std::string, JournalHost> hosts;
};

// Reads the journal at PATH (a missing file is an empty journal); a line
// that is not JSON is an error naming it, except a torn last line.
[[nodiscard]] Expected<JournalState> read_journal(const std::filesystem::path& path);

class Journal {
public:
  // Opens PATH for appending (created with its directory if missing).
  [[nodiscard]] static Expected<Journal> open(const std::filesystem::path& path, std::string run);
  Journal(Journal&&) noexcept;
  Journal& operator=(Journal&&) = delete;

  // Records the start of a run; RESUME marks it as continuing the previous one.
  enum class Resume { no, yes };
  [[nodiscard]] Expected<void> start(const std::string& app, RolloutMode mode,
                                     const std::string& version,
                                     const std::map<std::string, JournalHost>& hosts,
                                     Resume resume);
  // Records that HOST reached STATE (one of host_state).
  [[nodiscard]] Expected<void> step(const std::string& host, const std::string& state);
  // Records the end of the run with RESULT ("done" or "failed").
  [[nodiscard]] Expected<void> end(const std::string& result);

  [[nodiscard]] const std::string& run() const { return m_run; }

private:
  Journal(Fd fd, std::string run) : m_fd(std::move(fd)), m_run(std::move(run)) {}
  [[nodiscard]] Expected<void> append(const std::string& line);
  Fd m_fd;
  std::string m_run;
  std::mutex m_mutex;
};

// A new run id: UTC time and pid, "20250101T100000Z-1234".
[[nodiscard]] std::string new_run_id();

} // namespace aptship::fleet
