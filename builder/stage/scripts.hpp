#pragma once

// The maintainer scripts of an app package. They do what debhelper's
// generated snippets do for a package with a system user and systemd
// units: create the account on configure (and never delete it), enable and
// start the units on first install, restart them on upgrade, stop them on
// remove, forget them and delete the app's data on purge. Each step is
// idempotent, and nothing touches systemd unless it is running.

#include <string>

#include "builder/stage/stage.hpp"

namespace aptship::stage {

struct MaintainerScripts {
  std::string postinst;
  std::string prerm;
  std::string postrm;
};

// The scripts for SPEC: POSIX sh, `set -e`, for dpkg's calling conventions.
[[nodiscard]] MaintainerScripts render_maintainer_scripts(const AppSpec& spec);

} // namespace aptship::stage
