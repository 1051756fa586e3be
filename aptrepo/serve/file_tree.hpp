#pragma once

// Opening files of the served tree so that nothing outside it can be
// reached: symbolic links are followed (the published tree switches
// generations through them) but only while their target stays below the
// root's real path.

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"

namespace aptship::serve {

// An open file or directory of the tree and its fstat(2).
struct OpenedFile {
  Fd fd;
  struct stat st {};
};

class FileTree {
public:
  // Opens ROOT (which must be a directory) for the server's lifetime; the
  // tree below it may change freely, ROOT itself is resolved once.
  [[nodiscard]] static Expected<FileTree> open(const std::filesystem::path& root);

  // Opens RELATIVE ("." for the root, else "a/b/c" of already validated
  // segments) read-only. The error is an errno value: ENOENT when the path
  // is missing or resolves outside the root, or any open(2)/fstat(2) error.
  [[nodiscard]] tl::expected<OpenedFile, int> open_file(const std::string& relative) const;

  // The root's real path.
  [[nodiscard]] const std::string& root() const { return m_root; }

private:
  FileTree(Fd root_fd, std::string root) : m_root_fd(std::move(root_fd)), m_root(std::move(root)) {}
  [[nodiscard]] tl::expected<OpenedFile, int> open_resolved(const std::string& relative) const;

  Fd m_root_fd;
  std::string m_root;
};

} // namespace aptship::serve
