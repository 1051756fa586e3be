#pragma once

// The systemd units of an app: APP.target, enabled in multi-user.target,
// and one APP-PROCESS.service per process type, each wanted by and part of
// the target, so that starting, stopping or restarting the target acts on
// every process while one can still be disabled alone.

#include <string>
#include <vector>

#include "builder/stage/stage.hpp"

namespace aptship::stage {

struct UnitFile {
  std::string name; // "hello-web.service"
  std::string text;
};

// The units of SPEC, target first, then the services in Procfile order.
// Every service starts through `/usr/bin/APP run PROCESS`, the same path an
// admin uses, as the app user (systemd switches user, so the command does
// not); PORT comes from /etc/APP/env, offset per process type.
[[nodiscard]] std::vector<UnitFile> render_units(const AppSpec& spec);

} // namespace aptship::stage
