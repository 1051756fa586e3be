#include "builder/stage/copy_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "aptrepo/core/fd.hpp"

namespace aptship::stage {

namespace {

constexpr size_t k_buffer = 1 << 20;

struct Context {
  std::filesystem::path from;                          // for messages
  int to_root = -1;                                    // the copy's root, for linkat
  std::map<std::pair<dev_t, ino_t>, std::string> seen; // first copy of each hard-linked inode
};

tl::unexpected<Error> failed(const Context& ctx, const std::string& rel, std::string_view what) {
  return errno_error(fmt::format("{}: {}", (ctx.from / rel).string(), what), errno);
}

// Names in the directory DIR, sorted so that copies are made in a stable order.
Expected<std::vector<std::string>> list(int dir) {
  const int dup_fd = fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    return errno_error("dup", errno);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> d(fdopendir(dup_fd), closedir);
  if (!d) {
    const int err = errno;
    close(dup_fd);
    return errno_error("fdopendir", err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* ent = readdir(d.get())) {
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
    errno = 0;
  }
  if (errno != 0) {
    return errno_error("readdir", errno);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Expected<void> copy_data(const Fd& from, const Fd& to) {
  bool kernel_copy = true;
  std::vector<char> buffer;
  while (true) {
    if (kernel_copy) {
      const ssize_t n = copy_file_range(from.get(), nullptr, to.get(), nullptr, k_buffer * 64, 0);
      if (n == 0) {
        return {};
      }
      if (n > 0) {
        continue;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
        return errno_error("copy_file_range", errno);
      }
      kernel_copy = false; // the file offsets say how far the kernel got
      buffer.resize(k_buffer);
    }
    TRY_ASSIGN(size_t n, from.read_some(buffer.data(), buffer.size()));
    if (n == 0) {
      return {};
    }
    TRY(to.write_all(std::string_view(buffer.data(), n)));
  }
}

mode_t file_mode(const struct stat& st) {
  return st.st_mode & 0755;
}

Expected<void> copy_dir(Context& ctx, int from_dir, int to_dir, const std::string& rel);

Expected<void> copy_entry(Context& ctx, int from_dir, int to_dir, const std::string& name,
                          const std::string& rel) {
  struct stat st {};
  if (fstatat(from_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return failed(ctx, rel, "stat");
  }
  const std::array<timespec, 2> times = {st.st_atim, st.st_mtim};
  if (S_ISDIR(st.st_mode)) {
    if (mkdirat(to_dir, name.c_str(), 0700) != 0) {
      return failed(ctx, rel, "mkdir in the copy");
    }
    Fd from_sub(openat(from_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!from_sub) {
      return failed(ctx, rel, "open");
    }
    Fd to_sub(openat(to_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!to_sub) {
      return failed(ctx, rel, "open the copy");
    }
    TRY(copy_dir(ctx, from_sub.get(), to_sub.get(), rel));
    // Set last: a read-only directory must take its entries first.
    if (fchmod(to_sub.get(), file_mode(st) | 0700) != 0 ||
        futimens(to_sub.get(), times.data()) != 0) {
      return failed(ctx, rel, "set mode and times of the copy");
    }
    return {};
  }
  if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    const ssize_t n = readlinkat(from_dir, name.c_str(), target.data(), target.size());
    if (n < 0) {
      return failed(ctx, rel, "readlink");
    }
    if (static_cast<size_t>(n) >= target.size()) {
      return make_error("{}: symlink changed while being copied", (ctx.from / rel).string());
    }
    target.resize(static_cast<size_t>(n));
    if (symlinkat(target.c_str(), to_dir, name.c_str()) != 0 ||
        utimensat(to_dir, name.c_str(), times.data(), AT_SYMLINK_NOFOLLOW) != 0) {
      return failed(ctx, rel, "symlink in the copy");
    }
    return {};
  }
  if (!S_ISREG(st.st_mode)) {
    const char* kind = S_ISSOCK(st.st_mode)   ? "a socket"
                       : S_ISFIFO(st.st_mode) ? "a fifo"
                                              : "a device";
    return make_error("{}: is {}; a package holds only files, directories and symlinks",
                      (ctx.from / rel).string(), kind);
  }
  if ((st.st_mode & (S_ISUID | S_ISGID)) != 0) {
    // The package makes every file root's: a setuid bit set by the build
    // would hand root to whoever controls the build.
    return make_error("{}: is setuid or setgid, which an app package must not install",
                      (ctx.from / rel).string());
  }
  if (st.st_nlink > 1) {
    auto [it, inserted] = ctx.seen.try_emplace({st.st_dev, st.st_ino}, rel);
    if (!inserted) {
      if (linkat(ctx.to_root, it->second.c_str(), to_dir, name.c_str(), 0) != 0) {
        return failed(ctx, rel, "hard link in the copy");
      }
      return {};
    }
  }
  Fd from_file(openat(from_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!from_file) {
    return failed(ctx, rel, "open");
  }
  Fd to_file(
      openat(to_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!to_file) {
    return failed(ctx, rel, "create the copy");
  }
  TRY_CTX(copy_data(from_file, to_file), (ctx.from / rel).string());
  if (fchmod(to_file.get(), file_mode(st)) != 0 || futimens(to_file.get(), times.data()) != 0) {
    return failed(ctx, rel, "set mode and times of the copy");
  }
  TRY_CTX(to_file.close(), (ctx.from / rel).string());
  return {};
}

Expected<void> copy_dir(Context& ctx, int from_dir, int to_dir, const std::string& rel) {
  TRY_ASSIGN(std::vector<std::string> names, list(from_dir));
  for (const std::string& name : names) {
    TRY(copy_entry(ctx, from_dir, to_dir, name, rel.empty() ? name : rel + "/" + name));
  }
  return {};
}

} // namespace

Expected<void> copy_tree(const std::filesystem::path& from, const std::filesystem::path& to) {
  Fd from_root(open(from.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!from_root) {
    return errno_error(from.string(), errno);
  }
  if (mkdir(to.c_str(), 0700) != 0) {
    return errno_error(fmt::format("{}: mkdir", to.string()), errno);
  }
  Fd to_root(open(to.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!to_root) {
    return errno_error(to.string(), errno);
  }
  Context ctx{from, to_root.get(), {}};
  TRY(copy_dir(ctx, from_root.get(), to_root.get(), ""));
  struct stat st {};
  if (fstat(from_root.get(), &st) != 0) {
    return errno_error(from.string(), errno);
  }
  const std::array<timespec, 2> times = {st.st_atim, st.st_mtim};
  if (fchmod(to_root.get(), 0755) != 0 || futimens(to_root.get(), times.data()) != 0) {
    return errno_error(fmt::format("{}: set mode and times", to.string()), errno);
  }
  return {};
}

} // namespace aptship::stage
