#include "builder/pipeline/app_config.hpp"

#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/problems.hpp"

namespace aptship::pipeline {

namespace {

Expected<std::optional<std::string>> read_if_present(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return std::optional<std::string>();
  }
  TRY_ASSIGN(std::string text, read_file(path));
  return std::optional<std::string>(std::move(text));
}

void read_app_json(const std::string& text, AppConfig& config, Problems& problems) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    problems.add("app.json: not a JSON object");
    return;
  }
  if (auto it = doc.find("description"); it != doc.end()) {
    if (it->is_string()) {
      config.description = it->get<std::string>();
    } else {
      problems.add("app.json: \"description\" must be a string");
    }
  }
  if (auto it = doc.find("env"); it != doc.end()) {
    if (!it->is_object()) {
      problems.add("app.json: \"env\" must be an object");
      return;
    }
    for (const auto& [key, value] : it->items()) {
      // Heroku's form: {"KEY": "value"} or {"KEY": {"value": "...", ...}};
      // an entry without a value (a secret to fill in) sets nothing.
      if (value.is_string()) {
        config.env[key] = value.get<std::string>();
      } else if (value.is_object() && value.contains("value") && value["value"].is_string()) {
        config.env[key] = value["value"].get<std::string>();
      } else if (!value.is_object()) {
        problems.add(fmt::format("app.json: env.{} must be a string or an object", key));
      }
    }
  }
}

void read_aptship_toml(const std::string& text, AppConfig& config, Problems& problems) {
  toml::table root;
  // Debian's toml++ is built with exceptions: a syntax error is one.
  try {
    root = toml::parse(text, std::string_view("aptship.toml"));
  } catch (const toml::parse_error& e) {
    problems.add(fmt::format("aptship.toml:{}: {}", e.source().begin.line, e.description()));
    return;
  }
  const toml::table* package = root["package"].as_table();
  if (package == nullptr) {
    if (root.contains("package")) {
      problems.add("aptship.toml: [package] must be a table");
    }
    return;
  }
  static const std::set<std::string, std::less<>> k_known = {
      "version", "description", "maintainer", "depends", "port", "user", "env"};
  for (const auto& [key, value] : *package) {
    if (k_known.count(key.str()) == 0) {
      problems.add(fmt::format("aptship.toml: unknown key package.{}", key.str()));
    }
  }
  auto string_field = [&](std::string_view key, std::string& out) {
    if (const toml::node* node = package->get(key)) {
      if (auto s = node->value<std::string>()) {
        out = *s;
      } else {
        problems.add(fmt::format("aptship.toml: package.{} must be a string", key));
      }
    }
  };
  string_field("version", config.base_version);
  string_field("description", config.description);
  string_field("maintainer", config.maintainer);
  string_field("user", config.user);
  if (const toml::node* node = package->get("port")) {
    auto port = node->value<int64_t>();
    if (!port || *port < 1 || *port > 65535) {
      problems.add("aptship.toml: package.port must be a number from 1 to 65535");
    } else {
      config.port = static_cast<uint16_t>(*port);
    }
  }
  if (const toml::node* node = package->get("depends")) {
    const toml::array* list = node->as_array();
    if (list == nullptr) {
      problems.add("aptship.toml: package.depends must be a list of strings");
    } else {
      for (const toml::node& item : *list) {
        if (auto s = item.value<std::string>()) {
          config.depends.push_back(*s);
        } else {
          problems.add("aptship.toml: package.depends must be a list of strings");
          break;
        }
      }
    }
  }
  if (const toml::node* node = package->get("env")) {
    const toml::table* env = node->as_table();
    if (env == nullptr) {
      problems.add("aptship.toml: package.env must be a table");
    } else {
      for (const auto& [key, value] : *env) {
        if (auto s = value.value<std::string>()) {
          config.env[std::string(key.str())] = *s;
        } else {
          problems.add(fmt::format("aptship.toml: package.env.{} must be a string", key.str()));
        }
      }
    }
  }
}

} // namespace

Expected<AppConfig> read_app_config(const std::filesystem::path& source) {
  AppConfig config;
  Problems problems;
  TRY_ASSIGN(std::optional<std::string> app_json, read_if_present(source / "app.json"));
  if (app_json) {
    read_app_json(*app_json, config, problems);
  }
  // aptship.toml comes second: for packaging it has the last word.
  TRY_ASSIGN(std::optional<std::string> toml_text, read_if_present(source / "aptship.toml"));
  if (toml_text) {
    read_aptship_toml(*toml_text, config, problems);
  }
  TRY(problems.check());
  return config;
}

} // namespace aptship::pipeline
