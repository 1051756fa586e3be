#include "aptrepo/deb/control.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "aptrepo/deb/version.hpp"

namespace aptship::deb {

namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Collects one message per bad field, in the order the checks run.
class Problems {
public:
  void missing(std::string_view field) {
    m_list.push_back(fmt::format("field '{}' is missing", field));
  }
  void bad(std::string_view field, std::string_view what) {
    m_list.push_back(fmt::format("field '{}': {}", field, what));
  }
  [[nodiscard]] bool empty() const { return m_list.empty(); }
  [[nodiscard]] std::string joined() const {
    std::string out;
    for (const std::string& item : m_list) {
      if (!out.empty()) {
        out += "; ";
      }
      out += item;
    }
    return out;
  }

private:
  std::vector<std::string> m_list;
};

// The value of a required single-line field, or nothing after recording
// why it is unusable.
std::optional<std::string_view> required(const Paragraph& control, std::string_view field,
                                         Problems& problems) {
  std::optional<std::string_view> value = control.get(field);
  if (!value) {
    problems.missing(field);
    return std::nullopt;
  }
  if (value->empty()) {
    problems.bad(field, "is empty");
    return std::nullopt;
  }
  return value;
}

} // namespace

Expected<void> check_package_name(std::string_view name) {
  bool valid = name.size() >= 2 && is_lower_alnum(name.front()) &&
               std::all_of(name.begin(), name.end(), [](char c) {
                 return is_lower_alnum(c) || c == '+' || c == '-' || c == '.';
               });
  if (!valid) {
    return make_error("invalid package name {}: it needs at least two characters, lowercase "
                      "letters, digits, '+', '-' and '.', starting with a letter or digit",
                      quoted(name));
  }
  return {};
}

Expected<void> check_architecture(std::string_view arch) {
  if (arch == "all" || arch == "any") {
    return {};
  }
  bool valid =
      !arch.empty() && is_lower_alnum(arch.front()) &&
      std::all_of(arch.begin(), arch.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
  if (!valid) {
    return make_error("invalid architecture name {}: it needs lowercase letters, digits and '-', "
                      "starting with a letter or digit",
                      quoted(arch));
  }
  return {};
}

Expected<void> check_binary_control(const Paragraph& control, std::string_view source) {
  Problems problems;

  if (auto name = required(control, "Package", problems)) {
    if (auto checked = check_package_name(*name); !checked) {
      problems.bad("Package", checked.error().message());
    }
  }
  if (auto text = required(control, "Version", problems)) {
    if (auto version = Version::parse(*text); !version) {
      problems.bad("Version", version.error().message());
    }
  }
  if (auto arch = required(control, "Architecture", problems)) {
    if (std::any_of(arch->begin(), arch->end(), [](char c) { return is_blank(c) || c == '\n'; })) {
      // A source package lists architectures; a built .deb is for one.
      problems.bad("Architecture",
                   fmt::format("{} is a list; a binary package has exactly one architecture",
                               quoted(*arch)));
    } else if (auto checked = check_architecture(*arch); !checked) {
      problems.bad("Architecture", checked.error().message());
    }
  }
  required(control, "Maintainer", problems);
  if (auto description = control.get("Description"); !description) {
    problems.missing("Description");
  } else if (description->empty() || description->front() == '\n') {
    problems.bad("Description", "the first line (the synopsis) is empty");
  }
  if (auto size = control.get("Installed-Size")) {
    if (size->empty() || !std::all_of(size->begin(), size->end(), is_digit)) {
      problems.bad("Installed-Size", fmt::format("{} is not a number of KiB", quoted(*size)));
    }
  }

  if (!problems.empty()) {
    if (source.empty()) {
      return tl::unexpected<Error>(Error(problems.joined()));
    }
    return make_error("{}: {}", source, problems.joined());
  }
  return {};
}

} // namespace aptship::deb
