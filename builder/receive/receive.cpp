#include "builder/receive/receive.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <unistd.h>

#include "aptrepo/core/text.hpp"

namespace aptship::receive {

Expected<ReceiveAction> authorize(const KeyStore& store, std::string_view key_name,
                                  const GitRequest& request, RepoState state) {
  const PushKey* key = store.find(key_name);
  if (key == nullptr) {
    // authorized_keys names a key the store no longer has: stale, refuse.
    return make_error("key {} is not registered (any more): ask an admin to run 'aptship keys add'",
                      printable(key_name));
  }
  if (!key->may_access(request.app)) {
    return make_error("key {} may not {} app {}: ask an admin to run 'aptship keys allow {} {}'",
                      key->name,
                      request.service == GitService::receive_pack ? "push to" : "fetch from",
                      request.app, key->name, request.app);
  }
  if (state == RepoState::exists) {
    return ReceiveAction::serve;
  }
  if (request.service == GitService::upload_pack) {
    return make_error("app {} does not exist yet: push to it first", request.app);
  }
  return ReceiveAction::create_then_serve;
}

Error exec_git(GitService service, const std::filesystem::path& repo, std::string_view pusher) {
  // sshd passes a clean environment, but a local caller might not.
  for (const char* name :
       {"GIT_DIR", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_QUARANTINE_PATH", "GIT_NAMESPACE", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
        "GIT_EXEC_PATH", "GIT_CEILING_DIRECTORIES"}) {
    ::unsetenv(name);
  }
  const std::string pusher_value(pusher);
  if (::setenv(k_pusher_env, pusher_value.c_str(), 1) != 0) {
    return Error(fmt::format("setting {}: {}", k_pusher_env, std::strerror(errno)));
  }
  const std::string subcommand(git_subcommand(service));
  const std::string path = repo.string();
  char* argv[] = {const_cast<char*>("git"), const_cast<char*>(subcommand.c_str()),
                  const_cast<char*>(path.c_str()), nullptr};
  ::execvp("git", argv);
  return Error(fmt::format("running git {}: {}", subcommand, std::strerror(errno)));
}

} // namespace aptship::receive
