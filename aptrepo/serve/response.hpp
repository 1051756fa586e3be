#pragma once

// A response as the server decided it, before it goes on the wire: status,
// the few header fields a static file server sends, and a body that is
// either in memory or a range of an open file (sent with sendfile(2)).

#include <cstdint>
#include <string>
#include <string_view>

#include "aptrepo/core/fd.hpp"

namespace aptship::serve {

enum class KeepAlive { no, yes };

struct Response {
  unsigned status = 200;
  std::string content_type;
  // Sent as Content-Length unless the status forbids it (304).
  uint64_t content_length = 0;
  std::string last_modified; // empty: not sent
  std::string etag;          // empty: not sent
  std::string content_range; // empty: not sent
  std::string location;      // empty: not sent
  bool allow = false;        // sends "Allow: GET, HEAD" (405)
  bool accept_ranges = false;
  bool close = false;    // the connection must close after this response
  bool send_body = true; // false for HEAD and 304: the head only
  std::string body;      // an in-memory body, or empty when FILE holds it
  Fd file;               // a file body: CONTENT_LENGTH bytes from FILE_OFFSET
  uint64_t file_offset = 0;
};

// The reason phrase for STATUS ("Not Found"); "Unknown" for unlisted codes.
[[nodiscard]] std::string_view reason_phrase(unsigned status);

// A small text/plain response for an error STATUS ("404 Not Found\n").
[[nodiscard]] Response error_response(unsigned status);

// Appends the serialized head of RESPONSE (status line, fields, blank line)
// to OUT. KEEP says whether the connection stays open; VERSION is the
// request's (10 or 11), which decides whether that must be said explicitly.
void append_head(const Response& response, KeepAlive keep, unsigned version, std::string& out);

} // namespace aptship::serve
