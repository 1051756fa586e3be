#include "aptrepo/serve/responder.hpp"

#include <cerrno>
#include <cstring>
#include <exception>

#include <fmt/format.h>

#include "aptrepo/core/log.hpp"
#include "aptrepo/core/text.hpp"
#include "aptrepo/serve/directory_listing.hpp"
#include "aptrepo/serve/http_fields.hpp"

namespace aptship::serve {

namespace {

Response response_for_errno(int err, std::string_view path) {
  switch (err) {
  case ENOENT:
  case ENOTDIR:
  case ELOOP:
  case EXDEV:
  case ENAMETOOLONG:
  case ENXIO:
    return error_response(404);
  case EACCES:
  case EPERM:
    return error_response(403);
  case EMFILE:
  case ENFILE:
  case ENOMEM:
    return error_response(503);
  default:
    log::warning("serving {}: {}", path, std::strerror(err));
    return error_response(500);
  }
}

// An If-Range value selects the range only while the file is unchanged:
// an entity tag by strong comparison, a date by exact equality.
bool if_range_holds(std::string_view value, std::string_view etag, std::time_t mtime) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  if (value.substr(0, 1) == "\"" || value.substr(0, 2) == "W/") {
    return value == etag;
  }
  auto date = parse_http_date(value);
  return date && *date == mtime;
}

bool has_control_byte(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

} // namespace

Response Responder::respond(const RequestInfo& request) const {
  if (request.method == Method::other) {
    Response response = error_response(405);
    response.allow = true;
    // An unread body would be taken for the next request.
    response.close = request.has_body;
    return response;
  }
  if (request.has_body) {
    Response response = error_response(400);
    response.close = true;
    return response;
  }
  auto target = parse_target(request.target);
  if (!target) {
    return error_response(target.error() == TargetError::bad_request ? 400 : 404);
  }
  Response response = is_app_path(target->path) ? respond_app(request, std::move(*target))
                                                : respond_file(request, *target);
  if (request.method == Method::head) {
    response.send_body = false;
    response.body.clear();
    response.file = Fd();
  }
  return response;
}

bool Responder::is_app_path(std::string_view path) const {
  for (const auto& prefix : m_options.app_paths) {
    if (path == prefix ||
        (!prefix.empty() && prefix.back() == '/' && path.substr(0, prefix.size()) == prefix)) {
      return true;
    }
  }
  return false;
}

Response Responder::respond_app(const RequestInfo& request, RequestTarget&& target) const {
  if (!m_options.app) {
    return error_response(404);
  }
  AppRequest app_request;
  app_request.path = std::move(target.path);
  app_request.query = std::move(target.query);
  app_request.host = std::string(request.host);
  std::optional<AppResponse> answer;
  try {
    answer = m_options.app(app_request);
  } catch (const std::exception& e) {
    // A daemon answers 500 and keeps serving.
    log::error("serving {}: {}", app_request.path, e.what());
    return error_response(500);
  }
  if (!answer) {
    return error_response(404);
  }
  if (answer->status < 200 || answer->status > 599 || has_control_byte(answer->content_type)) {
    log::error("serving {}: the application answered status {} with content type \"{}\"",
               app_request.path, answer->status, printable(answer->content_type));
    return error_response(500);
  }
  Response response;
  response.status = static_cast<unsigned>(answer->status);
  response.content_type = std::move(answer->content_type);
  response.body = std::move(answer->body);
  response.content_length = response.body.size();
  return response;
}

Response Responder::respond_file(const RequestInfo& request, const RequestTarget& target) const {
  std::string relative;
  for (const auto& segment : target.segments) {
    if (!relative.empty()) {
      relative += '/';
    }
    relative += segment;
  }
  if (relative.empty()) {
    relative = ".";
  }
  auto opened = m_tree.open_file(relative);
  if (!opened) {
    return response_for_errno(opened.error(), target.path);
  }
  const struct stat& st = opened->st;
  if (S_ISDIR(st.st_mode)) {
    if (!target.trailing_slash) {
      // Relative links in the listing need the trailing slash.
      Response response = error_response(301);
      response.location = percent_encode_path(target.path + "/");
      return response;
    }
    auto html = render_listing(opened->fd.get(), target.path);
    if (!html) {
      return response_for_errno(html.error(), target.path);
    }
    Response response;
    response.content_type = "text/html; charset=utf-8";
    response.body = std::move(*html);
    response.content_length = response.body.size();
    return response;
  }
  if (!S_ISREG(st.st_mode) || target.trailing_slash) {
    return error_response(404);
  }

  Response response;
  response.etag = make_etag(st);
  response.last_modified = format_http_date(st.st_mtime);
  response.accept_ranges = true;
  // If-None-Match, when present, decides alone (RFC 9110 13.2.2).
  bool not_modified = false;
  if (!request.if_none_match.empty()) {
    not_modified = etag_list_matches(request.if_none_match, response.etag);
  } else if (!request.if_modified_since.empty()) {
    auto since = parse_http_date(request.if_modified_since);
    not_modified = since && st.st_mtime <= *since;
  }
  if (not_modified) {
    response.status = 304;
    response.send_body = false;
    return response;
  }

  auto size = static_cast<uint64_t>(st.st_size);
  response.content_type = std::string(content_type_for(target.segments.back()));
  response.content_length = size;
  if (!request.range.empty() &&
      (request.if_range.empty() || if_range_holds(request.if_range, response.etag, st.st_mtime))) {
    RangeRequest range = parse_range(request.range, size);
    if (range.kind == RangeRequest::Kind::unsatisfiable) {
      Response refused = error_response(416);
      refused.content_range = fmt::format("bytes */{}", size);
      refused.accept_ranges = true;
      return refused;
    }
    if (range.kind == RangeRequest::Kind::single) {
      response.status = 206;
      response.content_range = fmt::format("bytes {}-{}/{}", range.first, range.last, size);
      response.file_offset = range.first;
      response.content_length = range.last - range.first + 1;
    }
  }
  response.file = std::move(opened->fd);
  return response;
}

} // namespace aptship::serve
