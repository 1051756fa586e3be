#include "aptrepo/fleet/health.hpp"

#include <algorithm>
#include <charconv>

#include "aptrepo/core/text.hpp"
#include "aptrepo/fleet/socket.hpp"

namespace aptship::fleet {

namespace {

struct Url {
  std::string host;
  std::string port = "80";
  std::string target = "/";
};

Expected<Url> parse_url(std::string_view url) {
  if (!url.starts_with("http://")) {
    return make_error("'{}': only http:// URLs are supported", printable(url));
  }
  std::string_view rest = url.substr(7);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Url out;
  if (slash != std::string_view::npos) {
    out.target = std::string(rest.substr(slash));
  }
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    out.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  }
  if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']') {
    authority = authority.substr(1, authority.size() - 2);
  }
  out.host = std::string(authority);
  if (out.host.empty() || out.port.empty()) {
    return make_error("'{}': no host or port", printable(url));
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

Expected<std::string> decode_chunked(std::string_view body) {
  std::string out;
  while (true) {
    size_t eol = body.find("\r\n");
    if (eol == std::string_view::npos) {
      return make_error("truncated chunked body");
    }
    std::string_view size_text = body.substr(0, eol);
    size_text = size_text.substr(0, size_text.find(';'));
    size_t size = 0;
    auto [ptr, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (ec != std::errc() || size_text.empty()) {
      return make_error("bad chunk size '{}'", printable(size_text));
    }
    body.remove_prefix(eol + 2);
    if (size == 0) {
      return out;
    }
    if (body.size() < size) {
      return make_error("truncated chunked body");
    }
    out.append(body.substr(0, size));
    body.remove_prefix(std::min(body.size(), size + 2));
  }
}

} // namespace

Expected<HttpAnswer> parse_http_response(std::string_view response) {
  size_t head_end = response.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    return make_error("no complete HTTP header in {} bytes", response.size());
  }
  std::string_view head = response.substr(0, head_end);
  std::string_view body = response.substr(head_end + 4);
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return make_error("not an HTTP/1.x status line: '{}'", printable(status_line.substr(0, 80)));
  }
  HttpAnswer answer;
  auto [ptr, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, answer.status);
  if (ec != std::errc() || ptr != status_line.data() + 12) {
    return make_error("bad status in '{}'", printable(status_line.substr(0, 80)));
  }
  bool chunked = false;
  std::optional<size_t> length;
  std::string_view headers =
      eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!headers.empty()) {
    size_t end = headers.find("\r\n");
    std::string_view line = headers.substr(0, end);
    headers = end == std::string_view::npos ? std::string_view() : headers.substr(end + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
    if (iequals(name, "transfer-encoding") && iequals(value, "chunked")) {
      chunked = true;
    } else if (iequals(name, "content-length")) {
      size_t n = 0;
      auto [p, e] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (e == std::errc()) {
        length = n;
      }
    }
  }
  if (chunked) {
    TRY_ASSIGN(answer.body, decode_chunked(body));
  } else if (length) {
    if (body.size() < *length) {
      return make_error("body has {} bytes of the {} announced", body.size(), *length);
    }
    answer.body = std::string(body.substr(0, *length));
  } else {
    answer.body = std::string(body);
  }
  return answer;
}

Expected<HttpAnswer> HttpHealthChecker::get(const std::string& url,
                                            std::chrono::milliseconds timeout) {
  TRY_ASSIGN(Url parsed, parse_url(url));
  TRY_ASSIGN(Fd fd, connect_tcp(parsed.host, parsed.port, timeout));
  std::string host_header = parsed.host.find(':') != std::string::npos
                                ? fmt::format("[{}]:{}", parsed.host, parsed.port)
                                : fmt::format("{}:{}", parsed.host, parsed.port);
  std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: aptship-fleet\r\n"
                                    "Accept: */*\r\nConnection: close\r\n\r\n",
                                    parsed.target, host_header);
  TRY_ASSIGN(std::string response, exchange(fd, request, timeout));
  return parse_http_response(response);
}

std::string probe_failure(const Expected<HttpAnswer>& answer, const HealthSpec& spec) {
  if (!answer) {
    return answer.error().message();
  }
  if (answer->status != spec.expect_status) {
    return fmt::format("status {}, expected {}", answer->status, spec.expect_status);
  }
  if (!spec.expect_body.empty() && answer->body.find(spec.expect_body) == std::string::npos) {
    return fmt::format("body does not contain '{}' (got '{}')", printable(spec.expect_body),
                       printable(std::string_view(answer->body).substr(0, 80)));
  }
  return {};
}

Expected<void> health_gate(HealthChecker& checker, Clock& clock, const HealthSpec& spec,
                           const std::string& url) {
  auto deadline = clock.now() + spec.timeout;
  int passes = 0;
  std::string last = "never probed";
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.now());
    auto probe_timeout =
        std::clamp(left, std::chrono::milliseconds(100), std::chrono::milliseconds(10'000));
    std::string failure = probe_failure(checker.get(url, probe_timeout), spec);
    if (failure.empty()) {
      ++passes;
      if (passes >= spec.rise) {
        return {};
      }
    } else {
      passes = 0;
      last = std::move(failure);
    }
    if (clock.now() + spec.interval > deadline) {
      return make_error("health check {} did not pass {} times in a row within {}: {}", url,
                        spec.rise, format_duration(spec.timeout), last);
    }
    clock.sleep_for(spec.interval);
  }
}

} // namespace aptship::fleet
