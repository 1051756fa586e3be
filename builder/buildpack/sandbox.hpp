#pragma once

// How one buildpack step is run: a clean environment, the privilege drop to
// the build user, the private mount of the build directory on /opt/APP, and
// the `export` files of earlier buildpacks sourced first. Everything is an
// argv prefix of stock tools (util-linux unshare and setpriv, bash), with
// paths passed as positional parameters, never spliced into a script.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/types.h>
#include <unistd.h>

#include "aptrepo/core/error.hpp"
#include "builder/buildpack/buildpack.hpp"

namespace aptship::buildpack {

// The identity and view of the file system every step of one build gets.
struct Sandbox {
  std::optional<std::pair<uid_t, gid_t>> run_as;          // drop to this uid:gid (root only)
  std::pair<uid_t, gid_t> caller{::getuid(), ::getgid()}; // kept by a user namespace
  Isolation isolation = Isolation::none;
  std::filesystem::path real_build_dir;    // where the tree really is
  std::filesystem::path visible_build_dir; // BUILD_DIR as the steps see it
};

// The full argv running COMMAND (program and arguments) inside SANDBOX,
// after sourcing each of EXPORTS in order with bash.
[[nodiscard]] std::vector<std::string>
sandbox_argv(const Sandbox& sandbox, const std::vector<std::filesystem::path>& exports,
             const std::vector<std::string>& command);

// The working directory to start the argv in: the build directory, or "/"
// when the mount namespace changes into the mounted one itself.
[[nodiscard]] std::filesystem::path sandbox_cwd(const Sandbox& sandbox);

// The whole environment of a step: PATH, HOME, LANG, STACK and, when known,
// SOURCE_VERSION; nothing is inherited from the caller.
[[nodiscard]] std::map<std::string, std::string> step_environment(const std::filesystem::path& home,
                                                                  std::string_view source_version);

// True when this process may create a user namespace with its own mounts
// (unprivileged user namespaces enabled, unshare present); probed once.
[[nodiscard]] bool user_namespace_available();

// An error unless this process may set SANDBOX up (both the privilege drop
// and the mount namespace need root).
[[nodiscard]] Expected<void> check_sandbox_allowed(const Sandbox& sandbox);

// An error unless UID:GID may traverse every existing directory from / down
// to PATH, naming the first one it may not enter.
[[nodiscard]] Expected<void> check_traversable(const std::filesystem::path& path, uid_t uid,
                                               gid_t gid);

// Gives PATH and everything below it (symlinks themselves, not their
// targets) to UID:GID.
[[nodiscard]] Expected<void> chown_tree(const std::filesystem::path& path, uid_t uid, gid_t gid);

} // namespace aptship::buildpack
