#include "aptrepo/index/config.hpp"

#include <cerrno>
#include <set>
#include <system_error>

#include <toml++/toml.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/text.hpp"
#include "aptrepo/deb/control.hpp"

namespace aptship::index {

namespace {

// Collects every problem of a file, each with its key path.
class Problems {
public:
  void add(std::string_view path, std::string_view problem) {
    m_list.push_back(fmt::format("{}: {}", path, problem));
  }
  [[nodiscard]] bool empty() const { return m_list.empty(); }
  [[nodiscard]] std::string joined(std::string_view source) const {
    std::string out(source);
    out += ": ";
    for (size_t i = 0; i < m_list.size(); ++i) {
      if (i > 0) {
        out += "; ";
      }
      out += m_list[i];
    }
    return out;
  }

private:
  std::vector<std::string> m_list;
};

std::string key_path(std::string_view parent, std::string_view key) {
  // A key that is not a bare key is shown quoted, as TOML writes it.
  bool bare = !key.empty();
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    bare = bare && ok;
  }
  std::string shown = bare ? std::string(key) : fmt::format("\"{}\"", printable(key));
  return parent.empty() ? shown : fmt::format("{}.{}", parent, shown);
}

// A single-line string.
std::optional<std::string> get_string(const toml::node& node, std::string_view path,
                                      Problems& problems, bool allow_empty = false) {
  const auto* value = node.as_string();
  if (value == nullptr) {
    problems.add(path, "expected a string");
    return std::nullopt;
  }
  const std::string& text = value->get();
  if (!allow_empty && text.empty()) {
    problems.add(path, "must not be empty");
    return std::nullopt;
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      problems.add(path, "must be one line without control characters");
      return std::nullopt;
    }
  }
  return text;
}

std::optional<int64_t> get_integer(const toml::node& node, std::string_view path,
                                   Problems& problems, int64_t min, int64_t max) {
  const auto* value = node.as_integer();
  if (value == nullptr) {
    problems.add(path, "expected an integer");
    return std::nullopt;
  }
  int64_t n = value->get();
  if (n < min || n > max) {
    problems.add(path, fmt::format("{} is out of range ({} to {})", n, min, max));
    return std::nullopt;
  }
  return n;
}

// An array of distinct strings, each accepted by CHECK.
std::optional<std::vector<std::string>>
get_string_list(const toml::node& node, std::string_view path, Problems& problems,
                const std::function<Expected<void>(std::string_view)>& check) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    problems.add(path, "expected an array of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  std::set<std::string, std::less<>> seen;
  bool ok = true;
  for (size_t i = 0; i < array->size(); ++i) {
    const auto* item = (*array)[i].as_string();
    std::string item_path = fmt::format("{}[{}]", path, i);
    if (item == nullptr) {
      problems.add(item_path, "expected a string");
      ok = false;
      continue;
    }
    const std::string& text = item->get();
    if (auto valid = check(text); !valid) {
      problems.add(item_path, valid.error().message());
      ok = false;
      continue;
    }
    if (!seen.insert(text).second) {
      problems.add(item_path, fmt::format("'{}' is listed twice", printable(text)));
      ok = false;
      continue;
    }
    out.push_back(text);
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

Expected<void> check_index_architecture(std::string_view arch) {
  if (arch == "all" || arch == "any") {
    return make_error("'{}' is not an index architecture ('all' packages are listed in every "
                      "architecture's index)",
                      arch);
  }
  return deb::check_architecture(arch);
}

Expected<void> check_compression(std::string_view name) {
  if (name == "gz" || name == "xz" || name == "zst") {
    return {};
  }
  return make_error("unknown compression '{}' (expected gz, xz or zst)", printable(name));
}

IndexCompression compression_of(std::string_view name) {
  if (name == "xz") {
    return IndexCompression::xz;
  }
  if (name == "zst") {
    return IndexCompression::zst;
  }
  return IndexCompression::gz;
}

void read_repository(const toml::table& table, Config& config, Problems& problems) {
  for (const auto& [key, node] : table) {
    std::string path = key_path("repository", key.str());
    if (key.str() == "origin") {
      if (auto v = get_string(node, path, problems)) {
        config.origin = *v;
      }
    } else if (key.str() == "label") {
      if (auto v = get_string(node, path, problems)) {
        config.label = *v;
      }
    } else {
      problems.add(path, "unknown key");
    }
  }
}

void read_serve(const toml::table& table, Config& config, Problems& problems) {
  for (const auto& [key, node] : table) {
    std::string path = key_path("serve", key.str());
    if (key.str() == "listen") {
      if (auto v = get_string(node, path, problems)) {
        config.serve.listen = *v;
      }
    } else if (key.str() == "trusted_proxies") {
      auto any = [](std::string_view text) -> Expected<void> {
        if (text.empty()) {
          return make_error("must not be empty");
        }
        return {};
      };
      if (auto v = get_string_list(node, path, problems, any)) {
        config.serve.trusted_proxies = *v;
      }
    } else {
      problems.add(path, "unknown key");
    }
  }
}

void read_suite(const toml::table& table, std::string_view parent, SuiteConfig& suite,
                Problems& problems) {
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    std::string path = key_path(parent, name);
    if (name == "codename") {
      if (auto v = get_string(node, path, problems)) {
        if (auto ok = check_name("codename", *v); !ok) {
          problems.add(path, ok.error().message());
        } else {
          suite.codename = *v;
        }
      }
    } else if (name == "description") {
      if (auto v = get_string(node, path, problems, true)) {
        suite.description = *v;
      }
    } else if (name == "architectures") {
      if (auto v = get_string_list(node, path, problems, check_index_architecture)) {
        suite.architectures = *v;
      }
    } else if (name == "components") {
      auto check = [](std::string_view text) { return check_name("component", text); };
      if (auto v = get_string_list(node, path, problems, check)) {
        suite.components = *v;
      }
    } else if (name == "retention") {
      if (auto v = get_integer(node, path, problems, 0, 1'000'000)) {
        suite.retention = static_cast<unsigned>(*v);
      }
    } else if (name == "valid_days") {
      if (auto v = get_integer(node, path, problems, 1, 3650)) {
        suite.valid_for = std::chrono::hours(24 * *v);
      }
    } else if (name == "compressions") {
      if (auto v = get_string_list(node, path, problems, check_compression)) {
        std::vector<IndexCompression> list;
        for (const auto& c : *v) {
          list.push_back(compression_of(c));
        }
        suite.compressions = list;
      }
    } else if (name == "by_hash_keep") {
      if (auto v = get_integer(node, path, problems, 1, 1000)) {
        suite.by_hash_keep = static_cast<unsigned>(*v);
      }
    } else {
      problems.add(path, "unknown key");
    }
  }
}

void read_suites(const toml::table& table, Config& config, Problems& problems) {
  for (const auto& [key, node] : table) {
    std::string path = key_path("suites", key.str());
    if (auto ok = check_name("suite", key.str()); !ok) {
      problems.add(path, ok.error().message());
      continue;
    }
    const auto* suite_table = node.as_table();
    if (suite_table == nullptr) {
      problems.add(path, "expected a table");
      continue;
    }
    SuiteConfig suite;
    read_suite(*suite_table, path, suite, problems);
    config.suites.emplace(std::string(key.str()), std::move(suite));
  }
}

} // namespace

const SuiteConfig& Config::suite(std::string_view name) const {
  static const SuiteConfig k_defaults;
  auto it = suites.find(name);
  return it == suites.end() ? k_defaults : it->second;
}

Expected<void> check_name(std::string_view what, std::string_view name) {
  if (name.empty()) {
    return make_error("the {} name is empty", what);
  }
  if (name.size() > 100) {
    return make_error("{} name '{}...' is longer than 100 characters", what,
                      printable(name.substr(0, 20)));
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '+' || c == '-';
    if (!ok) {
      return make_error("{} name '{}' may only hold letters, digits and . _ + -", what,
                        printable(name));
    }
  }
  if (name.front() == '.' || name.front() == '-') {
    return make_error("{} name '{}' must not start with '{}'", what, printable(name), name.front());
  }
  return {};
}

Expected<Config> parse_config(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return make_error("{}: line {}, column {}: {}", source, e.source().begin.line,
                      e.source().begin.column, printable(e.description()));
  }
  Config config;
  Problems problems;
  for (const auto& [key, node] : root) {
    std::string path = key_path("", key.str());
    const auto* table = node.as_table();
    if (key.str() != "repository" && key.str() != "serve" && key.str() != "suites") {
      problems.add(path, "unknown key");
    } else if (table == nullptr) {
      problems.add(path, "expected a table");
    } else if (key.str() == "repository") {
      read_repository(*table, config, problems);
    } else if (key.str() == "serve") {
      read_serve(*table, config, problems);
    } else {
      read_suites(*table, config, problems);
    }
  }
  if (!problems.empty()) {
    return tl::unexpected(Error(problems.joined(source)));
  }
  return config;
}

Expected<Config> load_config(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec) {
      return Config{};
    }
    return tl::unexpected(text.error());
  }
  return parse_config(*text, path.string());
}

SuiteSettings suite_settings(const Config& config, std::string_view suite,
                             const std::vector<ListedPackage>& packages) {
  const SuiteConfig& sc = config.suite(suite);
  SuiteSettings settings;
  settings.suite = std::string(suite);
  settings.codename = sc.codename.value_or(std::string(suite));
  settings.origin = config.origin;
  settings.label = config.label;
  settings.description = sc.description.value_or("");
  if (!sc.architectures.empty()) {
    settings.architectures = sc.architectures;
  } else {
    std::set<std::string> archs;
    for (const auto& p : packages) {
      if (p.architecture != "all") {
        archs.insert(p.architecture);
      }
    }
    if (archs.empty()) {
      archs.insert("amd64");
    }
    settings.architectures.assign(archs.begin(), archs.end());
  }
  if (!sc.components.empty()) {
    settings.components = sc.components;
  } else {
    std::set<std::string> comps;
    for (const auto& p : packages) {
      comps.insert(p.component);
    }
    if (comps.empty()) {
      comps.insert("main");
    }
    settings.components.assign(comps.begin(), comps.end());
  }
  if (sc.compressions) {
    settings.compressions = *sc.compressions;
  }
  if (sc.valid_for) {
    settings.valid_for = *sc.valid_for;
  }
  if (sc.by_hash_keep) {
    settings.by_hash_keep = *sc.by_hash_keep;
  }
  return settings;
}

} // namespace aptship::index
