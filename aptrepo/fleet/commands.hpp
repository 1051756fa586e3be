#pragma once

// The commands the rollout runs on a host, as argv vectors, and the parsers
// of their answers. The real run and --dry-run print the same vectors.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/fleet/fleet_file.hpp"

namespace aptship::fleet {

// `true`: the host answers.
[[nodiscard]] std::vector<std::string> reachable_argv();
// `apt-get update`.
[[nodiscard]] std::vector<std::string> update_argv();
// `apt-cache madison APP`: the versions the host's sources offer.
[[nodiscard]] std::vector<std::string> madison_argv(const std::string& app);
// dpkg-query for APP's status and installed version.
[[nodiscard]] std::vector<std::string> installed_argv(const std::string& app);

enum class DownloadOnly { no, yes };
// The non-interactive install of exactly APP=VERSION (downgrades allowed,
// conffiles kept, dpkg's lock awaited, needrestart only listing).
[[nodiscard]] std::vector<std::string>
install_argv(const std::string& app, const std::string& version, DownloadOnly download_only);
// [restart].command, else `systemctl restart UNITS`.
[[nodiscard]] std::vector<std::string> restart_argv(const FleetFile& fleet);
// `systemctl is-active --quiet UNITS`, or nothing when [restart].command
// replaces systemd.
[[nodiscard]] std::optional<std::vector<std::string>> active_argv(const FleetFile& fleet);

// The versions in `apt-cache madison` output, as listed.
[[nodiscard]] std::vector<std::string> parse_madison(std::string_view output);
// The highest of VERSIONS by dpkg's ordering; an error if there is none or one is malformed.
[[nodiscard]] Expected<std::string> newest_version(const std::vector<std::string>& versions);

struct InstalledPackage {
  bool installed = false; // dpkg status "ii": unpacked and configured
  std::string version;    // "" when dpkg knows no version
};
// Parses the output of installed_argv ("ii 1.0-1"); an unknown package is
// not installed.
[[nodiscard]] InstalledPackage parse_installed(std::string_view output, int exit_code);

} // namespace aptship::fleet
