#include "aptrepo/serve/http_fields.hpp"

#include <arpa/inet.h>

#include <array>
#include <vector>

#include <fmt/format.h>

namespace aptship::serve {

namespace {

constexpr std::array<std::string_view, 7> k_days = {"Sun", "Mon", "Tue", "Wed",
                                                    "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> k_months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> k_long_days = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

// Parses a run of decimal digits, saturating at UINT64_MAX; false when TEXT
// is empty or holds anything else.
bool parse_u64(std::string_view text, uint64_t& out) {
  if (text.empty()) {
    return false;
  }
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      value = UINT64_MAX;
    } else {
      value = value * 10 + digit;
    }
  }
  out = value;
  return true;
}

// A cursor over a date string that consumes fixed-shape pieces.
class DateReader {
public:
  explicit DateReader(std::string_view text) : m_text(text) {}

  bool literal(std::string_view expected) {
    if (m_text.substr(0, expected.size()) != expected) {
      return false;
    }
    m_text.remove_prefix(expected.size());
    return true;
  }
  // Exactly COUNT digits; a leading space stands for a zero when PADDED.
  bool digits(size_t count, int& out, bool space_padded = false) {
    if (m_text.size() < count) {
      return false;
    }
    int value = 0;
    for (size_t i = 0; i < count; ++i) {
      char c = m_text[i];
      if (c == ' ' && space_padded && i == 0) {
        continue;
      }
      if (c < '0' || c > '9') {
        return false;
      }
      value = value * 10 + (c - '0');
    }
    m_text.remove_prefix(count);
    out = value;
    return true;
  }
  bool one_of(const auto& names, int& out) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (m_text.substr(0, names[i].size()) == names[i]) {
        m_text.remove_prefix(names[i].size());
        out = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }
  bool time_of_day(std::tm& tm) {
    return digits(2, tm.tm_hour) && literal(":") && digits(2, tm.tm_min) && literal(":") &&
           digits(2, tm.tm_sec);
  }
  [[nodiscard]] bool done() const { return m_text.empty(); }

private:
  std::string_view m_text;
};

std::optional<std::time_t> to_time(std::tm& tm) {
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 ||
      tm.tm_year < 0) {
    return std::nullopt;
  }
  std::time_t time = timegm(&tm);
  if (time == static_cast<std::time_t>(-1)) {
    return std::nullopt;
  }
  return time;
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<std::time_t> parse_imf_fixdate(std::string_view text) {
  DateReader in(text);
  std::tm tm{};
  int weekday = 0;
  int year = 0;
  if (!(in.one_of(k_days, weekday) && in.literal(", ") && in.digits(2, tm.tm_mday) &&
        in.literal(" ") && in.one_of(k_months, tm.tm_mon) && in.literal(" ") &&
        in.digits(4, year) && in.literal(" ") && in.time_of_day(tm) && in.literal(" GMT") &&
        in.done())) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  return to_time(tm);
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
std::optional<std::time_t> parse_rfc850(std::string_view text) {
  DateReader in(text);
  std::tm tm{};
  int weekday = 0;
  int year = 0;
  if (!(in.one_of(k_long_days, weekday) && in.literal(", ") && in.digits(2, tm.tm_mday) &&
        in.literal("-") && in.one_of(k_months, tm.tm_mon) && in.literal("-") &&
        in.digits(2, year) && in.literal(" ") && in.time_of_day(tm) && in.literal(" GMT") &&
        in.done())) {
    return std::nullopt;
  }
  // Two-digit years: the most recent century that does not put the date
  // far in the future, which for this server's lifetime means 1970-2069.
  tm.tm_year = year < 70 ? year + 100 : year;
  return to_time(tm);
}

// "Sun Nov  6 08:49:37 1994"
std::optional<std::time_t> parse_asctime(std::string_view text) {
  DateReader in(text);
  std::tm tm{};
  int weekday = 0;
  int year = 0;
  if (!(in.one_of(k_days, weekday) && in.literal(" ") && in.one_of(k_months, tm.tm_mon) &&
        in.literal(" ") && in.digits(2, tm.tm_mday, true) && in.literal(" ") &&
        in.time_of_day(tm) && in.literal(" ") && in.digits(4, year) && in.done())) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  return to_time(tm);
}

// The opaque part of an entity tag ("xyz" for W/"xyz" or "xyz").
std::string_view opaque_tag(std::string_view tag) {
  if (tag.substr(0, 2) == "W/") {
    tag.remove_prefix(2);
  }
  return tag;
}

} // namespace

RangeRequest parse_range(std::string_view value, uint64_t size) {
  RangeRequest none;
  value = trim(value);
  size_t eq = value.find('=');
  if (eq == std::string_view::npos || !iequals(trim(value.substr(0, eq)), "bytes")) {
    return none;
  }
  std::string_view spec;
  size_t count = 0;
  std::string_view list = value.substr(eq + 1);
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) {
      comma = list.size();
    }
    std::string_view element = trim(list.substr(start, comma - start));
    if (!element.empty()) {
      spec = element;
      ++count;
    }
    start = comma + 1;
  }
  if (count != 1) {
    return none; // several ranges: the whole body is an allowed answer
  }
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) {
    return none;
  }
  std::string_view first_text = spec.substr(0, dash);
  std::string_view last_text = spec.substr(dash + 1);
  RangeRequest result;
  if (first_text.empty()) {
    uint64_t suffix = 0;
    if (!parse_u64(last_text, suffix)) {
      return none;
    }
    if (suffix == 0 || size == 0) {
      result.kind = RangeRequest::Kind::unsatisfiable;
      return result;
    }
    result.kind = RangeRequest::Kind::single;
    result.first = suffix >= size ? 0 : size - suffix;
    result.last = size - 1;
    return result;
  }
  uint64_t first = 0;
  if (!parse_u64(first_text, first)) {
    return none;
  }
  uint64_t last = UINT64_MAX;
  if (!last_text.empty()) {
    if (!parse_u64(last_text, last)) {
      return none;
    }
    if (last < first) {
      return none;
    }
  }
  if (first >= size) {
    result.kind = RangeRequest::Kind::unsatisfiable;
    return result;
  }
  result.kind = RangeRequest::Kind::single;
  result.first = first;
  result.last = last >= size ? size - 1 : last;
  return result;
}

std::string format_http_date(std::time_t time) {
  std::tm tm{};
  gmtime_r(&time, &tm);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", k_days.at(tm.tm_wday), tm.tm_mday,
                     k_months.at(tm.tm_mon), tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
  text = trim(text);
  if (auto time = parse_imf_fixdate(text)) {
    return time;
  }
  if (auto time = parse_rfc850(text)) {
    return time;
  }
  return parse_asctime(text);
}

std::string make_etag(const struct stat& st) {
  auto mtime_ns = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000U +
                  static_cast<uint64_t>(st.st_mtim.tv_nsec);
  return fmt::format("\"{:x}-{:x}-{:x}\"", static_cast<uint64_t>(st.st_ino), mtime_ns,
                     static_cast<uint64_t>(st.st_size));
}

bool etag_list_matches(std::string_view value, std::string_view etag) {
  value = trim(value);
  if (value == "*") {
    return true;
  }
  std::string_view wanted = opaque_tag(etag);
  size_t i = 0;
  while (i < value.size()) {
    char c = value[i];
    if (c == ' ' || c == '\t' || c == ',') {
      ++i;
      continue;
    }
    size_t begin = i;
    if (value.substr(i, 2) == "W/") {
      i += 2;
    }
    if (i >= value.size() || value[i] != '"') {
      return false;
    }
    size_t close = value.find('"', i + 1);
    if (close == std::string_view::npos) {
      return false;
    }
    if (opaque_tag(value.substr(begin, close + 1 - begin)) == wanted) {
      return true;
    }
    i = close + 1;
  }
  return false;
}

std::string_view content_type_for(std::string_view name) {
  struct Entry {
    std::string_view suffix;
    std::string_view type;
  };
  static constexpr std::array<Entry, 13> k_extensions = {{
      {".deb", "application/vnd.debian.binary-package"},
      {".gz", "application/gzip"},
      {".xz", "application/x-xz"},
      {".zst", "application/zstd"},
      {".gpg", "application/pgp-signature"},
      {".asc", "text/plain; charset=utf-8"},
      {".json", "application/json"},
      {".sources", "text/plain; charset=utf-8"},
      {".html", "text/html; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
      {".css", "text/css"},
      {".js", "text/javascript"},
      {".svg", "image/svg+xml"},
  }};
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) {
    // The index files of an apt repository have no extension.
    for (std::string_view text_name : {"InRelease", "Release", "Packages", "Sources"}) {
      if (name == text_name) {
        return "text/plain; charset=utf-8";
      }
    }
    return "application/octet-stream";
  }
  std::string_view extension = name.substr(dot);
  for (const auto& entry : k_extensions) {
    if (iequals(extension, entry.suffix)) {
      return entry.type;
    }
  }
  return "application/octet-stream";
}

bool is_ip_address(std::string_view text) {
  if (text.empty() || text.size() > 45) {
    return false;
  }
  std::string copy(text);
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, copy.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, copy.c_str(), buffer) == 1;
}

std::optional<std::string> last_forwarded_for(std::string_view value) {
  size_t comma = value.rfind(',');
  std::string_view last = trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
  if (last.size() > 2 && last.front() == '[' && last.back() == ']') {
    last = last.substr(1, last.size() - 2);
  }
  if (!is_ip_address(last)) {
    return std::nullopt;
  }
  return std::string(last);
}

ProxyLine parse_proxy_line(std::string_view data) {
  constexpr std::string_view k_signature = "PROXY ";
  constexpr size_t k_max_line = 107; // the v1 specification's bound, CRLF included
  ProxyLine result;
  if (data.size() < k_signature.size()) {
    if (k_signature.substr(0, data.size()) == data && !data.empty()) {
      result.kind = ProxyLine::Kind::partial;
    }
    return result;
  }
  if (data.substr(0, k_signature.size()) != k_signature) {
    return result;
  }
  size_t end = data.substr(0, k_max_line).find("\r\n");
  if (end == std::string_view::npos) {
    result.kind = data.size() >= k_max_line ? ProxyLine::Kind::invalid : ProxyLine::Kind::partial;
    return result;
  }
  result.kind = ProxyLine::Kind::invalid;
  std::string_view line = data.substr(0, end);
  std::vector<std::string_view> words;
  size_t start = 0;
  while (start <= line.size()) {
    size_t space = line.find(' ', start);
    if (space == std::string_view::npos) {
      space = line.size();
    }
    words.push_back(line.substr(start, space - start));
    start = space + 1;
  }
  if (words.size() >= 2 && words[1] == "UNKNOWN") {
    result.kind = ProxyLine::Kind::complete;
    result.length = end + 2;
    return result;
  }
  if (words.size() != 6 || (words[1] != "TCP4" && words[1] != "TCP6")) {
    return result;
  }
  int family = words[1] == "TCP4" ? AF_INET : AF_INET6;
  for (size_t i : {2, 3}) {
    if (words[i].empty() || words[i].size() > 45) {
      return result;
    }
    std::string copy(words[i]);
    unsigned char buffer[sizeof(struct in6_addr)];
    if (inet_pton(family, copy.c_str(), buffer) != 1) {
      return result;
    }
  }
  for (size_t i : {4, 5}) {
    uint64_t port = 0;
    if (words[i].size() > 5 || !parse_u64(words[i], port) || port > 65535) {
      return result;
    }
  }
  result.kind = ProxyLine::Kind::complete;
  result.length = end + 2;
  result.source = std::string(words[2]);
  return result;
}

} // namespace aptship::serve
