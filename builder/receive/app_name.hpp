#pragma once

// The rule for app names. An app name becomes a repository directory
// (DATA/git/APP.git), a Debian package name, a system user and unit names,
// so one strict rule keeps all of them valid and free of path tricks.

#include <string_view>

#include "aptrepo/core/error.hpp"

namespace aptship::receive {

// The longest app name accepted.
inline constexpr std::size_t k_app_name_max = 63;

// Succeeds when NAME matches [a-z0-9][a-z0-9-]{1,62}; the error explains
// which part of the rule NAME breaks.
[[nodiscard]] Expected<void> validate_app_name(std::string_view name);

} // namespace aptship::receive
