#pragma once

// DEBIAN/control and DEBIAN/conffiles of an app package.

#include <string>

#include "aptrepo/core/error.hpp"
#include "builder/stage/stage.hpp"

namespace aptship::stage {

// The control file of SPEC: the spec's fields, Depends with adduser first
// (the postinst creates the account with it), Section misc, Priority
// optional and a generated long description. Installed-Size is left to
// the packer, which measures the tree. Checked as dpkg-deb would.
[[nodiscard]] Expected<std::string> render_control(const AppSpec& spec);

// The conffiles list: /etc/APP/env.
[[nodiscard]] std::string render_conffiles(const AppSpec& spec);

} // namespace aptship::stage
