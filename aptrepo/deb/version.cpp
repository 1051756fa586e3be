#include "aptrepo/deb/version.hpp"

#include <climits>

#include <fmt/format.h>

#include "aptrepo/deb/deb822.hpp"

namespace aptship::deb {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string describe_char(char c) {
  auto byte = static_cast<unsigned char>(c);
  if (byte > 0x20 && byte < 0x7f) {
    return fmt::format("'{}'", c);
  }
  return fmt::format("byte 0x{:02x}", byte);
}

// dpkg's sort weight of one non-digit character: "~" before the end of the
// string, the end before letters, letters before everything else.
int order(char c) {
  if (is_digit(c)) {
    return 0;
  }
  if (is_alpha(c)) {
    return static_cast<unsigned char>(c);
  }
  if (c == '~') {
    return -1;
  }
  if (c != '\0') {
    return static_cast<unsigned char>(c) + 256;
  }
  return 0;
}

// dpkg's verrevcmp: alternating runs of non-digits (compared by order())
// and digits (compared numerically, leading zeros ignored).
int verrevcmp(std::string_view a, std::string_view b) {
  size_t i = 0;
  size_t j = 0;
  auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !is_digit(a[i])) || (j < b.size() && !is_digit(b[j]))) {
      int ac = order(at(a, i));
      int bc = order(at(b, j));
      if (ac != bc) {
        return ac - bc;
      }
      ++i;
      ++j;
    }
    while (at(a, i) == '0') {
      ++i;
    }
    while (at(b, j) == '0') {
      ++j;
    }
    while (is_digit(at(a, i)) && is_digit(at(b, j))) {
      if (first_diff == 0) {
        first_diff = at(a, i) - at(b, j);
      }
      ++i;
      ++j;
    }
    if (is_digit(at(a, i))) {
      return 1;
    }
    if (is_digit(at(b, j))) {
      return -1;
    }
    if (first_diff != 0) {
      return first_diff;
    }
  }
  return 0;
}

} // namespace

Expected<Version> Version::parse(std::string_view text) {
  // Surrounding blanks are ignored as dpkg does; inner ones are an error.
  std::string_view rest = text;
  while (!rest.empty() && is_blank(rest.front())) {
    rest.remove_prefix(1);
  }
  while (!rest.empty() && is_blank(rest.back())) {
    rest.remove_suffix(1);
  }
  if (rest.empty()) {
    return make_error("version {} is empty", quoted(text));
  }
  for (char c : rest) {
    if (is_blank(c)) {
      return make_error("version {} contains whitespace", quoted(text));
    }
  }

  Version version;
  if (size_t colon = rest.find(':'); colon != std::string_view::npos) {
    std::string_view epoch = rest.substr(0, colon);
    if (epoch.empty()) {
      return make_error("version {} has an empty epoch", quoted(text));
    }
    // Stricter than dpkg's strtol(), which also takes a sign or leading
    // newlines: an epoch is a plain unsigned number (deb-version(5)).
    uint64_t value = 0;
    for (char c : epoch) {
      if (!is_digit(c)) {
        return make_error("version {} has an epoch that is not a number", quoted(text));
      }
      value = value * 10 + static_cast<uint64_t>(c - '0');
      if (value > static_cast<uint64_t>(INT_MAX)) {
        return make_error("version {} has an epoch that is too big", quoted(text));
      }
    }
    rest.remove_prefix(colon + 1);
    if (rest.empty()) {
      return make_error("version {} has nothing after the epoch colon", quoted(text));
    }
    version.epoch = static_cast<uint32_t>(value);
  }

  std::string_view upstream = rest;
  std::string_view revision;
  if (size_t hyphen = rest.rfind('-'); hyphen != std::string_view::npos) {
    upstream = rest.substr(0, hyphen);
    revision = rest.substr(hyphen + 1);
    if (revision.empty()) {
      return make_error("version {} has an empty revision after '-'", quoted(text));
    }
  }
  if (upstream.empty()) {
    return make_error("version {} has an empty upstream version", quoted(text));
  }
  // dpkg only warns about the next two; a package that triggers the
  // warnings is refused here so that nothing published ever does.
  if (!is_digit(upstream.front())) {
    return make_error("version {} does not start with a digit", quoted(text));
  }
  for (char c : upstream) {
    if (!is_digit(c) && !is_alpha(c) &&
        std::string_view(".-+~:").find(c) == std::string_view::npos) {
      return make_error("version {} has an invalid character {} in the upstream version",
                        quoted(text), describe_char(c));
    }
  }
  for (char c : revision) {
    if (!is_digit(c) && !is_alpha(c) && std::string_view(".+~").find(c) == std::string_view::npos) {
      return make_error("version {} has an invalid character {} in the revision", quoted(text),
                        describe_char(c));
    }
  }
  version.upstream = std::string(upstream);
  version.revision = std::string(revision);
  return version;
}

std::string Version::to_string() const {
  std::string out;
  // Without its epoch, "0:1:2" would read back as epoch 1.
  if (epoch != 0 || upstream.find(':') != std::string::npos) {
    out = fmt::format("{}:", epoch);
  }
  out += upstream;
  if (!revision.empty()) {
    out += '-';
    out += revision;
  }
  return out;
}

int compare(const Version& a, const Version& b) {
  if (a.epoch != b.epoch) {
    return a.epoch < b.epoch ? -1 : 1;
  }
  if (int result = verrevcmp(a.upstream, b.upstream); result != 0) {
    return result;
  }
  return verrevcmp(a.revision, b.revision);
}

} // namespace aptship::deb
