#include "builder/buildpack/selection.hpp"

#include <optional>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/text.hpp"

namespace aptship::buildpack {

namespace fs = std::filesystem;

namespace {

std::string_view trim(std::string_view text) {
  const char* space = " \t\r\n";
  auto begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos) {
    return {};
  }
  auto end = text.find_last_not_of(space);
  return text.substr(begin, end - begin + 1);
}

bool is_git_url(std::string_view spec) {
  return spec.find("://") != std::string_view::npos || spec.starts_with("git@");
}

// Built-in names are plain directory names: nothing that could climb out of
// the built-in directory.
bool is_builtin_name(std::string_view name) {
  if (name.empty() || name.front() == '.') {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// The contents of PATH, or nothing when there is no such file.
Expected<std::optional<std::string>> read_optional(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return std::optional<std::string>();
  }
  TRY_ASSIGN(std::string text, read_file(path));
  return std::optional<std::string>(std::move(text));
}

} // namespace

const std::vector<std::string>& detection_order() {
  static const std::vector<std::string> k_order = {"nodejs", "python", "cmake", "static",
                                                   "procfile"};
  return k_order;
}

std::vector<std::string> parse_buildpacks_file(std::string_view text) {
  std::vector<std::string> specs;
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    specs.emplace_back(line);
  }
  return specs;
}

Expected<std::vector<std::string>> parse_app_json_buildpacks(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) {
    return make_error("app.json is not valid JSON");
  }
  if (!json.is_object()) {
    return make_error("app.json is not a JSON object");
  }
  std::vector<std::string> specs;
  auto it = json.find("buildpacks");
  if (it == json.end() || it->is_null()) {
    return specs;
  }
  if (!it->is_array()) {
    return make_error("app.json: \"buildpacks\" is not an array");
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const auto& entry = (*it)[i];
    auto url = entry.is_object() ? entry.find("url") : entry.end();
    if (!entry.is_object() || url == entry.end() || !url->is_string() ||
        trim(url->get_ref<const std::string&>()).empty()) {
      return make_error("app.json: buildpacks[{}] is not an object with a \"url\" string", i);
    }
    specs.emplace_back(trim(url->get_ref<const std::string&>()));
  }
  return specs;
}

Expected<Selection> select_buildpacks(const std::map<std::string, std::string>& env,
                                      const fs::path& source_dir) {
  if (auto it = env.find("BUILDPACK_URL"); it != env.end() && !trim(it->second).empty()) {
    return Selection{SelectionSource::buildpack_url, {std::string(trim(it->second))}};
  }
  TRY_ASSIGN(auto buildpacks_file, read_optional(source_dir / ".buildpacks"));
  if (buildpacks_file) {
    auto specs = parse_buildpacks_file(*buildpacks_file);
    if (!specs.empty()) {
      return Selection{SelectionSource::buildpacks_file, std::move(specs)};
    }
  }
  TRY_ASSIGN(auto app_json, read_optional(source_dir / "app.json"));
  if (app_json) {
    TRY_ASSIGN(auto specs, parse_app_json_buildpacks(*app_json));
    if (!specs.empty()) {
      return Selection{SelectionSource::app_json, std::move(specs)};
    }
  }
  return Selection{};
}

std::string redact_url(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return std::string(url);
  }
  size_t start = scheme + 3;
  auto at = url.find('@', start);
  auto slash = url.find('/', start);
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) {
    return std::string(url);
  }
  auto colon = url.find(':', start);
  if (colon == std::string_view::npos || colon > at) {
    return std::string(url);
  }
  return fmt::format("{}***{}", url.substr(0, colon + 1), url.substr(at));
}

Expected<BuildpackSpec> resolve_spec(std::string_view spec, const fs::path& builtin_dir) {
  BuildpackSpec result;
  result.spec = std::string(spec);
  result.display = redact_url(spec);
  if (is_git_url(spec)) {
    result.kind = SourceKind::git;
    auto hash = spec.find('#');
    result.url = std::string(spec.substr(0, hash));
    if (hash != std::string_view::npos) {
      result.ref = std::string(spec.substr(hash + 1));
      if (result.ref.empty()) {
        return make_error("buildpack {}: empty #ref", printable(result.display));
      }
    }
    return result;
  }
  std::error_code ec;
  if (spec.starts_with("/")) {
    result.kind = SourceKind::directory;
    result.directory = fs::path(spec).lexically_normal();
    if (!fs::is_directory(result.directory, ec)) {
      return make_error("buildpack {}: no such directory", printable(spec));
    }
    return result;
  }
  std::string_view name = spec;
  if (name.starts_with("heroku/")) {
    name.remove_prefix(7);
  }
  if (is_builtin_name(name) && !builtin_dir.empty() && fs::is_directory(builtin_dir / name, ec)) {
    result.kind = SourceKind::builtin;
    result.directory = builtin_dir / name;
    return result;
  }
  return make_error("unknown buildpack '{}': not a built-in, an absolute directory or a git URL",
                    printable(spec));
}

} // namespace aptship::buildpack
