#pragma once

// Runs Heroku-style (v2a) buildpacks on an application tree:
// bin/detect, bin/compile, bin/release, `export` chaining, .profile.d.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "aptrepo/core/error.hpp"

namespace aptship::buildpack {

// How the buildpack steps are separated from the host.
enum class Isolation {
  none,            // steps see install_dir as the real build directory
  mount_namespace, // (root only) each step runs in a private mount and pid
                   // namespace where the real build directory, kept in
                   // work_dir, is bind-mounted on install_dir (/opt/APP), and
                   // every process it started dies with it
  user_namespace,  // (any user) the same view, set up inside a new user
                   // namespace: a tmpfs over install_dir's parent holds the
                   // mount point, and the steps keep the caller's uid and gid
};

// Where buildpacks come from and where their runs happen.
struct BuildRequest {
  std::string app;                   // app name, used for the /opt/APP install path
  std::filesystem::path source_dir;  // the exported tree (not modified)
  std::filesystem::path install_dir; // where the slug must end up: /opt/APP
  std::filesystem::path work_dir;    // scratch space, owned by the caller
  std::filesystem::path cache_dir;   // CACHE_DIR, kept between builds of this app
  // The built-in buildpacks (buildpacks/ or /usr/share/aptship/buildpacks).
  std::filesystem::path builtin_dir;
  std::filesystem::path clone_cache;      // where git buildpacks are cloned and cached
  std::map<std::string, std::string> env; // the app's config, written to ENV_DIR
  std::chrono::seconds timeout{1800};     // for the whole build
  std::string source_version;             // the built commit, given to buildpacks as SOURCE_VERSION
  // (root only) the uid:gid the buildpack steps run as; BUILD_DIR, CACHE_DIR
  // and HOME are handed over to it and work_dir is made traversable (o+x).
  std::optional<std::pair<uid_t, gid_t>> run_as;
  Isolation isolation = Isolation::none;
  // Receives the build's output line by line, in order, as it happens
  // (already formatted Heroku-style: "-----> ..." and indented lines).
  std::function<void(std::string_view line)> output;
};

struct BuildResult {
  std::vector<std::string> buildpacks;              // what ran, in order
  std::map<std::string, std::string> process_types; // Procfile over default_process_types
  std::vector<std::string> process_order;           // process_types keys in Procfile order
  std::map<std::string, std::string> config_vars;   // from bin/release
  std::vector<std::string> depends;                 // runtime Depends the buildpacks declared
  // The built tree, to be staged as /opt/APP: install_dir, or work_dir/build
  // when isolated.
  std::filesystem::path slug_dir;
};

// Selects the buildpacks (BUILDPACK_URL in env, then .buildpacks, then
// app.json "buildpacks", then detection over the built-ins) and runs them.
// Explicitly named buildpacks all run in order (multi-buildpack), each
// after the `export` files of the earlier ones; detection picks the first
// built-in whose bin/detect accepts the app. The built tree's Procfile
// overrides the buildpacks' default process types. A failing
// detect/compile/release, a timeout or an unusable buildpack is an error
// whose message names the buildpack and step; the output callback has
// already shown the build's own lines.
[[nodiscard]] Expected<BuildResult> run_buildpacks(const BuildRequest& request);

} // namespace aptship::buildpack
