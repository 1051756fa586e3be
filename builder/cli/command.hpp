#pragma once

// What every `aptship` command shares: the global options and the way a
// command's result becomes a message and an exit code.

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "aptrepo/core/data_dir.hpp"
#include "aptrepo/core/error.hpp"
#include "builder/receive/hook.hpp"

namespace aptship::cli {

struct Context {
  std::string data_option; // --data
  std::string log_level;   // --log-level
  int exit_code = 0;

  // The data dir chosen by --data / $APTSHIP_DATA / ./aptship-data.
  [[nodiscard]] DataDir data_dir() const { return DataDir::resolve(data_option); }
};

// Makes BODY the action of CMD: an error is printed to stderr as
// "aptship: error: MESSAGE" and the exit code becomes 1.
void set_action(CLI::App* cmd, Context& ctx, std::function<Expected<void>()> body);

// Command groups, one file each (cmd_<group>.cpp).
void add_init_command(CLI::App& app, Context& ctx);
void add_key_commands(CLI::App& app, Context& ctx);
void add_pack_command(CLI::App& app, Context& ctx);
void add_repo_commands(CLI::App& app, Context& ctx);
void add_serve_command(CLI::App& app, Context& ctx);
void add_keys_commands(CLI::App& app, Context& ctx);    // push keys: keys add/remove/list/...
void add_apps_commands(CLI::App& app, Context& ctx);    // apps create/list/destroy
void add_receive_commands(CLI::App& app, Context& ctx); // receive, and the hidden hook
void add_build_command(CLI::App& app, Context& ctx);    // build SRC without a push
void add_fleet_command(CLI::App& app, Context& ctx);    // fleet-upgrade (cmd_fleet.cpp)

// The build a push of a deploy branch runs from the pre-receive hook
// (cmd_build.cpp).
[[nodiscard]] receive::BuildFn push_build_function(Context& ctx);

// Parses ARGV, runs the chosen command and returns the process exit code.
int run(int argc, char** argv);
// The `fleet-upgrade` tool's main: its own options, exit codes 0-4 (cmd_fleet.cpp).
int run_fleet_upgrade(int argc, char** argv);

} // namespace aptship::cli
