#pragma once

// The rollout engine: preflight every host and load balancer, then host by
// host (in batches, in parallel as far as the capacity rule allows) drain →
// wait for sessions to end → maint → install → restart → verify → health
// gate → ready → confirm UP. A failing host goes back to its previous
// version; the rollout stops. DESIGN.md, "Fleet rollout (per host)".

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/fleet/clock.hpp"
#include "aptrepo/fleet/fleet_file.hpp"
#include "aptrepo/fleet/health.hpp"
#include "aptrepo/fleet/journal.hpp"
#include "aptrepo/fleet/load_balancer.hpp"
#include "aptrepo/fleet/transport.hpp"

namespace aptship::fleet {

enum class DryRun { no, yes };
enum class ResumeRun { no, yes };

struct RolloutOptions {
  RolloutMode mode = RolloutMode::upgrade;
  std::string version; // upgrade: the target; empty means the newest the first host sees
  DryRun dry_run = DryRun::no;
  ResumeRun resume = ResumeRun::no;
  // Where APP.lock and APP.journal live (DATA/fleet).
  std::filesystem::path state_dir;
  // How often the drain wait and the UP confirmation poll the load balancers.
  std::chrono::milliseconds poll_interval{200};
};

// What the rollout needs from the world; the CLI passes the real ones.
struct RolloutDeps {
  Transport& transport;
  std::vector<LoadBalancer*> load_balancers; // one per fleet.load_balancers entry, same order
  HealthChecker& health;
  Clock& clock;
  std::function<void(std::string_view)> print; // one line of output, without newline
};

enum class Outcome {
  done,             // every host on its target version and in service
  failed,           // a host failed: rolled back (or left in maint), the rollout stopped
  usage,            // the request makes no sense (nothing to resume, ...)
  preflight_failed, // nothing was changed
  locked,           // another rollout of the app holds the lock
};

struct HostReport {
  std::string name;
  std::string from;
  std::string to;
  std::string
      result; // "upgraded", "skipped", "failed, restored 1.0", "LEFT IN MAINT", "not reached"
  std::chrono::milliseconds elapsed{0};
};

struct RolloutReport {
  Outcome outcome = Outcome::done;
  std::string message; // why, when not done
  std::vector<HostReport> hosts;
};

// Runs (or with DryRun::yes, prints) the rollout of FLEET.
[[nodiscard]] RolloutReport run_rollout(const FleetFile& fleet, const RolloutOptions& options,
                                        const RolloutDeps& deps);

// The final table: host, old version, new version, time, result.
[[nodiscard]] std::string format_report_table(const RolloutReport& report);

// The process exit code for OUTCOME: 0 done, 1 failed, 2 usage, 3 preflight
// failed, 4 locked.
[[nodiscard]] int exit_code(Outcome outcome);

} // namespace aptship::fleet
