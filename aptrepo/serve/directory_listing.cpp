#include "aptrepo/serve/directory_listing.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "aptrepo/serve/request_path.hpp"

namespace aptship::serve {

namespace {

struct DirCloser {
  void operator()(DIR* dir) const { closedir(dir); }
};

} // namespace

tl::expected<std::string, int> render_listing(int dir_fd, std::string_view path) {
  // fdopendir takes ownership, and the caller keeps its descriptor.
  int own_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (own_fd < 0) {
    return tl::unexpected(errno);
  }
  std::unique_ptr<DIR, DirCloser> dir(fdopendir(own_fd));
  if (!dir) {
    int err = errno;
    close(own_fd);
    return tl::unexpected(err);
  }
  // A descriptor shared with a previous read may be positioned at the end.
  rewinddir(dir.get());
  std::vector<std::pair<std::string, bool>> entries; // name, is a directory
  errno = 0;
  while (struct dirent* entry = readdir(dir.get())) {
    std::string name = entry->d_name;
    if (name.empty() || name.front() == '.') {
      continue;
    }
    struct stat st {};
    // Links are shown as what they lead to; one that leads nowhere, or out
    // of the tree, is still listed and answers 404 when followed.
    bool is_dir = fstatat(dirfd(dir.get()), name.c_str(), &st, 0) == 0 && S_ISDIR(st.st_mode);
    entries.emplace_back(std::move(name), is_dir);
  }
  if (errno != 0) {
    return tl::unexpected(errno);
  }
  std::sort(entries.begin(), entries.end());
  std::string title = html_escape(path);
  std::string html = fmt::format("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                                 "<title>Index of {0}</title></head>\n<body>\n"
                                 "<h1>Index of {0}</h1>\n<ul>\n",
                                 title);
  if (path != "/") {
    html += "<li><a href=\"../\">../</a></li>\n";
  }
  for (const auto& [name, is_dir] : entries) {
    std::string shown = html_escape(name) + (is_dir ? "/" : "");
    html += fmt::format("<li><a href=\"{}{}\">{}</a></li>\n",
                        html_escape(percent_encode_path(name)), is_dir ? "/" : "", shown);
  }
  html += "</ul>\n</body></html>\n";
  return html;
}

} // namespace aptship::serve
