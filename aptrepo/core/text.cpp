#include "aptrepo/core/text.hpp"

#include <fmt/format.h>

namespace aptship {

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

bool is_plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_-./,:@%+=").find(c) != std::string_view::npos;
}

} // namespace

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string shell_word(std::string_view text) {
  // The empty word exists for the shell only when quoted.
  if (text.empty()) {
    return "''";
  }
  for (char c : text) {
    if (!is_plain(c)) {
      return shell_quote(text);
    }
  }
  return std::string(text);
}

} // namespace aptship
