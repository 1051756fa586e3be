#pragma once

// The directories one build uses, set up before the first buildpack runs.

#include <filesystem>
#include <map>
#include <string>

#include "aptrepo/core/error.hpp"
#include "builder/buildpack/buildpack.hpp"

namespace aptship::buildpack {

// Where a build's pieces live on the host.
struct Workspace {
  std::filesystem::path build_dir;      // the real BUILD_DIR (install_dir, or work_dir/build)
  std::filesystem::path cache_dir;      // CACHE_DIR
  std::filesystem::path env_dir;        // ENV_DIR: work_dir/env
  std::filesystem::path home;           // HOME of the steps: work_dir/home
  std::filesystem::path buildpacks_dir; // work_dir/buildpacks: private copies of the buildpacks
};

// Whether copy_tree takes a top-level .git directory along.
enum class CopyGit { keep, skip };

// Copies the contents of FROM into TO (created when missing), keeping file
// modes and copying symlinks as symlinks; special files are an error.
[[nodiscard]] Expected<void> copy_tree(const std::filesystem::path& from,
                                       const std::filesystem::path& to, CopyGit git);

// Fills DIR (created, mode 0700) with one file per variable of ENV, named
// after the key and holding the value (mode 0600), the buildpack ENV_DIR
// layout; a key that is not a valid environment variable name is an error.
[[nodiscard]] Expected<void> write_env_dir(const std::filesystem::path& dir,
                                           const std::map<std::string, std::string>& env);

// Creates the workspace of REQUEST: the build directory (which must be
// absent or empty) with a copy of the source tree, ENV_DIR, HOME, the
// cache directory and, when isolated, the empty mountpoint at install_dir.
// With run_as, the directories the steps write are given to that user and
// every path they use is checked to be reachable by it.
[[nodiscard]] Expected<Workspace> prepare_workspace(const BuildRequest& request);

} // namespace aptship::buildpack
