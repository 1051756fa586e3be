#include "builder/cli/command.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "aptrepo/core/log.hpp"

namespace aptship::cli {

void set_action(CLI::App* cmd, Context& ctx, std::function<Expected<void>()> body) {
  cmd->callback([&ctx, body = std::move(body)] {
    if (!ctx.log_level.empty()) {
      log::Level level{};
      if (!log::parse_level(ctx.log_level, level)) {
        fmt::print(stderr, "aptship: error: --log-level: unknown level '{}'\n", ctx.log_level);
        ctx.exit_code = 2;
        return;
      }
      log::set_level(level);
    }
    auto result = body();
    if (!result) {
      fmt::print(stderr, "aptship: error: {}\n", result.error().message());
      ctx.exit_code = 1;
    }
  });
}

int run(int argc, char** argv) {
  Context ctx;
  CLI::App app{"aptship: git push to signed .deb, signed apt repository and rolling upgrades",
               "aptship"};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--data", ctx.data_option,
                 "data dir (default $APTSHIP_DATA, else ./aptship-data)");
  app.add_option("--log-level", ctx.log_level, "debug, info, warning, error or off");
  app.set_version_flag("--version", "aptship 0.1.0");

  add_init_command(app, ctx);
  add_key_commands(app, ctx);
  add_pack_command(app, ctx);
  add_repo_commands(app, ctx);
  add_serve_command(app, ctx);
  add_keys_commands(app, ctx);
  add_apps_commands(app, ctx);
  add_receive_commands(app, ctx);
  add_build_command(app, ctx);
  add_fleet_command(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return ctx.exit_code;
}

} // namespace aptship::cli
