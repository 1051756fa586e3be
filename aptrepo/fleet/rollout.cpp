#include "aptrepo/fleet/rollout.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "aptrepo/fleet/commands.hpp"
#include "aptrepo/fleet/lock.hpp"
#include "aptrepo/fleet/plan.hpp"

namespace aptship::fleet {

namespace {

using std::chrono::milliseconds;

constexpr milliseconds k_probe_timeout{60'000};
constexpr milliseconds k_update_timeout{600'000};
constexpr milliseconds k_install_timeout{1'200'000};
constexpr milliseconds k_restart_timeout{300'000};
// After `shutdown sessions`, how long the sessions get to close.
constexpr milliseconds k_shutdown_grace{5'000};

struct HostPlan {
  const HostSpec* host = nullptr;
  std::string from; // the version to go back to on failure ("" when none)
  std::string to;
  bool skip = false;
  bool in_rotation = true; // UP on every load balancer at the preflight
};

std::string join(const std::vector<std::string>& words, std::string_view sep) {
  std::string out;
  for (const auto& word : words) {
    out += out.empty() ? "" : std::string(sep);
    out += word;
  }
  return out;
}

std::string or_none(const std::string& version) {
  return version.empty() ? "(none)" : version;
}

class Engine {
public:
  Engine(const FleetFile& fleet, const RolloutOptions& options, const RolloutDeps& deps)
      : m_fleet(fleet), m_options(options), m_deps(deps), m_start(deps.clock.now()) {}

  RolloutReport run();

private:
  bool dry() const { return m_options.dry_run == DryRun::yes; }
  milliseconds elapsed(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration_cast<milliseconds>(m_deps.clock.now() - since);
  }
  void note(std::string_view text) {
    std::lock_guard lock(m_print_mutex);
    double seconds = static_cast<double>(elapsed(m_start).count()) / 1000.0;
    m_deps.print(fmt::format("[{:7.1f}s] {}", seconds, text));
  }
  void say(const HostSpec& host, std::string_view text) {
    note(fmt::format("{}: {}", host.name, text));
  }
  RolloutReport stop(Outcome outcome, std::string message) {
    m_report.outcome = outcome;
    m_report.message = std::move(message);
    return std::move(m_report);
  }

  Expected<RemoteResult> remote(const HostSpec& host, const std::vector<std::string>& argv,
                                milliseconds timeout) {
    auto result = m_deps.transport.run(host, argv, timeout);
    if (!result) {
      return tl::unexpected<Error>(result.error().context(display_command(argv)));
    }
    return result;
  }
  Expected<void> remote_ok(const HostSpec& host, const std::vector<std::string>& argv,
                           milliseconds timeout) {
    TRY_ASSIGN(RemoteResult result, remote(host, argv, timeout));
    if (result.timed_out) {
      return make_error("{}: timed out after {}", display_command(argv), format_duration(timeout));
    }
    if (!result.ok()) {
      return make_error("{}: exit status {}: {}", display_command(argv), result.exit_code,
                        result.last_line());
    }
    return {};
  }
  Expected<void> journal_step(const HostSpec& host, const char* state) {
    if (m_journal) {
      TRY(m_journal->step(host.name, state));
    }
    return {};
  }

  Expected<std::optional<JournalState>> open_state();
  Expected<std::vector<HostPlan>> preflight(const JournalState& journal);
  Expected<void> set_state_all(const HostSpec& host, ServerState state);
  Expected<int> sessions(const HostSpec& host);
  Expected<void> wait_drained(const HostSpec& host);
  Expected<void> confirm_up(const HostSpec& host);
  Expected<void> change_version(const HostSpec& host, const std::string& version);
  bool process_host(const HostPlan& plan, HostReport& report);
  void recover(const HostPlan& plan, HostReport& report, const Error& error);
  void print_dry_host(const HostPlan& plan);
  Expected<size_t> live_capacity();
  Expected<bool> in_rotation(const HostSpec& host);

  const FleetFile& m_fleet;
  RolloutOptions m_options;
  const RolloutDeps& m_deps;
  std::chrono::steady_clock::time_point m_start;
  std::mutex m_print_mutex;
  std::optional<Journal> m_journal;
  RolloutReport m_report;
  size_t m_parallel = 1;
  std::string m_version; // the upgrade's target
};

Expected<void> Engine::set_state_all(const HostSpec& host, ServerState state) {
  for (size_t i = 0; i < m_deps.load_balancers.size(); ++i) {
    const std::string& backend = m_fleet.load_balancers[i].backend;
    LoadBalancer& lb = *m_deps.load_balancers[i];
    say(host, fmt::format("{}: {}", lb.describe(), set_state_command(backend, host.name, state)));
    TRY(lb.set_state(backend, host.name, state));
  }
  return {};
}

Expected<int> Engine::sessions(const HostSpec& host) {
  int total = 0;
  for (size_t i = 0; i < m_deps.load_balancers.size(); ++i) {
    const std::string& backend = m_fleet.load_balancers[i].backend;
    TRY_ASSIGN(auto servers, m_deps.load_balancers[i]->servers(backend));
    auto it = std::find_if(servers.begin(), servers.end(),
                           [&](const ServerStatus& s) { return s.name == host.name; });
    if (it == servers.end()) {
      return make_error("{}: backend {} has no server {}", m_deps.load_balancers[i]->describe(),
                        backend, host.name);
    }
    total += it->scur;
  }
  return total;
}

Expected<void> Engine::wait_drained(const HostSpec& host) {
  auto begin = m_deps.clock.now();
  auto deadline = begin + m_fleet.rollout.drain_timeout;
  bool shut = false;
  while (true) {
    TRY_ASSIGN(int open, sessions(host));
    if (open == 0) {
      say(host, fmt::format("drained: 0 sessions after {}", format_duration(elapsed(begin))));
      return {};
    }
    if (m_deps.clock.now() >= deadline) {
      if (shut) {
        return make_error("{} sessions still open {} after shutdown sessions", open,
                          format_duration(k_shutdown_grace));
      }
      if (!m_fleet.rollout.shutdown_sessions_on_timeout) {
        return make_error("{} sessions still open after drain_timeout {} (rollout."
                          "shutdown_sessions_on_timeout = true would close them)",
                          open, format_duration(m_fleet.rollout.drain_timeout));
      }
      for (size_t i = 0; i < m_deps.load_balancers.size(); ++i) {
        const std::string& backend = m_fleet.load_balancers[i].backend;
        say(host, fmt::format("{} sessions left after {}: {}: {}", open,
                              format_duration(m_fleet.rollout.drain_timeout),
                              m_deps.load_balancers[i]->describe(),
                              shutdown_sessions_command(backend, host.name)));
        TRY(m_deps.load_balancers[i]->shutdown_sessions(backend, host.name));
      }
      shut = true;
      deadline = m_deps.clock.now() + k_shutdown_grace;
    }
    m_deps.clock.sleep_for(m_options.poll_interval);
  }
}

Expected<void> Engine::confirm_up(const HostSpec& host) {
  auto begin = m_deps.clock.now();
  auto deadline = begin + m_fleet.health.timeout;
  while (true) {
    std::string not_up;
    for (size_t i = 0; i < m_deps.load_balancers.size() && not_up.empty(); ++i) {
      const std::string& backend = m_fleet.load_balancers[i].backend;
      TRY_ASSIGN(auto servers, m_deps.load_balancers[i]->servers(backend));
      auto it = std::find_if(servers.begin(), servers.end(),
                             [&](const ServerStatus& s) { return s.name == host.name; });
      if (it == servers.end()) {
        not_up = fmt::format("{}: backend {} has no server {}",
                             m_deps.load_balancers[i]->describe(), backend, host.name);
      } else if (!it->up()) {
        not_up = fmt::format("{}: {}/{} is {}", m_deps.load_balancers[i]->describe(), backend,
                             host.name, it->status);
      }
    }
    if (not_up.empty()) {
      say(host, fmt::format("UP on every load balancer after {}", format_duration(elapsed(begin))));
      return {};
    }
    if (m_deps.clock.now() >= deadline) {
      return make_error("not UP after {}: {}", format_duration(m_fleet.health.timeout), not_up);
    }
    m_deps.clock.sleep_for(m_options.poll_interval);
  }
}

Expected<void> Engine::change_version(const HostSpec& host, const std::string& version) {
  const std::string& app = m_fleet.app;
  say(host, fmt::format("install {}={}", app, version));
  TRY(remote_ok(host, install_argv(app, version, DownloadOnly::no), k_install_timeout));
  auto restart = restart_argv(m_fleet);
  say(host, fmt::format("restart: {}", display_command(restart)));
  TRY(remote_ok(host, restart, k_restart_timeout));
  if (auto active = active_argv(m_fleet)) {
    TRY_CTX(remote_ok(host, *active, k_probe_timeout), "units not active");
  }
  TRY_ASSIGN(RemoteResult query, remote(host, installed_argv(app), k_probe_timeout));
  InstalledPackage installed = parse_installed(query.out, query.exit_code);
  if (!installed.installed || installed.version != version) {
    return make_error("dpkg reports {} {} ({}), expected {}", app, or_none(installed.version),
                      installed.installed ? "installed" : "not fully installed", version);
  }
  say(host, fmt::format("dpkg reports {} {} installed", app, version));
  std::string url = substitute(m_fleet.health.url, host);
  auto gate_begin = m_deps.clock.now();
  say(host, fmt::format("health gate: GET {}", url));
  TRY(health_gate(m_deps.health, m_deps.clock, m_fleet.health, url));
  say(host, fmt::format("healthy: {} passes in a row after {}", m_fleet.health.rise,
                        format_duration(elapsed(gate_begin))));
  return {};
}

void Engine::recover(const HostPlan& plan, HostReport& report, const Error& error) {
  const HostSpec& host = *plan.host;
  say(host, fmt::format("FAILED: {}", error.message()));
  if (plan.from.empty()) {
    (void)journal_step(host, host_state::left_maint);
    say(host, "LEFT IN MAINTENANCE: no previous version to go back to");
    report.result = "FAILED, LEFT IN MAINT";
    return;
  }
  say(host, fmt::format("rolling back to {}", plan.from));
  auto back = [&]() -> Expected<void> {
    TRY(set_state_all(host, ServerState::maint));
    TRY(change_version(host, plan.from));
    TRY(set_state_all(host, ServerState::ready));
    TRY(journal_step(host, host_state::ready));
    TRY(confirm_up(host));
    return {};
  }();
  if (back) {
    (void)journal_step(host, host_state::restored);
    say(host, fmt::format("back in service on {}", plan.from));
    report.result = fmt::format("failed, restored {}", plan.from);
    return;
  }
  // It may have been set ready before UP failed: keep it out of traffic.
  for (size_t i = 0; i < m_deps.load_balancers.size(); ++i) {
    (void)m_deps.load_balancers[i]->set_state(m_fleet.load_balancers[i].backend, host.name,
                                              ServerState::maint);
  }
  (void)journal_step(host, host_state::left_maint);
  say(host, fmt::format("LEFT IN MAINTENANCE: rolling back to {} failed: {}", plan.from,
                        back.error().message()));
  report.result = "FAILED, LEFT IN MAINT";
}

bool Engine::process_host(const HostPlan& plan, HostReport& report) {
  const HostSpec& host = *plan.host;
  const bool drain = m_fleet.rollout.drain;
  auto begin = m_deps.clock.now();
  say(host, fmt::format("{} -> {}", or_none(plan.from), plan.to));
  if (!drain) {
    say(host, "rollout.drain = false: changed in service, its requests in flight will fail");
  }
  auto drained = [&]() -> Expected<void> {
    if (drain) {
      TRY(set_state_all(host, ServerState::drain));
      TRY(journal_step(host, host_state::drain));
      TRY(wait_drained(host));
    }
    return {};
  }();
  if (!drained) {
    say(host,
        fmt::format("FAILED: {}; putting it back in service unchanged", drained.error().message()));
    auto back = [&]() -> Expected<void> {
      TRY(set_state_all(host, ServerState::ready));
      TRY(confirm_up(host));
      return {};
    }();
    if (back) {
      (void)journal_step(host, host_state::restored);
      report.result = "failed to drain, unchanged";
    } else {
      say(host, fmt::format("LEFT DRAINED: {}", back.error().message()));
      report.result = "FAILED, LEFT DRAINED";
    }
    report.elapsed = elapsed(begin);
    return false;
  }
  auto upgraded = [&]() -> Expected<void> {
    if (drain) {
      TRY(set_state_all(host, ServerState::maint));
      TRY(journal_step(host, host_state::maint));
    }
    TRY(change_version(host, plan.to));
    TRY(journal_step(host, host_state::installed));
    if (drain) {
      TRY(set_state_all(host, ServerState::ready));
      TRY(journal_step(host, host_state::ready));
    }
    TRY(confirm_up(host));
    TRY(journal_step(host, host_state::done));
    return {};
  }();
  if (!upgraded) {
    recover(plan, report, upgraded.error());
    report.elapsed = elapsed(begin);
    return false;
  }
  report.result = m_options.mode == RolloutMode::rollback ? "rolled back" : "upgraded";
  report.elapsed = elapsed(begin);
  say(host, fmt::format("done in {}", format_duration(report.elapsed)));
  return true;
}

void Engine::print_dry_host(const HostPlan& plan) {
  const HostSpec& host = *plan.host;
  auto lb_lines = [&](ServerState state) {
    for (size_t i = 0; i < m_deps.load_balancers.size(); ++i) {
      say(host,
          fmt::format("  {}: {}", m_deps.load_balancers[i]->describe(),
                      set_state_command(m_fleet.load_balancers[i].backend, host.name, state)));
    }
  };
  auto run_line = [&](const std::vector<std::string>& argv, std::string_view suffix = {}) {
    say(host, fmt::format("  run: {}{}", display_command(m_deps.transport.local_argv(host, argv)),
                          suffix));
  };
  const bool drain = m_fleet.rollout.drain;
  say(host, fmt::format("would go {} -> {}", or_none(plan.from), plan.to));
  if (drain) {
    lb_lines(ServerState::drain);
    say(host,
        fmt::format("  wait until its sessions are 0 on every load balancer (at most {}, then {})",
                    format_duration(m_fleet.rollout.drain_timeout),
                    m_fleet.rollout.shutdown_sessions_on_timeout ? "shutdown sessions" : "fail"));
    lb_lines(ServerState::maint);
  } else {
    say(host, "  no drain and no maint (rollout.drain = false): it stays in service, its "
              "requests in flight fail when the app restarts");
  }
  run_line(install_argv(m_fleet.app, plan.to, DownloadOnly::no));
  run_line(restart_argv(m_fleet));
  if (auto active = active_argv(m_fleet)) {
    run_line(*active);
  }
  run_line(installed_argv(m_fleet.app), fmt::format("   (expect ii {})", plan.to));
  const HealthSpec& h = m_fleet.health;
  say(host,
      fmt::format("  health: GET {} expecting status {}{}, {} passes in a row every {}, "
                  "within {}",
                  substitute(h.url, host), h.expect_status,
                  h.expect_body.empty() ? std::string()
                                        : fmt::format(" and body containing '{}'", h.expect_body),
                  h.rise, format_duration(h.interval), format_duration(h.timeout)));
  if (drain) {
    lb_lines(ServerState::ready);
  }
  say(host, "  wait until it is UP on every load balancer");
  say(host, fmt::format("  on failure: the same steps back to {}", or_none(plan.from)));
}

Expected<std::vector<HostPlan>> Engine::preflight(const JournalState& journal) {
  std::vector<std::string> problems;
  auto fail_if_any = [&]() -> Expected<void> {
    if (problems.empty()) {
      return {};
    }
    for (const auto& problem : problems) {
      note(fmt::format("preflight: {}", problem));
    }
    return make_error("preflight failed ({} problem{}), nothing was changed: {}", problems.size(),
                      problems.size() == 1 ? "" : "s", join(problems, "; "));
  };

  // Load balancers: every host known to every one, and who is UP.
  std::vector<size_t> up_counts;
  std::vector<std::map<std::string, ServerStatus>> lb_servers(m_deps.load_balancers.size());
  for (size_t i = 0; i < m_deps.load_balancers.size(); ++i) {
    const std::string& backend = m_fleet.load_balancers[i].backend;
    LoadBalancer& lb = *m_deps.load_balancers[i];
    auto servers = lb.servers(backend);
    if (!servers) {
      problems.push_back(servers.error().message());
      continue;
    }
    size_t up = 0;
    for (const auto& server : *servers) {
      up += server.up() ? 1 : 0;
      lb_servers[i][server.name] = server;
    }
    up_counts.push_back(up);
    note(fmt::format("{}: backend {} has {} servers, {} UP", lb.describe(), backend,
                     servers->size(), up));
    if (std::string route = lb.route("COMMAND"); dry() && !route.empty()) {
      note(fmt::format("{}: each command is sent with: {}", lb.describe(), route));
    }
    for (const auto& host : m_fleet.hosts) {
      if (lb_servers[i].find(host.name) == lb_servers[i].end()) {
        problems.push_back(
            fmt::format("{}: backend {} has no server {}", lb.describe(), backend, host.name));
      }
    }
  }
  for (const auto& host : m_fleet.hosts) {
    auto result = remote(host, reachable_argv(), k_probe_timeout);
    if (!result || !result->ok()) {
      std::string why =
          !result ? result.error().message()
          : result->timed_out
              ? fmt::format("no answer within {}", format_duration(k_probe_timeout))
              : fmt::format("exit status {}: {}", result->exit_code, result->last_line());
      problems.push_back(fmt::format("{}: not reachable: {}", host.name, why));
    }
  }
  TRY(fail_if_any());

  if (dry()) {
    note(fmt::format("dry run: not running on each host: {}", display_command(update_argv())));
  } else {
    for (const auto& host : m_fleet.hosts) {
      say(host, display_command(update_argv()));
      if (auto updated = remote_ok(host, update_argv(), k_update_timeout); !updated) {
        problems.push_back(fmt::format("{}: {}", host.name, updated.error().message()));
      }
    }
    TRY(fail_if_any());
  }

  if (m_options.mode == RolloutMode::upgrade && m_version.empty()) {
    const HostSpec& first = m_fleet.hosts.front();
    TRY_ASSIGN(RemoteResult result, remote(first, madison_argv(m_fleet.app), k_probe_timeout));
    auto newest = newest_version(parse_madison(result.out));
    if (!newest) {
      return make_error("preflight failed, nothing was changed: {}: apt offers no version of {}",
                        first.name, m_fleet.app);
    }
    m_version = *newest;
    note(fmt::format("target version {} (the newest {} offers)", m_version, first.name));
  }

  std::vector<HostPlan> plans;
  for (const auto& host : m_fleet.hosts) {
    HostPlan plan;
    plan.host = &host;
    auto journaled = journal.hosts.find(host.name);
    bool resumed = m_options.resume == ResumeRun::yes && journaled != journal.hosts.end();
    auto query = remote(host, installed_argv(m_fleet.app), k_probe_timeout);
    InstalledPackage installed =
        query ? parse_installed(query->out, query->exit_code) : InstalledPackage{};
    if (m_options.mode == RolloutMode::rollback) {
      plan.to = journaled != journal.hosts.end() ? journaled->second.from : "";
      plan.from = installed.version;
      if (plan.to.empty()) {
        problems.push_back(fmt::format("{}: the journal records no previous version", host.name));
        continue;
      }
    } else {
      plan.to = resumed && !journaled->second.to.empty() ? journaled->second.to : m_version;
      plan.from = resumed ? journaled->second.from : installed.version;
    }
    auto madison = remote(host, madison_argv(m_fleet.app), k_probe_timeout);
    std::vector<std::string> offered =
        madison ? parse_madison(madison->out) : std::vector<std::string>{};
    if (std::find(offered.begin(), offered.end(), plan.to) == offered.end()) {
      problems.push_back(fmt::format("{}: apt offers no {}={} (offers: {})", host.name, m_fleet.app,
                                     plan.to, offered.empty() ? "none" : join(offered, ", ")));
      continue;
    }
    if (!plan.from.empty() &&
        std::find(offered.begin(), offered.end(), plan.from) == offered.end()) {
      say(host, fmt::format("warning: apt no longer offers the current version {}: a failure "
                            "could not go back to it",
                            plan.from));
    }
    bool up_everywhere = true;
    for (const auto& servers : lb_servers) {
      auto it = servers.find(host.name);
      up_everywhere = up_everywhere && it != servers.end() && it->second.up();
    }
    bool left_out = journaled != journal.hosts.end() && out_of_service(journaled->second.state);
    plan.skip = installed.installed && installed.version == plan.to && up_everywhere && !left_out;
    plan.in_rotation = up_everywhere;
    say(host, fmt::format("reachable, {} {} installed, apt offers {}{}", m_fleet.app,
                          or_none(installed.version), plan.to,
                          plan.skip ? ": already there, skipped" : ""));
    plans.push_back(std::move(plan));
  }
  TRY(fail_if_any());

  size_t changing = 0;
  for (const auto& plan : plans) {
    if (plan.skip) {
      continue;
    }
    ++changing;
    auto download = install_argv(m_fleet.app, plan.to, DownloadOnly::yes);
    if (dry()) {
      say(*plan.host, fmt::format("dry run: not running {}", display_command(download)));
      continue;
    }
    say(*plan.host, fmt::format("download {}={}", m_fleet.app, plan.to));
    if (auto downloaded = remote_ok(*plan.host, download, k_install_timeout); !downloaded) {
      problems.push_back(fmt::format("{}: {}", plan.host->name, downloaded.error().message()));
    }
  }
  // A host already out of rotation (one a killed run left in maint) costs no
  // capacity to take and goes first (run()), so the backend is counted with
  // it back: else min_healthy would forbid resuming the very run that took it out.
  std::vector<size_t> counts_after = up_counts;
  for (size_t i = 0; i < counts_after.size() && i < lb_servers.size(); ++i) {
    for (const auto& plan : plans) {
      auto it = lb_servers[i].find(plan.host->name);
      counts_after[i] += !plan.skip && it != lb_servers[i].end() && !it->second.up() ? 1 : 0;
    }
  }
  m_parallel = capacity(counts_after, m_fleet.rollout.min_healthy);
  if (m_deps.load_balancers.empty()) {
    m_parallel = 1;
  }
  if (changing > 0 && m_parallel == 0) {
    problems.push_back(
        fmt::format("the backend has {} servers UP and min_healthy is {}: no "
                    "server can be taken out of service",
                    up_counts.empty() ? 0 : *std::min_element(up_counts.begin(), up_counts.end()),
                    m_fleet.rollout.min_healthy));
  }
  TRY(fail_if_any());
  return plans;
}

Expected<bool> Engine::in_rotation(const HostSpec& host) {
  for (size_t i = 0; i < m_deps.load_balancers.size(); ++i) {
    TRY_ASSIGN(auto servers, m_deps.load_balancers[i]->servers(m_fleet.load_balancers[i].backend));
    auto it = std::find_if(servers.begin(), servers.end(),
                           [&](const ServerStatus& s) { return s.name == host.name; });
    if (it == servers.end() || !it->up()) {
      return false;
    }
  }
  return true;
}

Expected<size_t> Engine::live_capacity() {
  if (m_deps.load_balancers.empty()) {
    return 1;
  }
  std::vector<size_t> up_counts;
  for (size_t i = 0; i < m_deps.load_balancers.size(); ++i) {
    TRY_ASSIGN(auto servers, m_deps.load_balancers[i]->servers(m_fleet.load_balancers[i].backend));
    up_counts.push_back(static_cast<size_t>(std::count_if(
        servers.begin(), servers.end(), [](const ServerStatus& s) { return s.up(); })));
  }
  return capacity(up_counts, m_fleet.rollout.min_healthy);
}

RolloutReport Engine::run() {
  const std::string& app = m_fleet.app;
  std::optional<RolloutLock> lock;
  if (!dry()) {
    auto attempt = RolloutLock::try_acquire(m_options.state_dir / (app + ".lock"));
    if (!attempt) {
      return stop(Outcome::preflight_failed, attempt.error().message());
    }
    if (!attempt->lock) {
      return stop(Outcome::locked, fmt::format("another rollout of {} holds {} ({})", app,
                                               (m_options.state_dir / (app + ".lock")).string(),
                                               attempt->holder.describe()));
    }
    if (attempt->stale) {
      note(fmt::format("warning: a previous rollout ({}{}) ended without releasing the lock",
                       attempt->stale->describe(),
                       attempt->stale_pid_dead ? ", no longer running" : ""));
    }
    lock = std::move(attempt->lock);
  }
  JournalState journal;
  if (!m_options.state_dir.empty()) {
    auto read = read_journal(m_options.state_dir / (app + ".journal"));
    if (!read) {
      return stop(Outcome::preflight_failed, read.error().message());
    }
    journal = std::move(*read);
  }
  std::vector<std::string> left_out;
  for (const auto& [name, host] : journal.hosts) {
    if (out_of_service(host.state)) {
      left_out.push_back(fmt::format("{} ({})", name, host.state));
    }
  }
  bool unfinished = !journal.empty && !journal.ended;
  if (m_options.resume == ResumeRun::yes) {
    if (!unfinished) {
      return stop(Outcome::usage, fmt::format("no unfinished rollout of {} to resume", app));
    }
    if (!m_options.version.empty() && m_options.version != journal.version &&
        journal.mode == RolloutMode::upgrade) {
      return stop(Outcome::usage, fmt::format("the unfinished rollout targets {}, not {}",
                                              journal.version, m_options.version));
    }
    note(fmt::format("resuming rollout {} of {}; hosts it left out of service: {}", journal.run,
                     app, left_out.empty() ? "none" : join(left_out, ", ")));
  } else if (unfinished) {
    note(fmt::format("warning: rollout {} of {} did not finish; hosts it left out of service: {} "
                     "(--resume continues it)",
                     journal.run, app, left_out.empty() ? "none" : join(left_out, ", ")));
  }
  if (m_options.resume == ResumeRun::yes) {
    m_options.mode = journal.mode;
  }
  if (m_options.mode == RolloutMode::rollback && journal.empty) {
    return stop(Outcome::usage, fmt::format("no journaled rollout of {} to roll back", app));
  }
  m_version = m_options.resume == ResumeRun::yes ? journal.version : m_options.version;

  auto planned = preflight(journal);
  if (!planned) {
    return stop(Outcome::preflight_failed, planned.error().message());
  }
  std::vector<HostPlan>& plans = *planned;

  std::vector<size_t> pending;
  for (size_t i = 0; i < plans.size(); ++i) {
    HostReport entry{plans[i].host->name, plans[i].from, plans[i].to,
                     plans[i].skip ? "skipped" : (dry() ? "planned" : "not reached"),
                     milliseconds(0)};
    m_report.hosts.push_back(entry);
    if (!plans[i].skip) {
      pending.push_back(i);
    }
  }
  // Hosts already out of rotation first: they take no capacity, and the
  // backend gets them back soonest.
  std::stable_partition(pending.begin(), pending.end(),
                        [&](size_t i) { return !plans[i].in_rotation; });
  if (!dry()) {
    std::map<std::string, JournalHost> hosts;
    for (const auto& plan : plans) {
      hosts[plan.host->name] = JournalHost{plan.from, plan.to, ""};
    }
    auto journal_file = Journal::open(m_options.state_dir / (app + ".journal"), new_run_id());
    if (!journal_file) {
      return stop(Outcome::preflight_failed, journal_file.error().message());
    }
    m_journal.emplace(std::move(*journal_file));
    auto started = m_journal->start(app, m_options.mode, m_version, hosts,
                                    m_options.resume == ResumeRun::yes ? Journal::Resume::yes
                                                                       : Journal::Resume::no);
    if (!started) {
      return stop(Outcome::preflight_failed, started.error().message());
    }
    for (const auto& plan : plans) {
      if (plan.skip) {
        (void)m_journal->step(plan.host->name, host_state::skipped);
      }
    }
  }

  auto batches = plan_batches(m_fleet.rollout.batches, pending.size(), m_parallel);
  std::vector<std::string> sizes;
  for (const auto& batch : batches) {
    size_t n = 0;
    for (const auto& wave : batch.waves) {
      n += wave.size();
    }
    sizes.push_back(std::to_string(n));
  }
  note(fmt::format("plan: {} {} on {} of {} hosts in {} batches [{}], at most {} at a time "
                   "(min_healthy {})",
                   m_options.mode == RolloutMode::rollback ? "roll back" : "upgrade to",
                   m_options.mode == RolloutMode::rollback ? app : app + " " + m_version,
                   pending.size(), plans.size(), batches.size(), join(sizes, ", "), m_parallel,
                   m_fleet.rollout.min_healthy));
  if (dry()) {
    for (size_t b = 0; b < batches.size(); ++b) {
      note(fmt::format("batch {}/{}", b + 1, batches.size()));
      for (const auto& wave : batches[b].waves) {
        for (size_t index : wave) {
          print_dry_host(plans[pending[index]]);
        }
      }
    }
    note("dry run: nothing was changed");
    return stop(Outcome::done, "");
  }

  std::atomic<int> failed{0};
  size_t done = 0;
  bool stopped = false;
  for (size_t b = 0; b < batches.size() && !stopped; ++b) {
    std::vector<std::string> names;
    for (const auto& wave : batches[b].waves) {
      for (size_t index : wave) {
        names.push_back(plans[pending[index]].host->name);
      }
    }
    note(fmt::format("batch {}/{}: {}", b + 1, batches.size(), join(names, " ")));
    for (const auto& wave : batches[b].waves) {
      if (stopped) {
        break;
      }
      for (size_t start = 0; start < wave.size();) {
        // As many hosts as the backends can spare right now; a host already
        // out of rotation takes none.
        auto cap = live_capacity();
        size_t end = start;
        for (size_t taken = 0; cap && end < wave.size(); ++end) {
          auto serving = in_rotation(*plans[pending[wave[end]]].host);
          if (!serving || *serving) {
            if (taken == *cap) {
              break;
            }
            ++taken;
          }
        }
        if (end == start) {
          note(fmt::format("stopping: {}",
                           cap ? fmt::format("fewer than min_healthy {} + 1 servers UP, no server "
                                             "can be taken out",
                                             m_fleet.rollout.min_healthy)
                               : cap.error().message()));
          failed++;
          stopped = true;
          break;
        }
        auto work = [&](size_t index) {
          size_t plan_index = pending[index];
          if (!process_host(plans[plan_index], m_report.hosts[plan_index])) {
            failed++;
          }
        };
        if (end - start == 1) {
          work(wave[start]);
        } else {
          std::vector<std::thread> threads;
          for (size_t k = start; k < end; ++k) {
            threads.emplace_back(work, wave[k]);
          }
          for (auto& thread : threads) {
            thread.join();
          }
        }
        done += end - start;
        start = end;
        if (failed > m_fleet.rollout.max_failed_hosts) {
          stopped = true;
          break;
        }
      }
    }
    note(fmt::format("batch {}/{} {}: {} of {} hosts processed, {} failed", b + 1, batches.size(),
                     stopped ? "stopped" : "done", done, pending.size(), failed.load()));
  }
  bool ok = failed == 0;
  (void)m_journal->end(ok ? "done" : "failed");
  if (!ok) {
    return stop(Outcome::failed, fmt::format("{} host{} failed; the rollout stopped", failed.load(),
                                             failed == 1 ? "" : "s"));
  }
  return stop(Outcome::done, "");
}

} // namespace

RolloutReport run_rollout(const FleetFile& fleet, const RolloutOptions& options,
                          const RolloutDeps& deps) {
  Engine engine(fleet, options, deps);
  return engine.run();
}

std::string format_report_table(const RolloutReport& report) {
  std::vector<std::array<std::string, 5>> rows;
  rows.push_back({"HOST", "OLD", "NEW", "TIME", "RESULT"});
  for (const auto& host : report.hosts) {
    rows.push_back(
        {host.name, or_none(host.from), host.to, format_duration(host.elapsed), host.result});
  }
  std::array<size_t, 5> width{};
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], width[i]) : row[i];
    }
    out += line + "\n";
  }
  return out;
}

int exit_code(Outcome outcome) {
  switch (outcome) {
  case Outcome::done:
    return 0;
  case Outcome::failed:
    return 1;
  case Outcome::usage:
    return 2;
  case Outcome::preflight_failed:
    return 3;
  case Outcome::locked:
    return 4;
  }
  return 1;
}

} // namespace aptship::fleet
