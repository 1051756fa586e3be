#include "builder/pipeline/version.hpp"

#include <cctype>

#include <fmt/format.h>

#include "aptrepo/deb/version.hpp"

namespace aptship::pipeline {

Expected<std::string> build_version(std::string_view base, uint64_t build_number,
                                    std::string_view commit) {
  if (base.empty() || std::isdigit(static_cast<unsigned char>(base.front())) == 0) {
    return make_error("base version '{}' must start with a digit", base);
  }
  if (base.find('-') != std::string_view::npos || base.find(':') != std::string_view::npos) {
    return make_error("base version '{}' must have no '-' or ':' (aptship adds the build "
                      "number itself)",
                      base);
  }
  std::string version = fmt::format("{}+b{}", base, build_number);
  if (!commit.empty()) {
    for (char c : commit) {
      if (std::isxdigit(static_cast<unsigned char>(c)) == 0) {
        return make_error("commit id '{}' is not hexadecimal", commit);
      }
    }
    version += fmt::format(".g{}", commit.substr(0, 7));
  }
  TRY_CTX(deb::Version::parse(version), fmt::format("base version '{}'", base));
  return version;
}

Expected<void> check_increasing(std::string_view candidate,
                                const std::optional<std::string>& latest, std::string_view suite) {
  if (!latest) {
    return {};
  }
  TRY_ASSIGN(deb::Version next, deb::Version::parse(candidate));
  TRY_ASSIGN(deb::Version previous, deb::Version::parse(*latest));
  if (deb::compare(next, previous) <= 0) {
    return make_error("version {} would not be newer than {}, already in suite {}: raise the "
                      "base version (package.version in aptship.toml) above {}",
                      candidate, *latest, suite,
                      previous.upstream.substr(0, previous.upstream.find('+')));
  }
  return {};
}

} // namespace aptship::pipeline
