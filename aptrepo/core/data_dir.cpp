#include "aptrepo/core/data_dir.hpp"

#include <cstdlib>

namespace aptship {

DataDir DataDir::resolve(std::string_view option) {
  if (!option.empty()) {
    return DataDir(std::filesystem::path(option));
  }
  if (const char* env = std::getenv("APTSHIP_DATA"); env != nullptr && *env != '\0') {
    return DataDir(std::filesystem::path(env));
  }
  return DataDir(std::filesystem::path("aptship-data"));
}

} // namespace aptship
