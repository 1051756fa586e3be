#pragma once

// /usr/bin/APP: the one command that runs the app's processes (the systemd
// units call it too) and edits its configuration.

#include <string>

#include "builder/stage/stage.hpp"

namespace aptship::stage {

// The POSIX sh script for SPEC. Everything app-specific is in assignments
// at its top (app, self, app_user, app_dir, env_file, conf_dir, log_dir,
// default_port, units) and in the process_type table, so tests can point
// it at other paths. Commands: run PROCESS|COMMAND [ARG...], config,
// config:get KEY, config:set KEY=VALUE..., config:unset KEY..., logs [-f],
// restart, status, help.
[[nodiscard]] std::string render_wrapper(const AppSpec& spec);

} // namespace aptship::stage
