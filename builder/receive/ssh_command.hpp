#pragma once

// The command an SSH client asked for (SSH_ORIGINAL_COMMAND), as git sends
// it: `git-receive-pack 'APP.git'` for a push, `git-upload-pack 'APP.git'`
// for a clone or fetch. Anything else is refused.

#include <optional>
#include <string>
#include <string_view>

#include "aptrepo/core/error.hpp"

namespace aptship::receive {

enum class GitService { receive_pack, upload_pack };

struct GitRequest {
  GitService service = GitService::receive_pack;
  std::string app; // validated with validate_app_name
};

// "receive-pack" or "upload-pack": the git subcommand serving SERVICE.
[[nodiscard]] std::string_view git_subcommand(GitService service);

// Parses COMMAND (nullopt: the client asked for a login shell). Accepted:
// git-receive-pack, git-upload-pack or "git receive-pack" / "git
// upload-pack", one or more spaces, then the path, single-quoted or bare,
// with an optional leading '/' and an optional ".git" suffix, naming a
// valid app. The error is one line saying what was refused and why.
[[nodiscard]] Expected<GitRequest> parse_ssh_command(std::optional<std::string_view> command);

} // namespace aptship::receive
