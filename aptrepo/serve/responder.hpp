#pragma once

// Deciding the response to one request: the method and target checks, the
// application's paths, and files of the tree with their conditional and
// range semantics. No sockets here; the connection sends what this decides.

#include <string_view>

#include "aptrepo/serve/file_tree.hpp"
#include "aptrepo/serve/request_path.hpp"
#include "aptrepo/serve/response.hpp"
#include "aptrepo/serve/server.hpp"

namespace aptship::serve {

enum class Method { get, head, other };

// The parts of a request head the responder looks at; views into the
// parser's buffer, valid for one call.
struct RequestInfo {
  Method method = Method::get;
  std::string_view target;
  std::string_view host;
  std::string_view if_none_match;
  std::string_view if_modified_since;
  std::string_view range;
  std::string_view if_range;
  bool has_body = false; // a Content-Length above zero or a chunked body
};

class Responder {
public:
  // TREE and OPTIONS must outlive the responder.
  Responder(const FileTree& tree, const ServeOptions& options) : m_tree(tree), m_options(options) {}

  // The response to REQUEST. Safe to call from several threads at once as
  // long as the application handler is.
  [[nodiscard]] Response respond(const RequestInfo& request) const;

private:
  [[nodiscard]] bool is_app_path(std::string_view path) const;
  [[nodiscard]] Response respond_app(const RequestInfo& request, RequestTarget&& target) const;
  [[nodiscard]] Response respond_file(const RequestInfo& request,
                                      const RequestTarget& target) const;

  const FileTree& m_tree;
  const ServeOptions& m_options;
};

} // namespace aptship::serve
