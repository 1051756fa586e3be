#pragma once

// aptship's configuration file (DATA/aptship.toml): the repository's Origin
// and Label, the server's address, and per-suite publishing settings in
// optional [suites.NAME] tables. Unknown keys are errors, so that a typo
// never silently changes what gets published.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/index/publish.hpp"

namespace aptship::index {

// Settings of one suite; what is not set takes the publisher's default or
// is derived from the suite's packages.
struct SuiteConfig {
  std::optional<std::string> codename;    // default: the suite's name
  std::optional<std::string> description; // default: none
  std::vector<std::string> architectures; // empty: those of the packages (amd64 if none)
  std::vector<std::string> components;    // empty: those of the packages (main if none)
  unsigned retention = 10; // newest versions kept per package and architecture; 0 keeps all
  std::optional<std::chrono::seconds> valid_for;             // valid_days
  std::optional<std::vector<IndexCompression>> compressions; // besides plain Packages
  std::optional<unsigned> by_hash_keep;
};

struct ServeConfig {
  std::string listen = "127.0.0.1:8080";
  std::vector<std::string> trusted_proxies; // client addresses whose forwarding headers count
};

struct Config {
  std::string origin = "aptship";
  std::string label = "aptship";
  ServeConfig serve;
  std::map<std::string, SuiteConfig, std::less<>> suites; // the [suites.NAME] tables

  // The configuration of SUITE: its table, or the defaults.
  [[nodiscard]] const SuiteConfig& suite(std::string_view name) const;
};

// Parses TEXT; SOURCE names it in errors. Every problem is reported at once,
// each with its key path: "aptship.toml: suites.stable.retension: unknown key".
[[nodiscard]] Expected<Config> parse_config(std::string_view text, std::string_view source);

// Reads the file at PATH; a missing file gives the defaults.
[[nodiscard]] Expected<Config> load_config(const std::filesystem::path& path);

// Checks a suite, codename or component name: it becomes a path component
// under dists/ and pool/, so only [A-Za-z0-9._+-], not starting with "." or "-".
[[nodiscard]] Expected<void> check_name(std::string_view what, std::string_view name);

// The publisher's settings for SUITE, which lists PACKAGES.
[[nodiscard]] SuiteSettings suite_settings(const Config& config, std::string_view suite,
                                           const std::vector<ListedPackage>& packages);

} // namespace aptship::index
