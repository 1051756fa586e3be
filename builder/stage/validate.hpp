#pragma once

// Checks an AppSpec before anything is written: every name ends up in file
// paths, unit names, a shell script and a control file, so each is held to
// the narrowest syntax those places accept.

#include "aptrepo/core/error.hpp"
#include "builder/stage/stage.hpp"

namespace aptship::stage {

// Succeeds when SPEC can be staged; otherwise one error naming every
// problem: "app spec: version '1.0_x': ...; process 'w b': ...".
[[nodiscard]] Expected<void> check_spec(const AppSpec& spec);

} // namespace aptship::stage
