#include "builder/buildpack/release_yaml.hpp"

#include <algorithm>
#include <string>

#include <yaml-cpp/yaml.h>

#include "aptrepo/core/text.hpp"

namespace aptship::buildpack {

namespace {

Expected<std::map<std::string, std::string>> scalar_map(const YAML::Node& node,
                                                        std::string_view key) {
  std::map<std::string, std::string> result;
  if (!node || node.IsNull()) {
    return result;
  }
  if (!node.IsMap()) {
    return make_error("bin/release: {} is not a map", key);
  }
  for (const auto& entry : node) {
    if (!entry.first.IsScalar() || !(entry.second.IsScalar() || entry.second.IsNull())) {
      return make_error("bin/release: {} has a value that is not a string", key);
    }
    result[entry.first.Scalar()] = entry.second.IsNull() ? std::string() : entry.second.Scalar();
  }
  return result;
}

Expected<std::vector<std::string>> string_list(const YAML::Node& node, std::string_view key) {
  std::vector<std::string> result;
  if (!node || node.IsNull()) {
    return result;
  }
  if (node.IsScalar()) {
    result.push_back(node.Scalar());
    return result;
  }
  if (!node.IsSequence()) {
    return make_error("bin/release: {} is not a list", key);
  }
  for (const auto& entry : node) {
    if (!entry.IsScalar() || entry.Scalar().empty()) {
      return make_error("bin/release: {} has an entry that is not a string", key);
    }
    result.push_back(entry.Scalar());
  }
  return result;
}

} // namespace

Expected<Release> parse_release(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports through exceptions only; this turns them back into
    // an error value at the library boundary.
    return make_error("bin/release printed invalid YAML: {}", printable(e.what()));
  }
  Release release;
  if (root.IsNull()) {
    return release;
  }
  if (!root.IsMap()) {
    return make_error("bin/release did not print a YAML map");
  }
  try {
    TRY_ASSIGN(release.default_process_types,
               scalar_map(root["default_process_types"], "default_process_types"));
    TRY_ASSIGN(release.config_vars, scalar_map(root["config_vars"], "config_vars"));
    TRY_ASSIGN(release.depends, string_list(root["depends"], "depends"));
  } catch (const YAML::Exception& e) {
    return make_error("bin/release: {}", printable(e.what()));
  }
  return release;
}

void merge_release(Release& into, const Release& later) {
  for (const auto& [key, value] : later.default_process_types) {
    into.default_process_types[key] = value;
  }
  for (const auto& [key, value] : later.config_vars) {
    into.config_vars[key] = value;
  }
  for (const auto& depend : later.depends) {
    if (std::find(into.depends.begin(), into.depends.end(), depend) == into.depends.end()) {
      into.depends.push_back(depend);
    }
  }
}

} // namespace aptship::buildpack
