#include "builder/stage/validate.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "aptrepo/core/problems.hpp"
#include "aptrepo/deb/control.hpp"
#include "aptrepo/deb/deb822.hpp"
#include "aptrepo/deb/version.hpp"
#include "builder/stage/names.hpp"

namespace aptship::stage {

namespace {

// The accounts of Debian's base-passwd: an app sharing one of them would
// run as, and hand its directories to, a user the system relies on.
constexpr std::array<std::string_view, 21> k_system_accounts = {
    "root", "daemon", "bin",   "sys",    "sync",    "games",    "man",
    "lp",   "mail",   "news",  "uucp",   "proxy",   "www-data", "backup",
    "list", "irc",    "gnats", "nobody", "nogroup", "staff",    "users"};

constexpr size_t k_max_app = 63;     // as `aptship receive` accepts app names
constexpr size_t k_max_user = 32;    // useradd's limit
constexpr size_t k_max_process = 64; // keeps unit names well under systemd's 255

bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return is_lower(c) || (c >= 'A' && c <= 'Z');
}

// Control bytes other than tab: they break the line-based files and
// scripts these strings are written into.
bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && c != '\t') || byte == 0x7f;
  });
}

void check_app(const AppSpec& spec, Problems& problems) {
  const std::string_view app = spec.app;
  const bool valid = app.size() >= 2 && app.size() <= k_max_app &&
                     (is_lower(app.front()) || is_digit(app.front())) &&
                     std::all_of(app.begin(), app.end(),
                                 [](char c) { return is_lower(c) || is_digit(c) || c == '-'; });
  if (!valid) {
    problems.add(fmt::format("app name {} must be 2 to {} lowercase letters, digits and '-', "
                             "starting with a letter or digit",
                             deb::quoted(app), k_max_app));
  }
}

void check_user(const AppSpec& spec, Problems& problems) {
  const std::string user = user_of(spec);
  const bool valid = !user.empty() && user.size() <= k_max_user &&
                     (is_lower(user.front()) || user.front() == '_') &&
                     std::all_of(user.begin(), user.end(), [](char c) {
                       return is_lower(c) || is_digit(c) || c == '-' || c == '_';
                     });
  if (!valid) {
    problems.add(fmt::format("user {} must be 1 to {} lowercase letters, digits, '-' and '_', "
                             "starting with a letter or '_'{}",
                             deb::quoted(user), k_max_user,
                             spec.user.empty() ? " (it is the app name: set a user)" : ""));
  } else if (std::find(k_system_accounts.begin(), k_system_accounts.end(), user) !=
             k_system_accounts.end()) {
    problems.add(fmt::format("user {} is one of the system's own accounts{}", deb::quoted(user),
                             spec.user.empty() ? " (it is the app name: set a user)" : ""));
  }
}

void check_control_fields(const AppSpec& spec, Problems& problems) {
  if (auto version = deb::Version::parse(spec.version); !version) {
    problems.add(version.error().message());
  }
  if (spec.architecture == "any") {
    problems.add("architecture 'any' is for source packages; a built package names one "
                 "architecture or 'all'");
  } else if (auto arch = deb::check_architecture(spec.architecture); !arch) {
    problems.add(arch.error().message());
  }
  // A deliberately loose "Name <user@host>", as policy 5.6.2 asks.
  const std::string_view maintainer = spec.maintainer;
  const size_t open = maintainer.find('<');
  const bool maintainer_ok = !has_control(maintainer) && open != std::string_view::npos &&
                             open > 0 && maintainer.back() == '>' &&
                             maintainer.find('@', open) != std::string_view::npos &&
                             maintainer.find(',') == std::string_view::npos;
  if (!maintainer_ok) {
    problems.add(
        fmt::format("maintainer {} must be one 'Name <user@host>'", deb::quoted(maintainer)));
  }
  const std::string_view description = spec.description;
  if (description.empty() || has_control(description) || description.front() == ' ' ||
      description.front() == '\t') {
    problems.add(
        fmt::format("description {} must be one non-empty line", deb::quoted(description)));
  }
  std::set<std::string_view> seen;
  for (const std::string& entry : spec.depends) {
    // Package names, architecture qualifiers, alternatives and version
    // constraints; a ',' would smuggle in a second entry.
    const bool valid = !entry.empty() && std::all_of(entry.begin(), entry.end(), [](char c) {
      return is_alpha(c) || is_digit(c) ||
             std::string_view("+-.:|()<>=~ ").find(c) != std::string_view::npos;
    });
    if (!valid) {
      problems.add(fmt::format("depends entry {} is not one dependency", deb::quoted(entry)));
    } else if (!seen.insert(entry).second) {
      problems.add(fmt::format("depends entry {} is listed twice", deb::quoted(entry)));
    }
  }
  for (const std::string& change : spec.changes) {
    if (change.empty() || has_control(change)) {
      problems.add(
          fmt::format("changelog entry {} must be one non-empty line", deb::quoted(change)));
    }
  }
}

void check_processes(const AppSpec& spec, Problems& problems) {
  std::set<std::string_view> seen;
  unsigned others = 0;
  for (const ProcessType& process : spec.processes) {
    const std::string_view name = process.name;
    const bool valid = !name.empty() && name.size() <= k_max_process &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return is_alpha(c) || is_digit(c) || c == '_' || c == '-';
                       });
    if (!valid) {
      problems.add(fmt::format("process type {} must be 1 to {} letters, digits, '_' and '-'",
                               deb::quoted(name), k_max_process));
    } else if (!seen.insert(name).second) {
      problems.add(fmt::format("process type {} is defined twice", deb::quoted(name)));
    }
    if (process.command.empty() || has_control(process.command)) {
      problems.add(fmt::format("process type {}: command {} must be one non-empty line",
                               deb::quoted(name), deb::quoted(process.command)));
    }
    others += name == "web" ? 0 : 1;
  }
  if (spec.port == 0) {
    problems.add("port 0 is not a port");
  } else if (spec.port + others > 65535) {
    problems.add(fmt::format("port {} leaves no room for the ports of {} more process types",
                             spec.port, others));
  }
}

void check_env(const AppSpec& spec, Problems& problems) {
  for (const auto& [key, value] : spec.env) {
    const bool valid_key = !key.empty() && (is_alpha(key.front()) || key.front() == '_') &&
                           std::all_of(key.begin(), key.end(), [](char c) {
                             return is_alpha(c) || is_digit(c) || c == '_';
                           });
    if (!valid_key) {
      problems.add(fmt::format("env key {} must be letters, digits and '_', not starting "
                               "with a digit",
                               deb::quoted(key)));
    } else if (key == "PORT") {
      problems.add("env key 'PORT' is set from the port, not from env");
    }
    if (has_control(value)) {
      problems.add(
          fmt::format("env {}: value {} must be one line", deb::quoted(key), deb::quoted(value)));
    }
  }
}

} // namespace

Expected<void> check_spec(const AppSpec& spec) {
  Problems problems;
  check_app(spec, problems);
  check_user(spec, problems);
  check_control_fields(spec, problems);
  check_processes(spec, problems);
  check_env(spec, problems);
  if (!problems.empty()) {
    return make_error("app spec: {}", problems.joined());
  }
  return {};
}

} // namespace aptship::stage
