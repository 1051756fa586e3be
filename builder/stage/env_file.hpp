#pragma once

// /etc/APP/env: the app's configuration, a conffile that the admin edits
// (directly or with `APP config:set`) and that upgrades keep.

#include <string>

#include "builder/stage/stage.hpp"

namespace aptship::stage {

// The env file of SPEC: a comment header explaining the format, PORT, then
// spec.env in key order.
[[nodiscard]] std::string render_env_file(const AppSpec& spec);

} // namespace aptship::stage
