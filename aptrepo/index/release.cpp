#include "aptrepo/index/release.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

namespace aptship::index {

namespace {

constexpr std::array<std::string_view, 7> k_days = {"Sun", "Mon", "Tue", "Wed",
                                                    "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> k_months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Splits TEXT on runs of spaces.
std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') {
      ++i;
    }
    size_t start = i;
    while (i < text.size() && text[i] != ' ') {
      ++i;
    }
    if (i > start) {
      out.push_back(text.substr(start, i - start));
    }
  }
  return out;
}

bool parse_int(std::string_view text, int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

Expected<void> check_value(std::string_view name, std::string_view value) {
  if (value.find_first_of("\r\n") != std::string_view::npos) {
    return make_error("Release field {} must be one line", name);
  }
  return {};
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) {
      out += ' ';
    }
    out += item;
  }
  return out;
}

} // namespace

std::string format_release_date(int64_t epoch) {
  std::time_t time = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&time, &tm);
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} UTC", k_days[tm.tm_wday], tm.tm_mday,
                     k_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

Expected<int64_t> parse_release_date(std::string_view text) {
  // "Thu, 26 Nov 2026 05:03:19 UTC"
  std::vector<std::string_view> parts = words(text);
  auto bad = [&] { return make_error("unreadable Release date '{}'", text); };
  if (parts.size() != 6 || (parts[5] != "UTC" && parts[5] != "GMT" && parts[5] != "+0000")) {
    return bad();
  }
  std::tm tm{};
  auto month = std::find(k_months.begin(), k_months.end(), parts[2]);
  if (month == k_months.end()) {
    return bad();
  }
  tm.tm_mon = static_cast<int>(month - k_months.begin());
  int year = 0;
  std::string_view clock = parts[4];
  if (!parse_int(parts[1], tm.tm_mday) || !parse_int(parts[3], year) || clock.size() != 8 ||
      clock[2] != ':' || clock[5] != ':' || !parse_int(clock.substr(0, 2), tm.tm_hour) ||
      !parse_int(clock.substr(3, 2), tm.tm_min) || !parse_int(clock.substr(6, 2), tm.tm_sec)) {
    return bad();
  }
  tm.tm_year = year - 1900;
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return bad();
  }
  return static_cast<int64_t>(timegm(&tm));
}

std::optional<std::string> release_field(std::string_view release, std::string_view field) {
  size_t pos = 0;
  while (pos < release.size()) {
    size_t end = release.find('\n', pos);
    if (end == std::string_view::npos) {
      end = release.size();
    }
    std::string_view line = release.substr(pos, end - pos);
    if (line.size() > field.size() && line.substr(0, field.size()) == field &&
        line[field.size()] == ':') {
      std::string_view value = line.substr(field.size() + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) {
        value.remove_suffix(1);
      }
      return std::string(value);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

Expected<std::string> render_release(const ReleaseFields& fields,
                                     std::vector<ReleaseEntry> entries) {
  std::string out;
  auto field = [&](std::string_view name, std::string_view value) -> Expected<void> {
    TRY(check_value(name, value));
    out += fmt::format("{}: {}\n", name, value);
    return {};
  };
  TRY(field("Origin", fields.origin));
  TRY(field("Label", fields.label));
  TRY(field("Suite", fields.suite));
  TRY(field("Codename", fields.codename));
  TRY(field("Date", format_release_date(fields.date)));
  if (fields.valid_until) {
    TRY(field("Valid-Until", format_release_date(*fields.valid_until)));
  }
  TRY(field("Architectures", join(fields.architectures)));
  TRY(field("Components", join(fields.components)));
  if (!fields.description.empty()) {
    TRY(field("Description", fields.description));
  }
  TRY(field("Acquire-By-Hash", "yes"));
  TRY(field("Signed-By", fields.signed_by));

  std::sort(entries.begin(), entries.end(),
            [](const ReleaseEntry& a, const ReleaseEntry& b) { return a.path < b.path; });
  for (const ReleaseEntry& entry : entries) {
    TRY(check_value("file name", entry.path));
  }
  auto section = [&](std::string_view name, std::string Digests::*digest) {
    out += name;
    out += ":\n";
    for (const ReleaseEntry& entry : entries) {
      out += fmt::format(" {} {:>16} {}\n", entry.digests.*digest, entry.size, entry.path);
    }
  };
  section("MD5Sum", &Digests::md5);
  section("SHA1", &Digests::sha1);
  section("SHA256", &Digests::sha256);
  section("SHA512", &Digests::sha512);
  return out;
}

} // namespace aptship::index
