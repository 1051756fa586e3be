#pragma once

// The Debian version of each build: BASE+bN.gCOMMIT, strictly increasing
// for an app and suite under dpkg's ordering.

#include <optional>
#include <string>
#include <string_view>

#include "aptrepo/core/error.hpp"

namespace aptship::pipeline {

// "1.2.0+b42.gabc1234" for BASE 1.2.0, build number 42 and a commit id
// (abbreviated to 7 hex digits). BASE must be a valid upstream version
// without '-' (the version carries no Debian revision) and start with a
// digit.
[[nodiscard]] Expected<std::string> build_version(std::string_view base, uint64_t build_number,
                                                  std::string_view commit);

// Succeeds when CANDIDATE is greater than LATEST (the newest version already
// published for the app in the suite, if any); the error explains that the
// push would go backwards and which base version to raise.
[[nodiscard]] Expected<void> check_increasing(std::string_view candidate,
                                              const std::optional<std::string>& latest,
                                              std::string_view suite);

} // namespace aptship::pipeline
