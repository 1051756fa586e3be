// `aptship keys ...`: the SSH keys that may push, their access lists and
// the authorized_keys file that sends each of them to `aptship receive`.

#include <cerrno>
#include <cstdio>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/text.hpp"
#include "builder/cli/command.hpp"
#include "builder/receive/app_name.hpp"
#include "builder/receive/app_repo.hpp"
#include "builder/receive/authorized_keys.hpp"
#include "builder/receive/key_store.hpp"
#include "builder/receive/ssh_key.hpp"

namespace aptship::cli {

namespace {

namespace fs = std::filesystem;
using receive::KeyStore;
using receive::PushKey;

constexpr std::string_view k_authorized_keys_help =
    "the authorized_keys file to write (default $APTSHIP_AUTHORIZED_KEYS, else the file used "
    "last time, else ~/.ssh/authorized_keys of the data dir's owner)";

Expected<receive::ReceiveCommand> receive_command(const Context& ctx) {
  TRY_ASSIGN(fs::path binary, receive::self_executable());
  return receive::ReceiveCommand{std::move(binary), fs::absolute(ctx.data_dir().root())};
}

// Rewrites the authorized_keys file for the keys of STORE and records it.
// When the file moved, the old one loses its aptship lines.
Expected<fs::path> sync_authorized_keys(const Context& ctx, KeyStore& store,
                                        const std::string& option) {
  TRY_ASSIGN(receive::ReceiveCommand command, receive_command(ctx));
  TRY_ASSIGN(fs::path file,
             receive::resolve_authorized_keys(option, store.authorized_keys(), command.data_root));
  TRY(receive::write_authorized_keys(file, store.keys(), command));
  const std::optional<fs::path> previous = store.authorized_keys();
  std::error_code ec;
  if (previous && *previous != file && fs::exists(*previous, ec)) {
    TRY(receive::write_authorized_keys(*previous, {}, command));
  }
  store.set_authorized_keys(file);
  return file;
}

Expected<std::string> read_key_file(const std::string& path) {
  if (path == "-") {
    return Fd(dup(STDIN_FILENO)).read_all();
  }
  return read_file(path);
}

std::string access_text(const PushKey& key) {
  if (key.admin == receive::Admin::yes) {
    return "admin (all apps)";
  }
  return key.apps.empty() ? "no apps" : fmt::format("apps: {}", fmt::join(key.apps, ", "));
}

struct AddOptions {
  std::string name;
  std::string key_file;
  bool admin = false;
  std::vector<std::string> apps;
  std::string authorized_keys;
};

Expected<void> run_add(const Context& ctx, const AddOptions& options) {
  TRY(receive::validate_key_name(options.name));
  for (const std::string& app : options.apps) {
    TRY(receive::validate_app_name(app));
  }
  TRY_ASSIGN(std::string text, read_key_file(options.key_file).map_error([&](const Error& e) {
    return e.context(fmt::format("reading the key {}", options.key_file));
  }));
  TRY_ASSIGN(receive::PublicKey parsed,
             receive::parse_public_key(text).map_error(
                 [&](const Error& e) { return e.context(options.key_file); }));
  TRY_ASSIGN(std::string fingerprint,
             receive::key_fingerprint(parsed).map_error(
                 [&](const Error& e) { return e.context(options.key_file); }));
  PushKey key{options.name, std::move(parsed), fingerprint,
              options.admin ? receive::Admin::yes : receive::Admin::no, options.apps};
  fs::path file;
  std::string access;
  TRY(receive::modify_key_store(ctx.data_dir(), [&](KeyStore& store) -> Expected<void> {
    TRY(store.add(key));
    access = access_text(*store.find(key.name));
    TRY_ASSIGN(file, sync_authorized_keys(ctx, store, options.authorized_keys));
    return {};
  }));
  fmt::print("added key {} ({}), {}\nauthorized_keys: {}\n", key.name, fingerprint, access,
             file.string());
  return {};
}

Expected<void> run_remove(const Context& ctx, const std::string& name,
                          const std::string& authorized_keys) {
  fs::path file;
  TRY(receive::modify_key_store(ctx.data_dir(), [&](KeyStore& store) -> Expected<void> {
    TRY(store.remove(name));
    // authorized_keys first: the key stops logging in before the store
    // forgets it, and `receive` refuses unknown keys in any case.
    TRY_ASSIGN(file, sync_authorized_keys(ctx, store, authorized_keys));
    return {};
  }));
  fmt::print("removed key {}\nauthorized_keys: {}\n", name, file.string());
  return {};
}

Expected<void> run_sync(const Context& ctx, const std::string& authorized_keys) {
  fs::path file;
  size_t count = 0;
  TRY(receive::modify_key_store(ctx.data_dir(), [&](KeyStore& store) -> Expected<void> {
    TRY_ASSIGN(file, sync_authorized_keys(ctx, store, authorized_keys));
    count = store.keys().size();
    return {};
  }));
  fmt::print("wrote {} key{} to {}\n", count, count == 1 ? "" : "s", file.string());
  return {};
}

Expected<void> run_list(const Context& ctx, bool json) {
  TRY_ASSIGN(KeyStore store, KeyStore::load(ctx.data_dir()));
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const PushKey& key : store.keys()) {
      out.push_back({{"name", key.name},
                     {"type", key.key.type},
                     {"fingerprint", key.fingerprint},
                     {"admin", key.admin == receive::Admin::yes},
                     {"apps", key.apps}});
    }
    fmt::print("{}\n", out.dump(2));
    return {};
  }
  size_t width = 4;
  for (const PushKey& key : store.keys()) {
    width = std::max(width, key.name.size());
  }
  for (const PushKey& key : store.keys()) {
    fmt::print("{:<{}}  {}  {}\n", key.name, width, key.fingerprint, access_text(key));
  }
  return {};
}

enum class Grant { allow, deny };

Expected<void> run_grant(const Context& ctx, Grant grant, const std::string& name,
                         const std::vector<std::string>& apps) {
  std::string access;
  TRY(receive::modify_key_store(ctx.data_dir(), [&](KeyStore& store) -> Expected<void> {
    for (const std::string& app : apps) {
      TRY(grant == Grant::allow ? store.allow(name, app) : store.deny(name, app));
    }
    access = access_text(*store.find(name));
    return {};
  }));
  fmt::print("key {}: {}\n", name, access);
  return {};
}

} // namespace

void add_keys_commands(CLI::App& app, Context& ctx) {
  CLI::App* keys = app.add_subcommand(
      "keys", "the SSH keys that may push (each logs in to `aptship receive` only)");
  keys->require_subcommand(1);

  auto add_options = std::make_shared<AddOptions>();
  CLI::App* add = keys->add_subcommand(
      "add", "register a public key and write its authorized_keys line; an admin key may push "
             "to every app and create apps, another key only to the apps it lists (--app), "
             "which it may also create by pushing");
  add->add_option("NAME", add_options->name, "the key's name: letters, digits, . _ @ -")
      ->required();
  add->add_option("KEYFILE", add_options->key_file, "the public key (.pub file), - for stdin")
      ->required();
  add->add_flag("--admin", add_options->admin, "may push to every app and create apps");
  add->add_option("--app", add_options->apps, "an app this key may push to (repeatable)");
  add->add_option("--authorized-keys", add_options->authorized_keys,
                  std::string(k_authorized_keys_help));
  set_action(add, ctx, [&ctx, add_options] { return run_add(ctx, *add_options); });

  auto remove_name = std::make_shared<std::string>();
  auto remove_file = std::make_shared<std::string>();
  CLI::App* remove =
      keys->add_subcommand("remove", "forget a key and drop its authorized_keys line");
  remove->add_option("NAME", *remove_name, "the key's name")->required();
  remove->add_option("--authorized-keys", *remove_file, std::string(k_authorized_keys_help));
  set_action(remove, ctx, [&ctx, remove_name, remove_file] {
    return run_remove(ctx, *remove_name, *remove_file);
  });

  auto json = std::make_shared<bool>(false);
  CLI::App* list = keys->add_subcommand("list", "the keys: name, fingerprint and access");
  list->add_flag("--json", *json, "as a JSON array");
  set_action(list, ctx, [&ctx, json] { return run_list(ctx, *json); });

  for (Grant grant : {Grant::allow, Grant::deny}) {
    auto name = std::make_shared<std::string>();
    auto apps = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = grant == Grant::allow
                        ? keys->add_subcommand("allow", "let a key push to (and create) more apps")
                        : keys->add_subcommand("deny", "take apps away from a key's access list");
    cmd->add_option("NAME", *name, "the key's name")->required();
    cmd->add_option("APP", *apps, "app names")->required();
    set_action(cmd, ctx, [&ctx, grant, name, apps] { return run_grant(ctx, grant, *name, *apps); });
  }

  auto sync_file = std::make_shared<std::string>();
  CLI::App* sync = keys->add_subcommand(
      "sync", "rewrite the authorized_keys lines (after moving aptship or the data dir)");
  sync->add_option("--authorized-keys", *sync_file, std::string(k_authorized_keys_help));
  set_action(sync, ctx, [&ctx, sync_file] { return run_sync(ctx, *sync_file); });
}

} // namespace aptship::cli
