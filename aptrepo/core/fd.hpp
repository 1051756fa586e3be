#pragma once

// An owned POSIX file descriptor: movable, not copyable, closed on destruction.

#include <filesystem>
#include <string>
#include <string_view>

#include "aptrepo/core/error.hpp"

namespace aptship {

class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : m_fd(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  ~Fd();

  // Opens PATH with open(2) FLAGS (O_CLOEXEC is always added) and MODE.
  [[nodiscard]] static Expected<Fd> open(const std::filesystem::path& path, int flags,
                                         mode_t mode = 0644);

  // The descriptor, or -1.
  [[nodiscard]] int get() const { return m_fd; }
  // True if a descriptor is held.
  [[nodiscard]] explicit operator bool() const { return m_fd >= 0; }
  // Gives up ownership and returns the descriptor.
  int release();
  // Closes now, reporting the close(2) error that a destructor would lose.
  [[nodiscard]] Expected<void> close();

  // Writes all of DATA, retrying short writes and EINTR.
  [[nodiscard]] Expected<void> write_all(std::string_view data) const;
  // Writes all of DATA at OFFSET with pwrite(2).
  [[nodiscard]] Expected<void> pwrite_all(std::string_view data, off_t offset) const;
  // Reads up to SIZE bytes, retrying EINTR; 0 means end of file.
  [[nodiscard]] Expected<size_t> read_some(void* buffer, size_t size) const;
  // Reads SIZE bytes at OFFSET with pread(2), retrying short reads and
  // EINTR; returns fewer only where the file ends.
  [[nodiscard]] Expected<size_t> pread_full(void* buffer, size_t size, uint64_t offset) const;
  // Reads everything from the current offset to end of file.
  [[nodiscard]] Expected<std::string> read_all() const;
  // fsync(2).
  [[nodiscard]] Expected<void> sync() const;

private:
  int m_fd = -1;
};

// Reads the whole file at PATH.
[[nodiscard]] Expected<std::string> read_file(const std::filesystem::path& path);

// fsyncs the directory DIR so that a rename or create in it is durable.
[[nodiscard]] Expected<void> sync_directory(const std::filesystem::path& dir);

} // namespace aptship
