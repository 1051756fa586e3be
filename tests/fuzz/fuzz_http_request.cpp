// libFuzzer target for what the HTTP server reads from clients: the request
// head through Beast's parser as the server configures it, the target's
// decoding and normalization, and the Range, date, entity tag, PROXY and
// X-Forwarded-For parsers. Each accepted value must have the shape the
// server relies on; above all, no accepted path may climb out of the tree.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "aptrepo/serve/http_fields.hpp"
#include "aptrepo/serve/request_path.hpp"

namespace {

namespace http = boost::beast::http;
using aptship::serve::RangeRequest;

void check(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

void check_target(std::string_view text) {
  auto parsed = aptship::serve::parse_target(text);
  if (!parsed) {
    return;
  }
  const std::string& path = parsed->path;
  check(!path.empty() && path.front() == '/');
  check(path.find("//") == std::string::npos);
  check(path.find('\0') == std::string::npos);
  check(path.find('\\') == std::string::npos);
  check(parsed->trailing_slash == (path.back() == '/'));
  for (const auto& segment : parsed->segments) {
    check(!segment.empty() && segment.front() != '.');
    check(segment.find('/') == std::string::npos);
    for (unsigned char c : segment) {
      check(c >= 0x20 && c != 0x7f);
    }
  }
  for (const auto& [key, value] : parsed->query) {
    check(key.find('\0') == std::string::npos && value.find('\0') == std::string::npos);
  }
  // The encoded path, as used in Location headers, parses back to itself.
  auto again = aptship::serve::parse_target(aptship::serve::percent_encode_path(path));
  check(again && again->path == path && again->segments == parsed->segments);
  std::string escaped = aptship::serve::log_escape(text);
  check(escaped.find_first_of(" \r\n\"") == std::string::npos);
  std::string html = aptship::serve::html_escape(path);
  check(html.find_first_of("<>\"'") == std::string::npos);
}

void check_range(std::string_view text) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{3400}, UINT64_MAX}) {
    RangeRequest range = aptship::serve::parse_range(text, size);
    if (range.kind == RangeRequest::Kind::single) {
      check(range.first <= range.last && range.last < size);
    }
  }
}

void check_date(std::string_view text) {
  if (auto time = aptship::serve::parse_http_date(text)) {
    std::string formatted = aptship::serve::format_http_date(*time);
    check(aptship::serve::parse_http_date(formatted) == time);
  }
}

void check_proxy(std::string_view text) {
  auto line = aptship::serve::parse_proxy_line(text);
  if (line.kind == aptship::serve::ProxyLine::Kind::complete) {
    check(line.length <= 107 && line.length <= text.size());
    check(text.substr(line.length - 2, 2) == "\r\n");
    check(line.source.empty() || aptship::serve::is_ip_address(line.source));
  }
  if (auto address = aptship::serve::last_forwarded_for(text)) {
    check(aptship::serve::is_ip_address(*address));
  }
}

// The head parser as the connection uses it: a header limit, no body.
void check_request_head(std::string_view text) {
  http::request_parser<http::empty_body> parser;
  parser.header_limit(4096);
  parser.eager(false);
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < text.size() && !parser.is_header_done()) {
    size_t n = parser.put(boost::asio::buffer(text.data() + used, text.size() - used), ec);
    if (ec || n == 0) {
      break;
    }
    used += n;
  }
  if (!ec && parser.is_header_done()) {
    const auto& request = parser.get();
    auto target = request.target();
    check_target(std::string_view(target.data(), target.size()));
    auto range = request[http::field::range];
    check_range(std::string_view(range.data(), range.size()));
    (void)parser.keep_alive();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_target(input);
  check_range(input);
  check_date(input);
  check_proxy(input);
  (void)aptship::serve::etag_list_matches(input, "\"1-2-3\"");
  (void)aptship::serve::content_type_for(input);
  check_request_head(input);
  return 0;
}
