#include "builder/stage/control.hpp"

#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "aptrepo/deb/control.hpp"
#include "aptrepo/deb/deb822.hpp"
#include "builder/stage/names.hpp"

namespace aptship::stage {

namespace {

constexpr size_t k_line_width = 72;

// The package name a Depends entry starts with ("adduser (>= 3)" -> "adduser").
std::string_view depended_name(std::string_view entry) {
  const size_t end = entry.find_first_of(" (:|");
  return entry.substr(0, end);
}

// TEXT as Description continuation lines: words wrapped at k_line_width,
// each line "\n " + words.
std::string wrapped(std::string_view text) {
  std::string out;
  std::string line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view word = text.substr(start, end - start);
    if (!line.empty() && line.size() + 1 + word.size() > k_line_width) {
      out += "\n " + line;
      line.clear();
    }
    line += line.empty() ? "" : " ";
    line += word;
    start = end + 1;
  }
  if (!line.empty()) {
    out += "\n " + line;
  }
  return out;
}

std::string long_description(const AppSpec& spec) {
  std::string processes;
  for (const ProcessType& process : spec.processes) {
    processes += processes.empty() ? "" : ", ";
    processes += process.name;
  }
  std::string text = fmt::format(
      "The {app} application, installed in {dir} and run by the {app} command as the {user} "
      "system user.",
      fmt::arg("app", spec.app), fmt::arg("dir", app_dir(spec)), fmt::arg("user", user_of(spec)));
  if (!processes.empty()) {
    text += fmt::format(" Its processes ({}) are systemd services grouped by {}.", processes,
                        target_name(spec));
  }
  text += fmt::format(" Its configuration is {}; see {}(1).", env_path(spec), spec.app);
  return wrapped(text);
}

} // namespace

Expected<std::string> render_control(const AppSpec& spec) {
  // adduser first, unless the spec names it (maybe with a version).
  std::string depends = "adduser";
  for (const std::string& entry : spec.depends) {
    if (depended_name(entry) == "adduser") {
      depends.clear();
    }
  }
  for (const std::string& entry : spec.depends) {
    depends += depends.empty() ? "" : ", ";
    depends += entry;
  }
  deb::Paragraph control;
  control.set("Package", spec.app);
  control.set("Version", spec.version);
  control.set("Architecture", spec.architecture);
  control.set("Maintainer", spec.maintainer);
  control.set("Depends", depends);
  control.set("Section", "misc");
  control.set("Priority", "optional");
  control.set("Description", spec.description + long_description(spec));
  const std::string text = control.to_string();
  // Parsing what was written checks that no value broke the format.
  TRY_ASSIGN(deb::Paragraph parsed, deb::parse_one(text, "DEBIAN/control"));
  TRY(deb::check_binary_control(parsed, "DEBIAN/control"));
  return text;
}

std::string render_conffiles(const AppSpec& spec) {
  return env_path(spec) + "\n";
}

} // namespace aptship::stage
