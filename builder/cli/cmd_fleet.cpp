// `aptship fleet-upgrade` and the `fleet-upgrade` tool: a rolling upgrade of
// an app over the hosts of a fleet file, host by host behind the load
// balancers.

#include <cstdio>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <unistd.h>

#include "aptrepo/fleet/fleet_file.hpp"
#include "aptrepo/fleet/load_balancer.hpp"
#include "aptrepo/fleet/rollout.hpp"
#include "builder/cli/command.hpp"

namespace aptship::cli {

namespace {

constexpr const char* k_exit_codes = R"(Exit codes:
  0  done: every host runs its target version and is in service
  1  the rollout failed: the failing host was put back on its previous version
     (or left in maintenance, as printed) and the rollout stopped
  2  usage error or invalid fleet file
  3  preflight failed: nothing was changed
  4  another rollout of the app holds the lock)";

struct FleetArgs {
  std::string app;
  std::string version;
  std::string fleet;
  bool dry_run = false;
  bool resume = false;
  bool rollback = false;
};

void add_options(CLI::App& cmd, FleetArgs& args) {
  cmd.add_option("APP", args.app, "the package to roll out (the fleet file's app)")->required();
  cmd.add_option("VERSION", args.version,
                 "the version to install (default: the newest the first host's apt offers)");
  cmd.add_option("--fleet", args.fleet, "the fleet file (FLEET.toml)")->required();
  cmd.add_flag("--dry-run", args.dry_run,
               "print the plan: every host, load balancer command and remote command; change "
               "nothing");
  cmd.add_flag("--resume", args.resume, "continue the unfinished rollout of APP from its journal");
  cmd.add_flag("--rollback", args.rollback,
               "put every host back on the version it had before the last rollout");
  cmd.footer(k_exit_codes);
}

void print_line(std::string_view line) {
  fmt::print(stdout, "{}\n", line);
  std::fflush(stdout);
}

int fail(int code, std::string_view message) {
  std::fflush(stdout);
  fmt::print(stderr, "fleet-upgrade: error: {}\n", message);
  return code;
}

int run_fleet(const FleetArgs& args, const std::string& data_option) {
  if (args.rollback && (args.resume || !args.version.empty())) {
    return fail(2, "--rollback takes no VERSION and no --resume (the journal says where each "
                   "host goes back to)");
  }
  auto fleet = fleet::load_fleet_file(args.fleet);
  if (!fleet) {
    return fail(2, fleet.error().message());
  }
  if (fleet->app != args.app) {
    return fail(
        2, fmt::format("{} is the fleet file for {}, not {}", args.fleet, fleet->app, args.app));
  }
  std::filesystem::path state_dir = DataDir::resolve(data_option).root() / "fleet";
  std::unique_ptr<fleet::Transport> transport;
  if (fleet->transport.kind == fleet::TransportKind::exec) {
    transport = std::make_unique<fleet::ExecTransport>(fleet->transport.command);
  } else {
    // A unix socket path has ~108 bytes; ssh adds a 40-byte hash to it.
    std::filesystem::path control = std::filesystem::absolute(state_dir / "ssh");
    if (control.string().size() > 60) {
      control = std::filesystem::temp_directory_path() / fmt::format("aptship-ssh-{}", ::getuid());
    }
    transport = std::make_unique<fleet::SshTransport>(fleet->transport.target, control);
  }
  std::vector<std::unique_ptr<fleet::LoadBalancer>> owned;
  std::vector<fleet::LoadBalancer*> load_balancers;
  for (const auto& spec : fleet->load_balancers) {
    if (spec.host) {
      owned.push_back(
          std::make_unique<fleet::HaproxyRuntime>(std::make_unique<fleet::TransportChannel>(
              *transport, *spec.host, spec.socket, std::chrono::seconds(10))));
    } else {
      owned.push_back(std::make_unique<fleet::HaproxyRuntime>(spec.socket));
    }
    load_balancers.push_back(owned.back().get());
  }
  fleet::HttpHealthChecker health;
  fleet::SteadyClock clock;
  fleet::RolloutDeps deps{*transport, load_balancers, health, clock, print_line};
  fleet::RolloutOptions options;
  options.mode = args.rollback ? fleet::RolloutMode::rollback : fleet::RolloutMode::upgrade;
  options.version = args.version;
  options.dry_run = args.dry_run ? fleet::DryRun::yes : fleet::DryRun::no;
  options.resume = args.resume ? fleet::ResumeRun::yes : fleet::ResumeRun::no;
  options.state_dir = state_dir;
  fleet::RolloutReport report = fleet::run_rollout(*fleet, options, deps);
  if (!report.hosts.empty()) {
    fmt::print(stdout, "\n{}", fleet::format_report_table(report));
  }
  int code = fleet::exit_code(report.outcome);
  if (code != 0) {
    return fail(code, report.message);
  }
  return 0;
}

} // namespace

void add_fleet_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<FleetArgs>();
  CLI::App* cmd = app.add_subcommand(
      "fleet-upgrade", "roll APP out host by host behind the load balancers (zero downtime)");
  add_options(*cmd, *args);
  cmd->callback([&ctx, args] { ctx.exit_code = run_fleet(*args, ctx.data_option); });
}

int run_fleet_upgrade(int argc, char** argv) {
  FleetArgs args;
  std::string data_option;
  CLI::App app{"fleet-upgrade: roll APP out host by host behind the load balancers, draining each "
               "host, health-gating it and putting it back before the next",
               "fleet-upgrade"};
  app.add_option("--data", data_option, "data dir (default $APTSHIP_DATA, else ./aptship-data)");
  add_options(app, args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return run_fleet(args, data_option);
}

} // namespace aptship::cli
