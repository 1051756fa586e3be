#pragma once

// Turning an HTTP request target into a safe path inside the served tree:
// percent-decoding, normalization and every refusal that keeps a request
// from naming something outside the published files. Pure functions, so
// they are unit tested and fuzzed without sockets.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace aptship::serve {

// Why a target was refused; each maps to one HTTP status.
enum class TargetError {
  bad_request, // 400: malformed, "..", encoded "/", NUL, backslash, control bytes
  not_found,   // 404: a hidden segment (starting with ".")
};

// A request target after decoding and normalization.
struct RequestTarget {
  // "/" followed by the decoded segments joined with "/", plus a trailing
  // "/" when the request had one; empty segments ("//") are dropped.
  std::string path;
  // The decoded segments, none empty, none starting with ".".
  std::vector<std::string> segments;
  // True when the request path ended in "/" (always true for "/").
  bool trailing_slash = false;
  // Decoded query parameters ("+" is a space); the first of repeated keys wins.
  std::map<std::string, std::string> query;
};

// Parses an origin-form ("/a/b?x=1") or absolute-form ("http://host/a/b")
// request target. Never returns a path that could leave the tree: a segment
// that decodes to "." or "..", contains "/", "\", NUL or another control
// byte, or a malformed %-escape is a bad request; a segment starting with
// "." is not found.
[[nodiscard]] tl::expected<RequestTarget, TargetError> parse_target(std::string_view target);

// Whether "+" in encoded text stands for a space (query strings) or itself.
enum class PlusIsSpace { no, yes };

// Decodes %XX escapes (and "+" as a space when PLUS says so) into OUT;
// returns false for a truncated or non-hex escape.
[[nodiscard]] bool percent_decode(std::string_view text, PlusIsSpace plus, std::string& out);

// PATH with every byte except unreserved characters and "/" written as %XX,
// for Location headers and links in directory listings.
[[nodiscard]] std::string percent_encode_path(std::string_view path);

// TEXT with &, <, >, " and ' written as HTML entities.
[[nodiscard]] std::string html_escape(std::string_view text);

// TEXT for a log line: at most MAX bytes; control bytes, spaces, quotes,
// backslashes and bytes >= 0x7f written as \xHH so one request stays one line.
[[nodiscard]] std::string log_escape(std::string_view text, size_t max = 512);

} // namespace aptship::serve
