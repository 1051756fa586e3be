#include "aptrepo/serve/file_tree.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdlib>

namespace aptship::serve {

namespace {

// O_NONBLOCK: a FIFO planted in the tree must not hang a server thread in
// open(2); it is refused afterwards as not a regular file.
constexpr int k_open_flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

// Cleared once the kernel says it has no openat2(2) (before Linux 5.6).
std::atomic<bool> g_have_openat2{true};
constexpr int k_openat2_attempts = 8;

tl::expected<OpenedFile, int> finish_open(int fd) {
  OpenedFile opened;
  opened.fd = Fd(fd);
  if (fstat(fd, &opened.st) != 0) {
    return tl::unexpected(errno);
  }
  return opened;
}

} // namespace

Expected<FileTree> FileTree::open(const std::filesystem::path& root) {
  char* real = realpath(root.c_str(), nullptr);
  if (real == nullptr) {
    return errno_error(fmt::format("resolving the served root {}", root.string()), errno);
  }
  std::string real_root(real);
  free(real); // NOLINT(cppcoreguidelines-no-malloc): realpath's allocation
  TRY_ASSIGN(Fd fd, Fd::open(real_root, O_RDONLY | O_DIRECTORY));
  return FileTree(std::move(fd), std::move(real_root));
}

tl::expected<OpenedFile, int> FileTree::open_file(const std::string& relative) const {
  if (g_have_openat2.load(std::memory_order_relaxed)) {
    // The fast path: one system call that resolves below the root only.
    struct open_how how {};
    how.flags = k_open_flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = -1;
    int err = 0;
    // EAGAIN: a rename anywhere on the machine raced a ".." on the way (the
    // published links are relative, "../.gen/..."), and the kernel could not
    // vouch for the walk; a retry is the documented answer. After a few, the
    // real path decides instead.
    for (int attempt = 0; attempt < k_openat2_attempts; ++attempt) {
      fd = syscall(SYS_openat2, m_root_fd.get(), relative.c_str(), &how, sizeof(how));
      err = fd >= 0 ? 0 : errno;
      if (err != EAGAIN) {
        break;
      }
    }
    if (fd >= 0) {
      return finish_open(static_cast<int>(fd));
    }
    if (err == ENOSYS) {
      g_have_openat2.store(false, std::memory_order_relaxed);
    } else if (err != EXDEV && err != EAGAIN) {
      return tl::unexpected(err);
    }
    // EXDEV: an absolute link, or a ".." through the root. Such a link may
    // still land inside the tree, which only its real path can tell.
  }
  return open_resolved(relative);
}

tl::expected<OpenedFile, int> FileTree::open_resolved(const std::string& relative) const {
  std::string full = relative == "." ? m_root : m_root + "/" + relative;
  char* real = realpath(full.c_str(), nullptr);
  if (real == nullptr) {
    return tl::unexpected(errno);
  }
  std::string resolved(real);
  free(real); // NOLINT(cppcoreguidelines-no-malloc): realpath's allocation
  bool inside = m_root == "/" || resolved == m_root ||
                (resolved.size() > m_root.size() &&
                 resolved.compare(0, m_root.size(), m_root) == 0 && resolved[m_root.size()] == '/');
  if (!inside) {
    return tl::unexpected(ENOENT);
  }
  // O_NOFOLLOW: the real path has no links left; one appearing since is refused.
  int fd = ::open(resolved.c_str(), k_open_flags | O_NOFOLLOW);
  if (fd < 0) {
    return tl::unexpected(errno);
  }
  return finish_open(fd);
}

} // namespace aptship::serve
