#pragma once

// What an app's own files say about its package: app.json (the Heroku and
// Dokku convention) and the [package] table of aptship.toml.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship::pipeline {

struct AppConfig {
  std::string base_version = "0.1.0";     // upstream part of every build's version
  std::string description;                // package synopsis; empty: a generated one
  std::string maintainer;                 // empty: "APP deployer <aptship@HOSTNAME>"
  std::vector<std::string> depends;       // Depends entries added to the buildpacks'
  std::map<std::string, std::string> env; // defaults for /etc/APP/env
  std::optional<uint16_t> port;           // PORT of the web process
  std::string user;                       // system user; empty: the app name
};

// Reads SOURCE/app.json and SOURCE/aptship.toml when present. app.json
// gives "description" and "env" (values, or objects with "value");
// aptship.toml's [package] gives version, description, maintainer,
// depends, port, user and [package.env]. Unknown keys in [package] are
// errors naming the key; every problem is reported at once.
[[nodiscard]] Expected<AppConfig> read_app_config(const std::filesystem::path& source);

} // namespace aptship::pipeline
