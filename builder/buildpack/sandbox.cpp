#include "builder/buildpack/sandbox.hpp"

#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "aptrepo/core/subprocess.hpp"
#include <sys/stat.h>
#include <unistd.h>

namespace aptship::buildpack {

namespace fs = std::filesystem;

namespace {

// The stack name buildpacks may branch on; builds run on Debian 12.
constexpr std::string_view k_stack = "debian-12";
constexpr std::string_view k_path = "/usr/local/bin:/usr/bin:/bin";

// $1 is the number of export files that follow; the command comes after
// them. The command is saved first because a sourced file sees (and could
// shift) the positional parameters.
constexpr std::string_view k_export_prologue =
    "aptship_n=$1; shift\n"
    "aptship_exports=(\"${@:1:aptship_n}\"); shift \"$aptship_n\"\n"
    "aptship_command=(\"$@\")\n"
    "for aptship_export in \"${aptship_exports[@]}\"; do source \"$aptship_export\"; done\n";

// In a pid namespace the command replaces the shell: when it exits, the
// kernel ends whatever it left behind.
constexpr std::string_view k_exec_epilogue = "exec \"${aptship_command[@]}\"\n";

// Without one, bash leads the step's process group and stays to end what
// the command left running in it (a background job would otherwise hold
// the output pipe open until the timeout); processes that start their own
// session escape this, which is why root builds use the namespace.
constexpr std::string_view k_wait_epilogue = "\"${aptship_command[@]}\"; aptship_status=$?\n"
                                             "trap '' TERM; kill -TERM 0 2>/dev/null\n"
                                             "exit $aptship_status\n";

// $1 is the real build directory, $2 the install path it is mounted on.
constexpr std::string_view k_mount_script =
    "mount --bind \"$1\" \"$2\" && cd \"$2\" && shift 2 && exec \"$@\"";

// $1 the real build directory, $2 the install path, $3 its parent, $4 and
// $5 the caller's uid and gid. Run as root of a new user namespace that owns
// the new mount namespace: the tmpfs gives the install path a mount point
// without writing to the host's /opt, and the inner namespace maps the
// caller's own ids back so that the steps are not (namespace) root.
constexpr std::string_view k_user_mount_script =
    "mount -t tmpfs -o mode=0755 aptship \"$3\" && mkdir \"$2\" && "
    "mount --bind \"$1\" \"$2\" && cd \"$2\" && "
    "aptship_uid=$4 && aptship_gid=$5 && shift 5 && "
    "exec unshare --user --map-user=\"$aptship_uid\" --map-group=\"$aptship_gid\" -- \"$@\"";

} // namespace

bool user_namespace_available() {
  static const bool available = [] {
    SubprocessOptions options;
    options.timeout = std::chrono::seconds(10);
    auto probe = run({"unshare", "--user", "--map-root-user", "--mount", "--", "/bin/sh", "-c",
                      "mount -t tmpfs aptship /mnt"},
                     options);
    return probe && probe->ok();
  }();
  return available;
}

std::vector<std::string> sandbox_argv(const Sandbox& sandbox, const std::vector<fs::path>& exports,
                                      const std::vector<std::string>& command) {
  std::vector<std::string> argv;
  if (sandbox.isolation == Isolation::mount_namespace) {
    // A pid namespace as well: when the step's first process exits, the
    // kernel kills whatever it left running, daemons included.
    argv.insert(argv.end(),
                {"unshare", "--mount", "--propagation", "private", "--pid", "--fork",
                 "--kill-child", "--", "/bin/sh", "-c", std::string(k_mount_script), "sh",
                 sandbox.real_build_dir.string(), sandbox.visible_build_dir.string()});
  }
  if (sandbox.isolation == Isolation::user_namespace) {
    argv.insert(argv.end(),
                {"unshare", "--user", "--map-root-user", "--mount", "--propagation", "private",
                 "--pid", "--fork", "--kill-child", "--", "/bin/sh", "-c",
                 std::string(k_user_mount_script), "sh", sandbox.real_build_dir.string(),
                 sandbox.visible_build_dir.string(),
                 sandbox.visible_build_dir.parent_path().string(),
                 std::to_string(sandbox.caller.first), std::to_string(sandbox.caller.second)});
  }
  if (sandbox.run_as) {
    argv.insert(argv.end(), {"setpriv", fmt::format("--reuid={}", sandbox.run_as->first),
                             fmt::format("--regid={}", sandbox.run_as->second), "--clear-groups",
                             "--no-new-privs", "--"});
  }
  std::string script(k_export_prologue);
  script += sandbox.isolation != Isolation::none ? k_exec_epilogue : k_wait_epilogue;
  argv.insert(argv.end(), {"/bin/bash", "-c", script, "bash", std::to_string(exports.size())});
  for (const auto& path : exports) {
    argv.push_back(path.string());
  }
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

fs::path sandbox_cwd(const Sandbox& sandbox) {
  // Inside the new namespace the host's directory at the install path is
  // the empty mountpoint: the script changes into the mounted tree itself.
  if (sandbox.isolation != Isolation::none) {
    return "/";
  }
  return sandbox.real_build_dir;
}

std::map<std::string, std::string> step_environment(const fs::path& home,
                                                    std::string_view source_version) {
  std::map<std::string, std::string> env = {
      {"PATH", std::string(k_path)},
      {"HOME", home.string()},
      {"LANG", "C.UTF-8"},
      {"STACK", std::string(k_stack)},
  };
  if (!source_version.empty()) {
    env["SOURCE_VERSION"] = std::string(source_version);
  }
  return env;
}

Expected<void> check_sandbox_allowed(const Sandbox& sandbox) {
  bool root = ::geteuid() == 0;
  if (sandbox.run_as && !root) {
    return make_error("running buildpacks as uid {} needs root", sandbox.run_as->first);
  }
  if (sandbox.isolation == Isolation::mount_namespace && !root) {
    return make_error("building in a private mount namespace at {} needs root",
                      sandbox.visible_build_dir.string());
  }
  if (sandbox.isolation != Isolation::none && !sandbox.visible_build_dir.is_absolute()) {
    return make_error("the install path {} is not absolute", sandbox.visible_build_dir.string());
  }
  if (sandbox.isolation == Isolation::user_namespace &&
      sandbox.visible_build_dir.parent_path() == sandbox.visible_build_dir.root_path()) {
    // The tmpfs goes over the parent: over / it would hide the whole system.
    return make_error("the install path {} needs a parent below /",
                      sandbox.visible_build_dir.string());
  }
  return {};
}

Expected<void> check_traversable(const fs::path& path, uid_t uid, gid_t gid) {
  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec) {
    return make_error("{}: {}", path.string(), ec.message());
  }
  fs::path current;
  for (const auto& part : resolved) {
    current /= part;
    struct stat st {};
    if (::stat(current.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        return {}; // the rest is created later, by us
      }
      return errno_error(current.string(), errno);
    }
    if (!S_ISDIR(st.st_mode)) {
      return {};
    }
    mode_t bit = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
    if ((st.st_mode & bit) == 0) {
      return make_error("{} is not reachable by uid {}: {} has mode {:04o}", path.string(), uid,
                        current.string(), st.st_mode & 07777);
    }
  }
  return {};
}

Expected<void> chown_tree(const fs::path& path, uid_t uid, gid_t gid) {
  auto give = [uid, gid](const fs::path& entry) -> Expected<void> {
    struct stat st {};
    if (::lstat(entry.c_str(), &st) != 0) {
      return errno_error(entry.string(), errno);
    }
    if ((st.st_uid != uid || st.st_gid != gid) && ::lchown(entry.c_str(), uid, gid) != 0) {
      return errno_error(fmt::format("changing the owner of {}", entry.string()), errno);
    }
    return {};
  };
  TRY(give(path));
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(path, ec))) {
    return {};
  }
  fs::recursive_directory_iterator it(path, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    TRY(give(it->path()));
  }
  if (ec) {
    return make_error("walking {}: {}", path.string(), ec.message());
  }
  return {};
}

} // namespace aptship::buildpack
