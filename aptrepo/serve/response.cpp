#include "aptrepo/serve/response.hpp"

#include <ctime>
#include <iterator>

#include <fmt/format.h>

#include "aptrepo/serve/http_fields.hpp"

namespace aptship::serve {

namespace {

// The Date field changes once a second; formatting it once per second per
// thread keeps it off the per-request path.
const std::string& current_date() {
  thread_local std::time_t cached_second = -1;
  thread_local std::string cached_text;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    cached_second = now;
    cached_text = format_http_date(now);
  }
  return cached_text;
}

} // namespace

std::string_view reason_phrase(unsigned status) {
  switch (status) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 204:
    return "No Content";
  case 206:
    return "Partial Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 304:
    return "Not Modified";
  case 307:
    return "Temporary Redirect";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 413:
    return "Content Too Large";
  case 416:
    return "Range Not Satisfiable";
  case 422:
    return "Unprocessable Content";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 503:
    return "Service Unavailable";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
}

Response error_response(unsigned status) {
  Response response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body = fmt::format("{} {}\n", status, reason_phrase(status));
  response.content_length = response.body.size();
  return response;
}

void append_head(const Response& response, KeepAlive keep, unsigned version, std::string& out) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "HTTP/1.1 {} {}\r\nServer: aptship\r\nDate: {}\r\n", response.status,
                 reason_phrase(response.status), current_date());
  if (!response.content_type.empty()) {
    fmt::format_to(it, "Content-Type: {}\r\n", response.content_type);
  }
  bool has_length = response.status != 304 && response.status != 204 &&
                    !(response.status >= 100 && response.status < 200);
  if (has_length) {
    fmt::format_to(it, "Content-Length: {}\r\n", response.content_length);
  }
  if (!response.last_modified.empty()) {
    fmt::format_to(it, "Last-Modified: {}\r\n", response.last_modified);
  }
  if (!response.etag.empty()) {
    fmt::format_to(it, "ETag: {}\r\n", response.etag);
  }
  if (response.accept_ranges) {
    out += "Accept-Ranges: bytes\r\n";
  }
  if (!response.content_range.empty()) {
    fmt::format_to(it, "Content-Range: {}\r\n", response.content_range);
  }
  if (!response.location.empty()) {
    fmt::format_to(it, "Location: {}\r\n", response.location);
  }
  if (response.allow) {
    out += "Allow: GET, HEAD\r\n";
  }
  if (keep == KeepAlive::no) {
    out += "Connection: close\r\n";
  } else if (version < 11) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

} // namespace aptship::serve
