#include "aptrepo/fleet/commands.hpp"

#include "aptrepo/deb/version.hpp"

namespace aptship::fleet {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

} // namespace

std::vector<std::string> reachable_argv() {
  return {"true"};
}

std::vector<std::string> update_argv() {
  return {"apt-get", "update", "-q"};
}

std::vector<std::string> madison_argv(const std::string& app) {
  return {"apt-cache", "madison", app};
}

std::vector<std::string> installed_argv(const std::string& app) {
  return {"dpkg-query", "-W", "-f=${db:Status-Abbrev}${Version}", app};
}

std::vector<std::string> install_argv(const std::string& app, const std::string& version,
                                      DownloadOnly download_only) {
  std::vector<std::string> argv = {"env",
                                   "DEBIAN_FRONTEND=noninteractive",
                                   "NEEDRESTART_MODE=l",
                                   "apt-get",
                                   "install",
                                   "-y",
                                   "-q",
                                   "--allow-downgrades",
                                   "-o",
                                   "DPkg::Lock::Timeout=60",
                                   "-o",
                                   "Dpkg::Options::=--force-confold"};
  if (download_only == DownloadOnly::yes) {
    argv.emplace_back("--download-only");
  }
  argv.push_back(app + "=" + version);
  return argv;
}

std::vector<std::string> restart_argv(const FleetFile& fleet) {
  if (!fleet.restart_command.empty()) {
    return fleet.restart_command;
  }
  std::vector<std::string> argv = {"systemctl", "restart"};
  argv.insert(argv.end(), fleet.units.begin(), fleet.units.end());
  return argv;
}

std::optional<std::vector<std::string>> active_argv(const FleetFile& fleet) {
  if (!fleet.restart_command.empty()) {
    return std::nullopt;
  }
  std::vector<std::string> argv = {"systemctl", "is-active", "--quiet"};
  argv.insert(argv.end(), fleet.units.begin(), fleet.units.end());
  return argv;
}

std::vector<std::string> parse_madison(std::string_view output) {
  std::vector<std::string> out;
  while (!output.empty()) {
    size_t end = output.find('\n');
    std::string_view line = output.substr(0, end);
    output = end == std::string_view::npos ? std::string_view() : output.substr(end + 1);
    size_t first = line.find('|');
    if (first == std::string_view::npos) {
      continue;
    }
    size_t second = line.find('|', first + 1);
    std::string_view version = trim(line.substr(
        first + 1, second == std::string_view::npos ? std::string_view::npos : second - first - 1));
    if (!version.empty()) {
      out.emplace_back(version);
    }
  }
  return out;
}

Expected<std::string> newest_version(const std::vector<std::string>& versions) {
  std::optional<deb::Version> best;
  std::string best_text;
  for (const auto& text : versions) {
    TRY_ASSIGN(deb::Version version, deb::Version::parse(text));
    if (!best || deb::compare(version, *best) > 0) {
      best = version;
      best_text = text;
    }
  }
  if (!best) {
    return make_error("no version available");
  }
  return best_text;
}

InstalledPackage parse_installed(std::string_view output, int exit_code) {
  InstalledPackage out;
  if (exit_code != 0 || output.size() < 3) {
    return out;
  }
  out.installed = output.substr(0, 2) == "ii";
  out.version = std::string(trim(output.substr(3)));
  return out;
}

} // namespace aptship::fleet
