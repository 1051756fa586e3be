// `aptship key ...`: the repository signing key, for apt's signed-by= and
// for debsig-verify.

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>
#include <unistd.h>

#include "aptrepo/core/atomic_file.hpp"
#include "aptrepo/sign/signer.hpp"
#include "builder/cli/command.hpp"

namespace aptship::cli {

namespace {

namespace fs = std::filesystem;

struct Key {
  sign::Signer signer;
  std::string fingerprint;
};

// The data dir's signing key. Never creates anything: a missing data dir or
// key points at `aptship init`.
Expected<Key> open_key(const Context& ctx) {
  fs::path home = ctx.data_dir().gnupg();
  std::error_code ec;
  if (!fs::is_directory(home, ec)) {
    return make_error("no signing key in {}: run 'aptship init' first", home.string());
  }
  TRY_ASSIGN(sign::Signer signer, sign::Signer::open(home));
  auto fingerprint = signer.fingerprint();
  if (!fingerprint) {
    // The library's wording for an empty home; other failures pass unchanged.
    if (fingerprint.error().message().starts_with("no signing key in ")) {
      return make_error("{}: run 'aptship init' first", fingerprint.error().message());
    }
    return tl::unexpected<Error>(fingerprint.error());
  }
  return Key{std::move(signer), std::move(*fingerprint)};
}

Expected<void> write_stdout(std::string_view data) {
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() || std::fflush(stdout) != 0) {
    return errno_error("writing to standard output", errno);
  }
  return {};
}

struct ExportOptions {
  bool armor = false;
  std::string output;
};

Expected<void> run_export(const Context& ctx, const ExportOptions& options) {
  sign::Armor armor = options.armor ? sign::Armor::yes : sign::Armor::no;
  bool to_stdout = options.output.empty() || options.output == "-";
  if (to_stdout && armor == sign::Armor::no && ::isatty(STDOUT_FILENO) == 1) {
    return make_error("refusing to write a binary keyring to a terminal: use --armor, -o FILE or "
                      "redirect standard output");
  }
  TRY_ASSIGN(Key key, open_key(ctx));
  TRY_ASSIGN(std::string keyring, key.signer.export_public(armor));
  if (to_stdout) {
    return write_stdout(keyring);
  }
  TRY_CTX(write_file_atomic(options.output, keyring, 0644),
          fmt::format("writing {}", options.output));
  return {};
}

Expected<void> make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return errno_error(fmt::format("creating {}", dir.string()), ec.value());
  }
  return {};
}

Expected<void> run_debsig_install(const Context& ctx, const std::string& root_option) {
  TRY_ASSIGN(Key key, open_key(ctx));
  std::string id = sign::debsig_key_id(key.fingerprint);
  fs::path root = root_option.empty() ? fs::path("/") : fs::path(root_option);
  fs::path keyring_dir = root / "usr/share/debsig/keyrings" / id;
  fs::path policy_dir = root / "etc/debsig/policies" / id;
  fs::path keyring_path = keyring_dir / "debsig.gpg";
  fs::path policy_path = policy_dir / "aptship.pol";

  TRY_ASSIGN(std::string keyring, key.signer.export_public(sign::Armor::no));
  TRY(make_dirs(keyring_dir));
  TRY(make_dirs(policy_dir));
  // The keyring first: a policy must never name a keyring that is not there.
  TRY_CTX(write_file_atomic(keyring_path, keyring, 0644),
          fmt::format("writing {}", keyring_path.string()));
  TRY_CTX(write_file_atomic(policy_path, sign::debsig_policy(key.fingerprint, "debsig.gpg"), 0644),
          fmt::format("writing {}", policy_path.string()));
  fmt::print("policy  {}\nkeyring {}\n", policy_path.string(), keyring_path.string());
  return {};
}

} // namespace

void add_key_commands(CLI::App& app, Context& ctx) {
  CLI::App* key = app.add_subcommand("key", "the repository signing key");
  key->require_subcommand(1);

  CLI::App* fingerprint = key->add_subcommand("fingerprint", "print the signing key's fingerprint");
  set_action(fingerprint, ctx, [&ctx]() -> Expected<void> {
    TRY_ASSIGN(Key k, open_key(ctx));
    return write_stdout(k.fingerprint + "\n");
  });

  auto export_options = std::make_shared<ExportOptions>();
  CLI::App* exporter =
      key->add_subcommand("export", "write the public key (binary keyring for signed-by=)");
  exporter->add_flag("--armor", export_options->armor, "ASCII-armored instead of binary");
  exporter->add_option("-o,--output", export_options->output, "write to FILE instead of stdout");
  set_action(exporter, ctx, [&ctx, export_options] { return run_export(ctx, *export_options); });

  CLI::App* policy =
      key->add_subcommand("debsig-policy", "print the debsig-verify policy for the key");
  set_action(policy, ctx, [&ctx]() -> Expected<void> {
    TRY_ASSIGN(Key k, open_key(ctx));
    return write_stdout(sign::debsig_policy(k.fingerprint, "debsig.gpg"));
  });

  auto root = std::make_shared<std::string>();
  CLI::App* install = key->add_subcommand(
      "debsig-install", "install the debsig-verify policy and keyring for the key");
  install->add_option("--root", *root, "install under DIR instead of / (default /)");
  set_action(install, ctx, [&ctx, root] { return run_debsig_install(ctx, *root); });
}

} // namespace aptship::cli
