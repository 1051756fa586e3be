#include "aptrepo/serve/request_path.hpp"

#include <fmt/format.h>

namespace aptship::serve {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// A decoded segment that would let a path name something it should not:
// a separator the file system would honour, or a byte no file name in a
// published tree has.
bool has_forbidden_byte(std::string_view segment) {
  for (unsigned char c : segment) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') {
      return true;
    }
  }
  return false;
}

// Strips "scheme://authority" from an absolute-form target, which HTTP/1.1
// servers must accept; the path that follows is handled as origin-form.
std::string_view strip_absolute_form(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size()) {
      bool same = true;
      for (size_t i = 0; i < scheme.size(); ++i) {
        char c = target[i];
        if (c >= 'A' && c <= 'Z') {
          c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != scheme[i]) {
          same = false;
          break;
        }
      }
      if (same) {
        std::string_view rest = target.substr(scheme.size());
        size_t slash = rest.find_first_of("/?");
        if (slash == std::string_view::npos) {
          return "/";
        }
        if (rest[slash] == '?') {
          return {};
        }
        return rest.substr(slash);
      }
    }
  }
  return target;
}

bool parse_query(std::string_view text, std::map<std::string, std::string>& out) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('&', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view pair = text.substr(start, end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key;
      std::string value;
      if (!percent_decode(pair.substr(0, eq), PlusIsSpace::yes, key)) {
        return false;
      }
      if (eq != std::string_view::npos &&
          !percent_decode(pair.substr(eq + 1), PlusIsSpace::yes, value)) {
        return false;
      }
      if (key.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
        return false;
      }
      out.emplace(std::move(key), std::move(value));
    }
    start = end + 1;
  }
  return true;
}

} // namespace

bool percent_decode(std::string_view text, PlusIsSpace plus, std::string& out) {
  out.clear();
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return false;
      }
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) {
        return false;
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus == PlusIsSpace::yes) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

tl::expected<RequestTarget, TargetError> parse_target(std::string_view target) {
  target = strip_absolute_form(target);
  if (target.empty() || target.front() != '/') {
    return tl::unexpected(TargetError::bad_request);
  }
  RequestTarget result;
  std::string_view raw_path = target;
  size_t question = target.find('?');
  if (question != std::string_view::npos) {
    raw_path = target.substr(0, question);
    if (!parse_query(target.substr(question + 1), result.query)) {
      return tl::unexpected(TargetError::bad_request);
    }
  }
  // Segments are decoded one by one, so an encoded "/" stays inside its
  // segment where it is refused, instead of silently becoming a separator.
  bool hidden = false;
  std::string segment;
  size_t start = 1;
  while (start <= raw_path.size()) {
    size_t end = raw_path.find('/', start);
    if (end == std::string_view::npos) {
      end = raw_path.size();
    }
    std::string_view raw = raw_path.substr(start, end - start);
    start = end + 1;
    if (raw.empty()) {
      continue;
    }
    if (!percent_decode(raw, PlusIsSpace::no, segment) || segment.empty() ||
        has_forbidden_byte(segment) || segment == "." || segment == "..") {
      return tl::unexpected(TargetError::bad_request);
    }
    if (segment.front() == '.') {
      // Keep scanning: a later ".." must still be a bad request.
      hidden = true;
    }
    result.segments.push_back(segment);
  }
  if (hidden) {
    return tl::unexpected(TargetError::not_found);
  }
  result.trailing_slash = raw_path.back() == '/';
  std::string path;
  for (const auto& each : result.segments) {
    path += '/';
    path += each;
  }
  if (result.trailing_slash || path.empty()) {
    path += '/';
  }
  result.path = std::move(path);
  if (result.segments.empty()) {
    result.trailing_slash = true;
  }
  return result;
}

std::string percent_encode_path(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    if (is_unreserved(c) || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out.push_back(c);
    }
  }
  return out;
}

std::string log_escape(std::string_view text, size_t max) {
  std::string out;
  bool truncated = text.size() > max;
  if (truncated) {
    text = text.substr(0, max);
  }
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (truncated) {
    out += "...";
  }
  return out;
}

} // namespace aptship::serve
