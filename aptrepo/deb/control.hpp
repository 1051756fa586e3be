#pragma once

// Validation of a binary package's control paragraph (DEBIAN/control) and
// of the syntax of its names, as dpkg-deb and Debian policy require.

#include <string_view>

#include "aptrepo/core/error.hpp"
#include "aptrepo/deb/deb822.hpp"

namespace aptship::deb {

// Checks a package name: [a-z0-9][a-z0-9+.-]+ (policy 5.6.1).
[[nodiscard]] Expected<void> check_package_name(std::string_view name);
// Checks an architecture name: "all", "any" or [a-z0-9][a-z0-9-]*.
[[nodiscard]] Expected<void> check_architecture(std::string_view arch);

// Checks a binary control paragraph: Package, Version, Architecture,
// Maintainer and Description present and valid (Description needs a
// synopsis), name/version/architecture syntax, no Installed-Size that is
// not a number. Every problem is reported in one error, SOURCE first:
// "DEBIAN/control: field 'Version': ...; field 'Maintainer' is missing".
[[nodiscard]] Expected<void> check_binary_control(const Paragraph& control,
                                                  std::string_view source);

} // namespace aptship::deb
