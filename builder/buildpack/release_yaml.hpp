#pragma once

// The YAML a buildpack's bin/release prints, and how several merge.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship::buildpack {

// What one or more bin/release outputs declare.
struct Release {
  std::map<std::string, std::string> default_process_types;
  std::map<std::string, std::string> config_vars;
  std::vector<std::string> depends; // aptship's extension: Debian runtime Depends, in order
};

// Parses bin/release output: a YAML map with optional
// `default_process_types` and `config_vars` (maps of scalars) and
// `depends` (a list of strings, or one string); empty output is an empty
// release. Other keys (e.g. `addons`) are ignored.
[[nodiscard]] Expected<Release> parse_release(std::string_view yaml);

// Merges LATER into INTO: later keys win, depends are a union keeping the
// first position of each entry.
void merge_release(Release& into, const Release& later);

} // namespace aptship::buildpack
