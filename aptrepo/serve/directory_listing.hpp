#pragma once

// The plain HTML page a request for a directory of the tree gets.

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace aptship::serve {

// An HTML list of the entries of the open directory DIR_FD, sorted by name,
// directories marked with a trailing "/", hidden entries (".gen") left out;
// PATH is the decoded request path, shown as the title. Names are escaped
// for HTML and links percent-encoded. The error is an errno value.
[[nodiscard]] tl::expected<std::string, int> render_listing(int dir_fd, std::string_view path);

} // namespace aptship::serve
