#pragma once

// `aptship receive`, the forced command of every push key: decides whether
// the key may run the git service it asked for, then becomes that service.

#include <filesystem>
#include <string_view>

#include "aptrepo/core/error.hpp"
#include "builder/receive/key_store.hpp"
#include "builder/receive/ssh_command.hpp"

namespace aptship::receive {

// Whether the app's repository exists yet.
enum class RepoState { exists, missing };

// What receive does once the key is allowed.
enum class ReceiveAction {
  serve,             // run the git service on the existing repository
  create_then_serve, // first push: create the repository with its hooks first
};

// The environment variable that tells the pre-receive hook who pushed.
inline constexpr const char* k_pusher_env = "APTSHIP_PUSHER";

// Decides whether key KEY_NAME of STORE may run REQUEST. A key may use an
// app when it is an admin key or lists the app. A push to a missing
// repository creates it, for the same keys: listing an app that does not
// exist yet is how an admin lets someone create it. A fetch from a missing
// repository is an error. Errors say why, in one line.
[[nodiscard]] Expected<ReceiveAction> authorize(const KeyStore& store, std::string_view key_name,
                                                const GitRequest& request, RepoState state);

// Replaces the process with `git receive-pack|upload-pack REPO`, with
// APTSHIP_PUSHER=PUSHER and without the GIT_* variables that could point
// git elsewhere. Returns only when exec failed.
[[nodiscard]] Error exec_git(GitService service, const std::filesystem::path& repo,
                             std::string_view pusher);

} // namespace aptship::receive
