#include "builder/cli/command.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "aptrepo/core/log.hpp"

namespace aptship::cli {

namespace {

// Run as root on a data dir another user owns (the packaged service's
// /var/lib/aptship), a command becomes that user before it touches
// anything: the files it creates (push keys, app repositories, the package
// database, build logs) stay the service's own, which the service and
// pushes over ssh, running as that user, must read and write.
Expected<void> become_data_owner(const Context& ctx) {
  if (geteuid() != 0) {
    return {};
  }
  const DataDir data = ctx.data_dir();
  struct stat st {};
  if (stat(data.root().c_str(), &st) != 0 || st.st_uid == 0) {
    return {};
  }
  const passwd* pw = getpwuid(st.st_uid);
  const gid_t gid = pw != nullptr ? pw->pw_gid : st.st_gid;
  const int groups = pw != nullptr ? initgroups(pw->pw_name, gid) : setgroups(0, nullptr);
  if (groups != 0 || setgid(gid) != 0 || setuid(st.st_uid) != 0) {
    return errno_error(fmt::format("becoming uid {}, the owner of the data dir {}", st.st_uid,
                                   data.root().string()),
                       errno);
  }
  if (pw != nullptr && pw->pw_dir != nullptr) {
    setenv("HOME", pw->pw_dir, 1);
  }
  log::debug("running as uid {}, the owner of {}", st.st_uid, data.root().string());
  return {};
}

} // namespace

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
    auto result = become_data_owner(ctx).and_then(body);
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
