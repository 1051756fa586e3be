#include "builder/receive/ssh_command.hpp"

#include <array>
#include <utility>

#include "aptrepo/core/text.hpp"
#include "builder/receive/app_name.hpp"

namespace aptship::receive {

namespace {

constexpr std::array<std::pair<std::string_view, GitService>, 4> k_services = {{
    {"git-receive-pack", GitService::receive_pack},
    {"git-upload-pack", GitService::upload_pack},
    {"git receive-pack", GitService::receive_pack},
    {"git upload-pack", GitService::upload_pack},
}};

// COMMAND shortened and escaped for a one-line message.
std::string shown(std::string_view command) {
  constexpr size_t k_max = 100;
  std::string out = printable(command.substr(0, k_max));
  return command.size() > k_max ? out + "..." : out;
}

tl::unexpected<Error> not_git(std::optional<std::string_view> command) {
  if (!command) {
    return make_error("this key may only push with git (got: an interactive login)");
  }
  return make_error("this key may only push with git (got: {})", shown(*command));
}

} // namespace

std::string_view git_subcommand(GitService service) {
  return service == GitService::receive_pack ? "receive-pack" : "upload-pack";
}

Expected<GitRequest> parse_ssh_command(std::optional<std::string_view> command) {
  if (!command) {
    return not_git(command);
  }
  std::string_view rest = *command;
  std::optional<GitService> service;
  for (const auto& [prefix, kind] : k_services) {
    if (rest.starts_with(prefix) && rest.size() > prefix.size() && rest[prefix.size()] == ' ') {
      service = kind;
      rest.remove_prefix(prefix.size());
      break;
    }
  }
  if (!service) {
    return not_git(command);
  }
  rest.remove_prefix(rest.find_first_not_of(' ') == std::string_view::npos
                         ? rest.size()
                         : rest.find_first_not_of(' '));
  if (rest.empty()) {
    return make_error("no repository given (got: {})", shown(*command));
  }
  std::string_view path = rest;
  if (path.front() == '\'') {
    // Only the quoting git itself writes: no quote inside, nothing after.
    const size_t close = path.find('\'', 1);
    if (close != path.size() - 1) {
      return make_error("bad repository path {} (expected 'APP.git')", shown(rest));
    }
    path = path.substr(1, close - 1);
  }
  const std::string raw(path);
  if (path.starts_with('/')) {
    path.remove_prefix(1);
  }
  if (path.ends_with(".git")) {
    path.remove_suffix(4);
  }
  if (auto valid = validate_app_name(path); !valid) {
    return make_error("bad repository path '{}' (expected APP.git): {}", shown(raw),
                      valid.error().message());
  }
  return GitRequest{*service, std::string(path)};
}

} // namespace aptship::receive
