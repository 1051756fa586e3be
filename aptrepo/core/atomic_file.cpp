#include "aptrepo/core/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aptship {

namespace {

// The process umask. umask(2) can only be read by setting it, which races
// with other threads creating files, so the kernel's report is preferred.
mode_t current_umask() {
  if (FILE* status = std::fopen("/proc/self/status", "re"); status != nullptr) {
    char line[256];
    unsigned value = 0;
    bool found = false;
    while (std::fgets(line, sizeof(line), status) != nullptr) {
      if (std::sscanf(line, "Umask: %o", &value) == 1) {
        found = true;
        break;
      }
    }
    std::fclose(status);
    if (found) {
      return static_cast<mode_t>(value);
    }
  }
  mode_t mask = ::umask(022);
  ::umask(mask);
  return mask;
}

} // namespace

Expected<AtomicFile> AtomicFile::create(const std::filesystem::path& path, mode_t mode) {
  std::filesystem::path dir = path.parent_path();
  std::string pattern = (dir / fmt::format(".{}.tmp.XXXXXX", path.filename().string())).string();
  int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) {
    return errno_error(fmt::format("creating a temporary file for {}", path.string()), errno);
  }
  AtomicFile file;
  file.m_fd = Fd(fd);
  file.m_path = path;
  file.m_temp = pattern;
  // mkostemp creates 0600; the final file gets the mode a plain create would.
  if (::fchmod(fd, mode & ~current_umask()) != 0) {
    return errno_error(fmt::format("chmod {}", file.m_temp.string()), errno);
  }
  return file;
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : m_fd(std::move(other.m_fd)), m_path(std::move(other.m_path)),
      m_temp(std::move(other.m_temp)) {
  other.m_temp.clear();
}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    discard();
    m_fd = std::move(other.m_fd);
    m_path = std::move(other.m_path);
    m_temp = std::move(other.m_temp);
    other.m_temp.clear();
  }
  return *this;
}

AtomicFile::~AtomicFile() {
  discard();
}

void AtomicFile::discard() noexcept {
  m_fd = Fd();
  if (!m_temp.empty()) {
    ::unlink(m_temp.c_str());
    m_temp.clear();
  }
}

Fd AtomicFile::abandon() noexcept {
  Fd fd = std::move(m_fd);
  discard();
  return fd;
}

Expected<void> AtomicFile::write(std::string_view data) {
  TRY_CTX(m_fd.write_all(data), m_temp.string());
  return {};
}

Expected<void> AtomicFile::commit() {
  if (m_temp.empty()) {
    return make_error("{}: committed twice or after a move", m_path.string());
  }
  auto fail = [this](const Error& error) {
    Error result = error.context(fmt::format("writing {}", m_path.string()));
    discard();
    return tl::unexpected<Error>(std::move(result));
  };
  if (auto r = m_fd.sync(); !r) {
    return fail(r.error());
  }
  // close reports errors of delayed writes (NFS, quotas) that must not be
  // renamed into place.
  if (auto r = m_fd.close(); !r) {
    return fail(r.error());
  }
  if (::rename(m_temp.c_str(), m_path.c_str()) != 0) {
    int err = errno;
    return fail(Error(fmt::format("rename: {}", std::strerror(err))));
  }
  m_temp.clear();
  TRY_CTX(sync_directory(m_path.parent_path()), fmt::format("writing {}", m_path.string()));
  return {};
}

Expected<void> write_file_atomic(const std::filesystem::path& path, std::string_view data,
                                 mode_t mode) {
  TRY_ASSIGN(AtomicFile file, AtomicFile::create(path, mode));
  TRY(file.write(data));
  TRY(file.commit());
  return {};
}

} // namespace aptship
