#include "aptrepo/core/fd.hpp"

#include <cerrno>

#include <fcntl.h>
#include <unistd.h>

namespace aptship {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = other.release();
  }
  return *this;
}

Fd::~Fd() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

Expected<Fd> Fd::open(const std::filesystem::path& path, int flags, mode_t mode) {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    return errno_error(fmt::format("opening {}", path.string()), errno);
  }
  return Fd(fd);
}

int Fd::release() {
  int fd = m_fd;
  m_fd = -1;
  return fd;
}

Expected<void> Fd::close() {
  if (m_fd < 0) {
    return {};
  }
  int fd = release();
  // Linux releases the descriptor even when close fails, so EINTR must not
  // be retried: the number may already belong to another thread's file.
  if (::close(fd) != 0 && errno != EINTR) {
    return errno_error("close", errno);
  }
  return {};
}

Expected<void> Fd::write_all(std::string_view data) const {
  while (!data.empty()) {
    ssize_t n = ::write(m_fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error("write", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Expected<void> Fd::pwrite_all(std::string_view data, off_t offset) const {
  while (!data.empty()) {
    ssize_t n = ::pwrite(m_fd, data.data(), data.size(), offset);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error("pwrite", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  return {};
}

Expected<size_t> Fd::read_some(void* buffer, size_t size) const {
  for (;;) {
    ssize_t n = ::read(m_fd, buffer, size);
    if (n >= 0) {
      return static_cast<size_t>(n);
    }
    if (errno != EINTR) {
      return errno_error("read", errno);
    }
  }
}

Expected<size_t> Fd::pread_full(void* buffer, size_t size, uint64_t offset) const {
  auto* out = static_cast<char*>(buffer);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(m_fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return errno_error("reading", errno);
    }
    if (n == 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

Expected<std::string> Fd::read_all() const {
  std::string result;
  char buffer[65536];
  for (;;) {
    TRY_ASSIGN(size_t n, read_some(buffer, sizeof(buffer)));
    if (n == 0) {
      return result;
    }
    result.append(buffer, n);
  }
}

Expected<void> Fd::sync() const {
  if (::fsync(m_fd) != 0) {
    return errno_error("fsync", errno);
  }
  return {};
}

Expected<std::string> read_file(const std::filesystem::path& path) {
  TRY_ASSIGN(Fd fd, Fd::open(path, O_RDONLY));
  auto content = fd.read_all();
  if (!content) {
    return tl::unexpected<Error>(content.error().context(path.string()));
  }
  return content;
}

Expected<void> sync_directory(const std::filesystem::path& dir) {
  TRY_ASSIGN(Fd fd,
             Fd::open(dir.empty() ? std::filesystem::path(".") : dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) != 0) {
    return errno_error(fmt::format("fsync {}", dir.string()), errno);
  }
  return {};
}

} // namespace aptship
