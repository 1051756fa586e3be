// `aptship init`: the data dir, its configuration and the signing key.

#include <cerrno>
#include <climits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/core/atomic_file.hpp"
#include "aptrepo/core/log.hpp"
#include "aptrepo/sign/signer.hpp"
#include "builder/cli/command.hpp"

namespace aptship::cli {

namespace {

namespace fs = std::filesystem;

// Small on purpose: every key has a built-in default, this file only shows
// where to change the ones people change first.
constexpr std::string_view k_default_config = R"(# aptship configuration (TOML).

[repository]
# The Origin and Label fields of every published Release file.
origin = "aptship"
label = "aptship"

[serve]
# Where `aptship serve` listens.
listen = "127.0.0.1:8080"
)";

struct InitOptions {
  std::string name;
  std::string email;
};

std::string host_name() {
  char buffer[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') {
    return "localhost";
  }
  return buffer;
}

// A user ID is "NAME <EMAIL>": the brackets and control characters would
// make it ambiguous.
Expected<void> check_user_id_part(std::string_view option, std::string_view value,
                                  std::string_view forbidden) {
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || forbidden.find(c) != forbidden.npos) {
      return make_error("{} '{}': must not contain control characters or any of \"{}\"", option,
                        value, forbidden);
    }
  }
  return {};
}

Expected<std::string> user_id(const InitOptions& options) {
  std::string host = host_name();
  std::string name =
      options.name.empty() ? fmt::format("aptship signing key ({})", host) : options.name;
  std::string email = options.email.empty() ? fmt::format("aptship@{}", host) : options.email;
  if (!options.name.empty()) {
    TRY(check_user_id_part("--name", name, "<>"));
  }
  if (!options.email.empty()) {
    TRY(check_user_id_part("--email", email, "<> "));
  }
  return fmt::format("{} <{}>", name, email);
}

// Creates ROOT with mode 0755 (parents as the umask allows) unless it
// exists; returns whether it was created.
Expected<bool> make_data_dir(const fs::path& root) {
  std::error_code ec;
  if (fs::is_directory(root, ec)) {
    return false;
  }
  if (root.has_parent_path()) {
    fs::create_directories(root.parent_path(), ec);
    if (ec) {
      return errno_error(fmt::format("creating {}", root.parent_path().string()), ec.value());
    }
  }
  if (::mkdir(root.c_str(), 0755) != 0) {
    return errno_error(fmt::format("creating data dir {}", root.string()), errno);
  }
  if (::chmod(root.c_str(), 0755) != 0) {
    return errno_error(fmt::format("chmod {}", root.string()), errno);
  }
  return true;
}

// Removes a data dir this run created if it is still empty, so that an init
// refused before writing anything leaves nothing behind.
class RemoveIfEmpty {
public:
  explicit RemoveIfEmpty(fs::path dir) : m_dir(std::move(dir)) {}
  RemoveIfEmpty(const RemoveIfEmpty&) = delete;
  RemoveIfEmpty& operator=(const RemoveIfEmpty&) = delete;
  ~RemoveIfEmpty() {
    if (!m_dir.empty()) {
      ::rmdir(m_dir.c_str());
    }
  }
  void keep() { m_dir.clear(); }

private:
  fs::path m_dir;
};

Expected<void> run_init(const Context& ctx, const InitOptions& options) {
  TRY_ASSIGN(std::string uid, user_id(options));
  DataDir data = ctx.data_dir();
  TRY_ASSIGN(bool created, make_data_dir(data.root()));
  RemoveIfEmpty cleanup(created ? data.root() : fs::path());
  TRY_ASSIGN(sign::Signer signer, sign::Signer::open(data.gnupg()));
  cleanup.keep();

  bool had_key = false;
  std::string fingerprint;
  if (auto existing = signer.fingerprint()) {
    had_key = true;
    fingerprint = *existing;
  } else if (existing.error().message().starts_with("no signing key in ")) {
    TRY_ASSIGN(fingerprint, signer.generate_key(uid));
  } else {
    // Several keys, or gpg itself failing: nothing here can be repaired blindly.
    return tl::unexpected<Error>(existing.error());
  }

  // Written only once the key exists, so a config never claims an init that
  // failed; an existing config is the user's and stays as it is.
  std::error_code ec;
  bool had_config = fs::exists(data.config(), ec);
  if (!had_config) {
    TRY_CTX(write_file_atomic(data.config(), k_default_config, 0644),
            fmt::format("writing {}", data.config().string()));
  }

  if (had_key && had_config) {
    if (!options.name.empty() || !options.email.empty()) {
      log::warning("--name/--email ignored: the signing key already exists");
    }
    fmt::print("already initialized {} with signing key {}\n", data.root().string(), fingerprint);
  } else if (had_key) {
    fmt::print("initialized {} with existing signing key {}\n", data.root().string(), fingerprint);
  } else {
    fmt::print("initialized {} with signing key {}\n", data.root().string(), fingerprint);
  }
  return {};
}

} // namespace

void add_init_command(CLI::App& app, Context& ctx) {
  auto options = std::make_shared<InitOptions>();
  CLI::App* cmd = app.add_subcommand("init", "create the data dir, its config and a signing key");
  cmd->add_option("--name", options->name,
                  "name in the key's user ID (default: aptship signing key (HOSTNAME))");
  cmd->add_option("--email", options->email,
                  "email in the key's user ID (default: aptship@HOSTNAME)");
  set_action(cmd, ctx, [&ctx, options] { return run_init(ctx, *options); });
}

} // namespace aptship::cli
