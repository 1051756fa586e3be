// `aptship apps ...`: the git repository each app is pushed to.

#include <climits>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/cli/command.hpp"
#include "builder/receive/app_repo.hpp"

namespace aptship::cli {

namespace {

namespace fs = std::filesystem;

std::string host_name() {
  char buffer[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') {
    return "localhost";
  }
  return buffer;
}

// The user pushes log in as: the owner of the data dir, whose
// authorized_keys `aptship keys add` writes by default.
std::string ssh_user(const fs::path& data_root) {
  struct stat st {};
  if (::stat(data_root.c_str(), &st) == 0) {
    if (const struct passwd* user = ::getpwuid(st.st_uid); user != nullptr) {
      return user->pw_name;
    }
  }
  return "aptship";
}

Expected<void> run_create(const Context& ctx, const std::string& name) {
  const DataDir data = ctx.data_dir();
  std::error_code ec;
  const bool existed = fs::exists(receive::app_repo_path(data, name), ec);
  TRY_ASSIGN(fs::path binary, receive::self_executable());
  TRY_ASSIGN(fs::path repo, receive::create_app_repo(data, name, binary));
  const fs::path shown = fs::absolute(repo).lexically_normal();
  fmt::print("{} {}\n", existed ? "app exists, hooks rewritten:" : "created app", name);
  fmt::print("  push from this machine: git push {} main\n", shown.string());
  fmt::print("  push over ssh:          git push {}@{}:{}.git main\n",
             ssh_user(fs::absolute(data.root())), host_name(), name);
  return {};
}

Expected<void> run_list(const Context& ctx, bool json) {
  const DataDir data = ctx.data_dir();
  TRY_ASSIGN(std::vector<std::string> apps, receive::list_apps(data));
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const std::string& app : apps) {
      out.push_back(
          {{"name", app},
           {"repository",
            fs::absolute(receive::app_repo_path(data, app)).lexically_normal().string()}});
    }
    fmt::print("{}\n", out.dump(2));
    return {};
  }
  for (const std::string& app : apps) {
    fmt::print("{}\n", app);
  }
  return {};
}

Expected<void> run_destroy(const Context& ctx, const std::string& name, bool force) {
  if (!force) {
    return make_error("destroying app {} deletes its git repository and history: add --force",
                      name);
  }
  TRY(receive::destroy_app_repo(ctx.data_dir(), name));
  fmt::print("destroyed the repository of app {} (its published packages stay)\n", name);
  return {};
}

} // namespace

void add_apps_commands(CLI::App& app, Context& ctx) {
  CLI::App* apps = app.add_subcommand("apps", "the git repositories apps are pushed to");
  apps->require_subcommand(1);

  auto create_name = std::make_shared<std::string>();
  CLI::App* create = apps->add_subcommand(
      "create", "create the bare repository DATA/git/NAME.git with its hooks (again: rewrite the "
                "hooks) and print the push URLs");
  create->add_option("NAME", *create_name, "the app name: [a-z0-9][a-z0-9-]{1,62}")->required();
  set_action(create, ctx, [&ctx, create_name] { return run_create(ctx, *create_name); });

  auto json = std::make_shared<bool>(false);
  CLI::App* list = apps->add_subcommand("list", "the apps that have a repository");
  list->add_flag("--json", *json, "as a JSON array");
  set_action(list, ctx, [&ctx, json] { return run_list(ctx, *json); });

  auto destroy_name = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  CLI::App* destroy =
      apps->add_subcommand("destroy", "delete an app's repository (not its published packages)");
  destroy->add_option("NAME", *destroy_name, "the app name")->required();
  destroy->add_flag("--force", *force, "really delete it");
  set_action(destroy, ctx,
             [&ctx, destroy_name, force] { return run_destroy(ctx, *destroy_name, *force); });
}

} // namespace aptship::cli
