#include "builder/receive/app_name.hpp"

#include "aptrepo/core/text.hpp"

namespace aptship::receive {

namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

} // namespace

Expected<void> validate_app_name(std::string_view name) {
  if (name.empty()) {
    return make_error("the app name is empty");
  }
  // Shown shortened: the name may be an attacker's megabyte of bytes.
  std::string shown = printable(name.substr(0, 80)) + (name.size() > 80 ? "..." : "");
  if (name.size() < 2) {
    return make_error("app name '{}' is too short: a Debian package name needs at least 2 "
                      "characters",
                      shown);
  }
  if (name.size() > k_app_name_max) {
    return make_error("app name '{}' is too long: at most {} characters", shown, k_app_name_max);
  }
  if (!is_lower_alnum(name.front())) {
    return make_error("app name '{}' must start with a lower-case letter or a digit", shown);
  }
  for (char c : name) {
    if (!is_lower_alnum(c) && c != '-') {
      return make_error("app name '{}' may only contain lower-case letters, digits and '-'", shown);
    }
  }
  return {};
}

} // namespace aptship::receive
