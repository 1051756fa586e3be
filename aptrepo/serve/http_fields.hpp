#pragma once

// Parsers and formatters for the request and response fields the file
// server understands: Range, HTTP dates, entity tags, content types, and the
// client-address fields of proxies (X-Forwarded-For, PROXY protocol v1).
// Pure functions, unit tested and fuzzed without sockets.

#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace aptship::serve {

// The outcome of a Range header against a resource of a known size.
struct RangeRequest {
  enum class Kind {
    none,          // no usable range: answer 200 with the whole body
    single,        // answer 206 with bytes [first, last]
    unsatisfiable, // answer 416
  };
  Kind kind = Kind::none;
  uint64_t first = 0;
  uint64_t last = 0; // inclusive
};

// Interprets a Range header value ("bytes=a-b", "bytes=a-", "bytes=-n") for a
// body of SIZE bytes. Malformed values and several ranges give Kind::none
// (the whole body), as HTTP allows; a syntactically valid single range that
// selects nothing gives Kind::unsatisfiable.
[[nodiscard]] RangeRequest parse_range(std::string_view value, uint64_t size);

// Formats TIME as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
[[nodiscard]] std::string format_http_date(std::time_t time);

// Parses the three HTTP date formats (IMF-fixdate, RFC 850, asctime);
// nothing for anything else.
[[nodiscard]] std::optional<std::time_t> parse_http_date(std::string_view text);

// The strong entity tag of a file, quoted: inode, modification time in
// nanoseconds and size, so a file replaced by rename gets a new tag even
// when its size and second of modification are unchanged.
[[nodiscard]] std::string make_etag(const struct stat& st);

// True when the If-None-Match value VALUE ("*" or a list of tags, weak or
// strong) matches ETAG by the weak comparison HTTP prescribes for it.
[[nodiscard]] bool etag_list_matches(std::string_view value, std::string_view etag);

// The Content-Type for a file named NAME (the last path segment).
[[nodiscard]] std::string_view content_type_for(std::string_view name);

// The client address a trusted proxy put last in an X-Forwarded-For value,
// if it is a valid IPv4 or IPv6 address.
[[nodiscard]] std::optional<std::string> last_forwarded_for(std::string_view value);

// The result of looking for a PROXY protocol v1 line at the start of a
// connection.
struct ProxyLine {
  enum class Kind {
    absent,   // the data does not start with "PROXY "
    partial,  // a prefix of a PROXY line: read more
    invalid,  // starts like one but is malformed or too long
    complete, // parsed: LENGTH bytes including "\r\n"
  };
  Kind kind = Kind::absent;
  size_t length = 0;
  std::string source; // the client address; empty for "PROXY UNKNOWN"
};

// Parses "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or "PROXY UNKNOWN...\r\n"
// (at most 107 bytes) at the start of DATA.
[[nodiscard]] ProxyLine parse_proxy_line(std::string_view data);

// True when TEXT is a valid IPv4 or IPv6 address literal.
[[nodiscard]] bool is_ip_address(std::string_view text);

} // namespace aptship::serve
