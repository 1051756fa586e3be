#pragma once

// Debian version numbers: [epoch:]upstream[-revision], parsed and compared
// exactly as dpkg does (deb-version(5), dpkg's lib/dpkg/version.c rules).

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "aptrepo/core/error.hpp"

namespace aptship::deb {

struct Version {
  uint32_t epoch = 0;
  std::string upstream;
  std::string revision; // empty when absent

  // Parses TEXT with dpkg's syntax rules; errors say what is wrong
  // ("version '1:' has nothing after the epoch colon").
  [[nodiscard]] static Expected<Version> parse(std::string_view text);
  // The canonical text: epoch omitted when 0 (unless the upstream part has
  // a ':'), "-revision" when present.
  [[nodiscard]] std::string to_string() const;
};

// <0, 0 or >0 like dpkg --compare-versions (epoch, then upstream, then
// revision, each with dpkg's verrevcmp: "~" sorts before everything).
[[nodiscard]] int compare(const Version& a, const Version& b);

inline std::strong_ordering operator<=>(const Version& a, const Version& b) {
  return compare(a, b) <=> 0;
}
inline bool operator==(const Version& a, const Version& b) {
  return compare(a, b) == 0;
}

} // namespace aptship::deb
