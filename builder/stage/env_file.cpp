#include "builder/stage/env_file.hpp"

#include <fmt/format.h>

#include "builder/stage/names.hpp"
#include "builder/stage/shell.hpp"

namespace aptship::stage {

std::string render_env_file(const AppSpec& spec) {
  std::string out =
      fmt::format("# Environment of {app}: read by its systemd units (EnvironmentFile=) and\n"
                  "# by `{app} run`, which sources it with /bin/sh.\n"
                  "#\n"
                  "# One KEY=VALUE per line. Quote a value holding anything but letters,\n"
                  "# digits and _./:@%+,- in double quotes, with \\ \" ` and $ escaped by a\n"
                  "# backslash; that is the quoting sh and systemd read alike.\n"
                  "# `{app} config:set KEY=VALUE` and `{app} config:unset KEY` edit this file;\n"
                  "# `{app} restart` applies the changes. Files {conf}/*.env, in the same\n"
                  "# format, are read after this one, in name order.\n"
                  "#\n"
                  "# PORT is the port of the web process; the N-th other process type gets\n"
                  "# PORT+N.\n",
                  fmt::arg("app", spec.app), fmt::arg("conf", conf_dir(spec)));
  out += env_assignment("PORT", std::to_string(spec.port));
  out += '\n';
  for (const auto& [key, value] : spec.env) {
    out += env_assignment(key, value);
    out += '\n';
  }
  return out;
}

} // namespace aptship::stage
