#include "builder/receive/app_repo.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/core/atomic_file.hpp"
#include "aptrepo/core/tempdir.hpp"
#include "aptrepo/core/text.hpp"
#include "builder/receive/app_name.hpp"
#include "builder/receive/git.hpp"

namespace aptship::receive {

namespace fs = std::filesystem;

namespace {

// PATH absolute and without "." or ".." parts or a trailing slash.
fs::path absolute_clean(const fs::path& path) {
  fs::path out = fs::absolute(path).lexically_normal();
  if (out.has_parent_path() && out.filename().empty()) {
    out = out.parent_path();
  }
  return out;
}

Expected<void> require_data_dir(const DataDir& data) {
  std::error_code ec;
  if (!fs::is_directory(data.root(), ec)) {
    return make_error("data dir {} does not exist: run 'aptship init' first", data.root().string());
  }
  return {};
}

Expected<void> write_hooks(const fs::path& repo, const fs::path& aptship_binary,
                           const fs::path& data_root, std::string_view app) {
  const fs::path hooks = repo / "hooks";
  std::error_code ec;
  fs::create_directories(hooks, ec);
  if (ec) {
    return errno_error(fmt::format("creating {}", hooks.string()), ec.value());
  }
  const fs::path hook = hooks / "pre-receive";
  TRY_ASSIGN(AtomicFile file, AtomicFile::create(hook, 0755));
  // git runs only executable hooks: the mode must not depend on the umask.
  if (::fchmod(file.fd().get(), 0755) != 0) {
    return errno_error(fmt::format("chmod {}", file.temp_path().string()), errno);
  }
  TRY(file.write(pre_receive_hook(aptship_binary, data_root, app)));
  TRY(file.commit());
  return {};
}

// A bare repository with HEAD naming the default branch, in DIR (which exists).
Expected<void> init_bare(const fs::path& dir) {
  git::init();
  git_repository_init_options options = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  options.flags = GIT_REPOSITORY_INIT_BARE;
  const std::string head(k_default_branch);
  options.initial_head = head.c_str();
  git_repository* raw = nullptr;
  if (git_repository_init_ext(&raw, dir.c_str(), &options) != 0) {
    return git::last_error(fmt::format("creating a bare repository in {}", dir.string()));
  }
  git::Repository repo(raw);
  return {};
}

Expected<void> check_bare(const fs::path& repo_path) {
  TRY_ASSIGN(git::Repository repo, git::open_repository(repo_path));
  if (git_repository_is_bare(repo.get()) == 0) {
    return make_error("{} exists and is not a bare repository", repo_path.string());
  }
  return {};
}

} // namespace

fs::path git_root(const DataDir& data) {
  return data.root() / "git";
}

fs::path app_repo_path(const DataDir& data, std::string_view app) {
  return git_root(data) / fmt::format("{}.git", app);
}

std::string pre_receive_hook(const fs::path& aptship_binary, const fs::path& data_root,
                             std::string_view app) {
  return fmt::format("#!/bin/sh\n"
                     "# Written by aptship: each push to this repository is built and published\n"
                     "# by aptship. `aptship apps create {}` rewrites this file.\n"
                     "exec {} --data {} hook pre-receive {}\n",
                     app, shell_quote(absolute_clean(aptship_binary).string()),
                     shell_quote(absolute_clean(data_root).string()), shell_quote(app));
}

Expected<fs::path> create_app_repo(const DataDir& data, std::string_view app,
                                   const fs::path& aptship_binary) {
  TRY(validate_app_name(app));
  TRY(require_data_dir(data));
  const fs::path root = git_root(data);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) {
    return errno_error(fmt::format("creating {}", root.string()), ec.value());
  }
  const fs::path final_path = app_repo_path(data, app);
  const fs::path data_root = absolute_clean(data.root());
  auto context = fmt::format("creating the repository of app {}", app);

  if (!fs::exists(final_path, ec)) {
    // Built under a temporary name and renamed into place: a crash leaves
    // no half-made repository that a push would then trip over.
    TRY_ASSIGN(TempDir temp, TempDir::create(fmt::format(".{}.git.new", app), root));
    if (::chmod(temp.path().c_str(), 0755) != 0) {
      return errno_error(fmt::format("chmod {}", temp.path().string()), errno);
    }
    TRY_CTX(init_bare(temp.path()), context);
    TRY_CTX(write_hooks(temp.path(), aptship_binary, data_root, app), context);
    if (::rename(temp.path().c_str(), final_path.c_str()) == 0) {
      temp.keep();
      TRY_CTX(sync_directory(root), context);
      return final_path;
    }
    if (errno != EEXIST && errno != ENOTEMPTY) {
      return errno_error(fmt::format("{}: renaming into {}", context, final_path.string()), errno);
    }
    // Someone else created it meanwhile: theirs is as good as ours.
  }
  TRY_CTX(check_bare(final_path), context);
  TRY_CTX(write_hooks(final_path, aptship_binary, data_root, app), context);
  return final_path;
}

Expected<std::vector<std::string>> list_apps(const DataDir& data) {
  std::vector<std::string> apps;
  const fs::path root = git_root(data);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return apps;
  }
  fs::directory_iterator it(root, ec);
  if (ec) {
    return errno_error(fmt::format("listing {}", root.string()), ec.value());
  }
  for (const fs::directory_entry& entry : it) {
    const fs::path& path = entry.path();
    if (path.extension() != ".git" || !entry.is_directory(ec)) {
      continue;
    }
    std::string app = path.stem().string();
    if (validate_app_name(app)) {
      apps.push_back(std::move(app));
    }
  }
  std::sort(apps.begin(), apps.end());
  return apps;
}

Expected<void> destroy_app_repo(const DataDir& data, std::string_view app) {
  TRY(validate_app_name(app));
  const fs::path path = app_repo_path(data, app);
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    return make_error("app {} has no repository ({} does not exist)", app, path.string());
  }
  // Moved aside first, so that the repository vanishes in one step even
  // if the recursive delete is interrupted.
  TRY_ASSIGN(TempDir trash, TempDir::create(fmt::format(".{}.git.destroy", app), git_root(data)));
  if (::rename(path.c_str(), (trash.path() / "repo").c_str()) != 0) {
    return errno_error(fmt::format("removing {}", path.string()), errno);
  }
  fs::remove_all(trash.path(), ec);
  if (ec) {
    return errno_error(fmt::format("removing {}", trash.path().string()), ec.value());
  }
  trash.keep();
  return {};
}

Expected<fs::path> self_executable() {
  char buffer[PATH_MAX + 1] = {};
  ssize_t size = ::readlink("/proc/self/exe", buffer, PATH_MAX);
  if (size < 0) {
    return errno_error("finding the running program (/proc/self/exe)", errno);
  }
  std::string path(buffer, static_cast<size_t>(size));
  // An upgrade replaced the binary while it runs; the new file has the old name.
  constexpr std::string_view k_deleted = " (deleted)";
  if (path.ends_with(k_deleted)) {
    path.resize(path.size() - k_deleted.size());
  }
  return fs::path(path);
}

} // namespace aptship::receive
