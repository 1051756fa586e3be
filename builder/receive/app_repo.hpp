#pragma once

// The bare git repository of each app, DATA/git/APP.git, and its
// pre-receive hook, which hands every push to aptship.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/data_dir.hpp"
#include "aptrepo/core/error.hpp"

namespace aptship::receive {

// The branch a new repository's HEAD names.
inline constexpr std::string_view k_default_branch = "main";

// DATA/git: where the app repositories live.
[[nodiscard]] std::filesystem::path git_root(const DataDir& data);

// DATA/git/APP.git (APP is not validated here).
[[nodiscard]] std::filesystem::path app_repo_path(const DataDir& data, std::string_view app);

// The pre-receive hook for APP: a /bin/sh script that execs APTSHIP_BINARY
// with --data DATA_ROOT, both absolute and shell-quoted, so that it works
// with no PATH and no environment.
[[nodiscard]] std::string pre_receive_hook(const std::filesystem::path& aptship_binary,
                                           const std::filesystem::path& data_root,
                                           std::string_view app);

// Creates DATA/git/APP.git as a bare repository (HEAD -> refs/heads/main)
// with its hooks, or rewrites the hooks of an existing one, and returns its
// path. The data dir must exist. A new repository appears complete or not
// at all, and two concurrent creations of one app both succeed.
[[nodiscard]] Expected<std::filesystem::path>
create_app_repo(const DataDir& data, std::string_view app,
                const std::filesystem::path& aptship_binary);

// The apps that have a repository, sorted by name.
[[nodiscard]] Expected<std::vector<std::string>> list_apps(const DataDir& data);

// Deletes APP's repository (its published packages are not touched). A
// missing repository is an error.
[[nodiscard]] Expected<void> destroy_app_repo(const DataDir& data, std::string_view app);

// The absolute path of the running program (/proc/self/exe), for hooks and
// authorized_keys commands that must find it again.
[[nodiscard]] Expected<std::filesystem::path> self_executable();

} // namespace aptship::receive
