#pragma once

// Lays out a built application as a Debian package tree (the input of
// deb::pack): the app under /opt/APP, the /usr/bin/APP command, the env
// conffile, one systemd unit per process type grouped by APP.target, and
// maintainer scripts that behave like debhelper's.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship::stage {

// One Procfile entry: `web: gunicorn app:app` is {"web", "gunicorn app:app"}.
struct ProcessType {
  std::string name;
  std::string command;
};

// Everything the package layout depends on; filled by the build pipeline.
struct AppSpec {
  std::string app;                        // package name, /opt/APP, default system user
  std::string version;                    // Debian version, already validated
  std::string architecture;               // dpkg architecture, or "all"
  std::string maintainer;                 // "Name <mail>"
  std::string description;                // one line (the synopsis)
  std::vector<std::string> depends;       // Depends entries, in order, no duplicates
  std::vector<ProcessType> processes;     // in Procfile order; may be empty
  std::map<std::string, std::string> env; // defaults written to /etc/APP/env
  uint16_t port = 5000;                   // PORT of the web process
  // The system account the processes run as; empty: the app name. Needed
  // when the app name is not a valid user name (it starts with a digit or
  // is longer than 32 characters).
  std::string user;
  // The changelog's date in seconds since the epoch (the commit's time);
  // unset: SOURCE_DATE_EPOCH from the environment, else now.
  std::optional<int64_t> date;
  // The changelog's entries, one line each ("Deploy abc1234 by alice");
  // empty: a generic entry.
  std::vector<std::string> changes;
};

// Writes the package tree for SPEC into STAGE_DIR (which must not exist):
// the contents of APP_DIR (the built slug, built at /opt/APP) are copied to
// STAGE_DIR/opt/APP with modes and symlinks kept, beside /usr/bin/APP,
// /etc/APP/env, the units, the documentation, and DEBIAN/ with control,
// conffiles and the maintainer scripts. SPEC is checked first (every
// problem in one error); STAGE_DIR appears complete or not at all.
[[nodiscard]] Expected<void> stage_app(const AppSpec& spec, const std::filesystem::path& app_dir,
                                       const std::filesystem::path& stage_dir);

} // namespace aptship::stage
