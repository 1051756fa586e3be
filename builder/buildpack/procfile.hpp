#pragma once

// The Procfile: `name: command` lines naming an app's process types.

#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship::buildpack {

// One `name: command` line.
struct ProcfileEntry {
  std::string name;
  std::string command;
};

// Parses a Procfile, keeping the file's order. Blank lines and `#`
// comments are skipped; a line that is not `name: command` with a name of
// letters, digits, '-' and '_', or a name given twice, is an error naming
// the line number.
[[nodiscard]] Expected<std::vector<ProcfileEntry>> parse_procfile(std::string_view text);

} // namespace aptship::buildpack
