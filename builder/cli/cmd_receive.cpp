// `aptship receive`, the forced command of every push key, and the hidden
// `aptship hook pre-receive APP` that the app repositories' hooks run.

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include "builder/cli/command.hpp"
#include "builder/receive/app_repo.hpp"
#include "builder/receive/hook.hpp"
#include "builder/receive/key_store.hpp"
#include "builder/receive/receive.hpp"
#include "builder/receive/ssh_command.hpp"

namespace aptship::cli {

namespace {

namespace fs = std::filesystem;

Expected<void> run_receive(const Context& ctx, const std::string& key_name) {
  const char* original = std::getenv("SSH_ORIGINAL_COMMAND");
  TRY_ASSIGN(receive::GitRequest request,
             receive::parse_ssh_command(
                 original == nullptr ? std::nullopt : std::optional<std::string_view>(original)));
  const DataDir data(fs::absolute(ctx.data_dir().root()));
  TRY_ASSIGN(receive::KeyStore store, receive::KeyStore::load(data));
  const fs::path repo = receive::app_repo_path(data, request.app);
  std::error_code ec;
  const receive::RepoState state =
      fs::exists(repo, ec) ? receive::RepoState::exists : receive::RepoState::missing;
  TRY_ASSIGN(receive::ReceiveAction action, receive::authorize(store, key_name, request, state));
  if (action == receive::ReceiveAction::create_then_serve) {
    TRY_ASSIGN(fs::path binary, receive::self_executable());
    TRY(receive::create_app_repo(data, request.app, binary));
  }
  std::fflush(stdout);
  return tl::unexpected<Error>(receive::exec_git(request.service, repo, key_name));
}

// Who pushed: the key receive ran for, else the local user.
std::string pusher() {
  if (const char* key = std::getenv(receive::k_pusher_env); key != nullptr && *key != '\0') {
    return key;
  }
  if (const struct passwd* user = ::getpwuid(::getuid()); user != nullptr) {
    return fmt::format("local:{}", user->pw_name);
  }
  return fmt::format("local:uid {}", ::getuid());
}

Expected<void> run_pre_receive(Context& ctx, const std::string& app) {
  const DataDir data(fs::absolute(ctx.data_dir().root()));
  // git shows the hook's stderr to the pusher as it comes ("remote: ...").
  receive::OutputSink output = [](std::string_view line) {
    fmt::print(stderr, "{}\n", line);
    std::fflush(stderr);
  };
  return receive::run_pre_receive(data, app, pusher(), std::cin, push_build_function(ctx), output);
}

} // namespace

void add_receive_commands(CLI::App& app, Context& ctx) {
  auto key = std::make_shared<std::string>();
  CLI::App* receive_cmd =
      app.add_subcommand("receive", "the ssh forced command of push keys: git push and fetch only "
                                    "($SSH_ORIGINAL_COMMAND)");
  receive_cmd->add_option("--key", *key, "the name of the key that logged in")->required();
  set_action(receive_cmd, ctx, [&ctx, key] { return run_receive(ctx, *key); });

  CLI::App* hook = app.add_subcommand("hook", "git hooks of the app repositories");
  hook->group(""); // run by git, not by people
  hook->require_subcommand(1);
  auto hook_app = std::make_shared<std::string>();
  CLI::App* pre_receive =
      hook->add_subcommand("pre-receive", "build the pushed deploy branches of APP");
  pre_receive->add_option("APP", *hook_app, "the app")->required();
  set_action(pre_receive, ctx, [&ctx, hook_app] { return run_pre_receive(ctx, *hook_app); });
}

} // namespace aptship::cli
