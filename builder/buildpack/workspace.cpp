#include "builder/buildpack/workspace.hpp"

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/text.hpp"
#include "builder/buildpack/sandbox.hpp"

namespace aptship::buildpack {

namespace fs = std::filesystem;

namespace {

bool is_env_name(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) {
    return false;
  }
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// Creates DIR with PERMS; an existing directory keeps its mode.
Expected<void> create_dir(const fs::path& dir, fs::perms perms) {
  std::error_code ec;
  if (fs::create_directories(dir, ec) && !ec) {
    fs::permissions(dir, perms, ec);
  }
  if (ec) {
    return make_error("creating {}: {}", dir.string(), ec.message());
  }
  return {};
}

// An empty directory at DIR: an existing empty one is reused, anything in
// it is refused rather than silently built upon.
Expected<void> create_empty_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(dir, ec))) {
    if (!fs::is_directory(fs::symlink_status(dir, ec))) {
      return make_error("the build directory {} is not a directory", dir.string());
    }
    if (!fs::is_empty(dir, ec) || ec) {
      return make_error("the build directory {} is not empty", dir.string());
    }
    return {};
  }
  return create_dir(dir, fs::perms(0755));
}

Expected<void> remove_tree(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    return make_error("removing {}: {}", path.string(), ec.message());
  }
  return {};
}

} // namespace

Expected<void> copy_tree(const fs::path& from, const fs::path& to, CopyGit git) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) {
    return make_error("creating {}: {}", to.string(), ec.message());
  }
  fs::recursive_directory_iterator it(from, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& source = it->path();
    fs::path target = to / source.lexically_relative(from);
    fs::file_status status = it->symlink_status(ec);
    if (ec) {
      break;
    }
    if (git == CopyGit::skip && it.depth() == 0 && source.filename() == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    if (fs::is_symlink(status)) {
      fs::copy_symlink(source, target, ec);
    } else if (fs::is_directory(status)) {
      fs::create_directory(target, source, ec);
    } else if (fs::is_regular_file(status)) {
      fs::copy_file(source, target, fs::copy_options::overwrite_existing, ec);
    } else {
      return make_error("copying {}: {} is not a file, directory or symlink", from.string(),
                        printable(source.string()));
    }
    if (ec) {
      return make_error("copying {} to {}: {}", printable(source.string()), target.string(),
                        ec.message());
    }
  }
  if (ec) {
    return make_error("copying {}: {}", from.string(), ec.message());
  }
  return {};
}

Expected<void> write_env_dir(const fs::path& dir, const std::map<std::string, std::string>& env) {
  TRY(remove_tree(dir));
  TRY(create_dir(dir, fs::perms(0700)));
  for (const auto& [key, value] : env) {
    if (!is_env_name(key)) {
      return make_error("config var '{}' is not a valid environment variable name", printable(key));
    }
    fs::path path = dir / key;
    TRY_ASSIGN(Fd fd, Fd::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    TRY_CTX(fd.write_all(value), path.string());
    TRY_CTX(fd.close(), path.string());
  }
  return {};
}

Expected<Workspace> prepare_workspace(const BuildRequest& request) {
  std::error_code ec;
  if (!fs::is_directory(request.source_dir, ec)) {
    return make_error("the source tree {} is not a directory", request.source_dir.string());
  }
  if (request.work_dir.empty() || request.cache_dir.empty() || request.install_dir.empty()) {
    return make_error("the build request lacks a work, cache or install directory");
  }
  Workspace workspace;
  fs::path work_dir = fs::absolute(request.work_dir);
  workspace.cache_dir = fs::absolute(request.cache_dir);
  workspace.env_dir = work_dir / "env";
  workspace.home = work_dir / "home";
  workspace.buildpacks_dir = work_dir / "buildpacks";
  bool isolated = request.isolation != Isolation::none;
  workspace.build_dir = isolated ? work_dir / "build" : fs::absolute(request.install_dir);

  TRY(create_dir(work_dir, fs::perms(0700)));
  if (request.run_as) {
    // The build user only needs to pass through the caller's scratch space
    // to reach HOME, ENV_DIR and the buildpacks: execute, not read.
    struct stat st {};
    if (::stat(work_dir.c_str(), &st) != 0) {
      return errno_error(work_dir.string(), errno);
    }
    if (::chmod(work_dir.c_str(), (st.st_mode & 07777) | 0011) != 0) {
      return errno_error(fmt::format("changing the mode of {}", work_dir.string()), errno);
    }
    auto [uid, gid] = *request.run_as;
    TRY(check_traversable(work_dir, uid, gid));
    TRY(check_traversable(workspace.cache_dir, uid, gid));
    TRY(check_traversable(workspace.build_dir, uid, gid));
  }

  TRY(create_empty_dir(workspace.build_dir));
  TRY(copy_tree(request.source_dir, workspace.build_dir, CopyGit::keep));
  // A user namespace mounts a tmpfs over the parent: nothing on the host.
  if (request.isolation == Isolation::mount_namespace &&
      !fs::is_directory(request.install_dir, ec)) {
    TRY(create_dir(request.install_dir, fs::perms(0755)));
  }
  TRY(write_env_dir(workspace.env_dir, request.env));
  TRY(create_dir(workspace.home, fs::perms(0700)));
  TRY(remove_tree(workspace.buildpacks_dir));
  TRY(create_dir(workspace.buildpacks_dir, fs::perms(0755)));
  TRY(create_dir(workspace.cache_dir, fs::perms(0700)));

  if (request.run_as) {
    auto [uid, gid] = *request.run_as;
    for (const auto& dir :
         {workspace.build_dir, workspace.cache_dir, workspace.env_dir, workspace.home}) {
      TRY(chown_tree(dir, uid, gid));
    }
  }
  return workspace;
}

} // namespace aptship::buildpack
