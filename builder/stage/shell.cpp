#include "builder/stage/shell.hpp"

#include <algorithm>

namespace aptship::stage {

namespace {

// Characters that neither sh (no globbing, tilde or expansion) nor systemd
// treat specially in an unquoted value.
bool is_bare(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_./:@%+,-").find(c) != std::string_view::npos;
}

} // namespace

std::string env_assignment(std::string_view key, std::string_view value) {
  std::string out(key);
  out += '=';
  if (!value.empty() && std::all_of(value.begin(), value.end(), is_bare)) {
    out += value;
    return out;
  }
  out += '"';
  for (char c : value) {
    if (c == '\\' || c == '"' || c == '`' || c == '$') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

} // namespace aptship::stage
