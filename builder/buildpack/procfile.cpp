#include "builder/buildpack/procfile.hpp"

#include <algorithm>

#include "aptrepo/core/text.hpp"

namespace aptship::buildpack {

namespace {

std::string_view trim(std::string_view text) {
  const char* space = " \t\r";
  auto begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos) {
    return {};
  }
  auto end = text.find_last_not_of(space);
  return text.substr(begin, end - begin + 1);
}

bool is_process_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

} // namespace

Expected<std::vector<ProcfileEntry>> parse_procfile(std::string_view text) {
  std::vector<ProcfileEntry> entries;
  size_t number = 0;
  while (!text.empty()) {
    ++number;
    auto end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    auto colon = line.find(':');
    std::string_view name = colon == std::string_view::npos ? line : trim(line.substr(0, colon));
    std::string_view command =
        colon == std::string_view::npos ? std::string_view() : trim(line.substr(colon + 1));
    if (colon == std::string_view::npos || !is_process_name(name) || command.empty()) {
      return make_error("Procfile line {}: expected 'name: command', got '{}'", number,
                        printable(line));
    }
    auto same = [name](const ProcfileEntry& entry) { return entry.name == name; };
    if (std::any_of(entries.begin(), entries.end(), same)) {
      return make_error("Procfile line {}: process type '{}' is defined twice", number, name);
    }
    entries.push_back(ProcfileEntry{std::string(name), std::string(command)});
  }
  return entries;
}

} // namespace aptship::buildpack
