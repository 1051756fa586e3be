#pragma once

// A file written under a temporary name in its final directory and renamed
// into place by commit(); destroyed without commit, it is deleted, so a
// reader sees the old file or the complete new one, never a partial one.

#include <filesystem>
#include <string_view>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"

namespace aptship {

class AtomicFile {
public:
  // Opens a temporary file beside PATH with permissions MODE (before umask).
  [[nodiscard]] static Expected<AtomicFile> create(const std::filesystem::path& path,
                                                   mode_t mode = 0644);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  ~AtomicFile();

  // The descriptor of the temporary file, for direct writes.
  [[nodiscard]] const Fd& fd() const { return m_fd; }
  // The final path.
  [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
  // The temporary path, valid until commit or destruction.
  [[nodiscard]] const std::filesystem::path& temp_path() const { return m_temp; }
  // Appends DATA.
  [[nodiscard]] Expected<void> write(std::string_view data);
  // Gives up the file: its temporary name is removed and its still open
  // descriptor returned, for reading back what was written.
  [[nodiscard]] Fd abandon() noexcept;
  // fsyncs, closes, renames over the final path and fsyncs the directory.
  [[nodiscard]] Expected<void> commit();

private:
  AtomicFile() = default;
  void discard() noexcept;
  Fd m_fd;
  std::filesystem::path m_path;
  std::filesystem::path m_temp;
};

// Writes DATA to PATH atomically.
[[nodiscard]] Expected<void> write_file_atomic(const std::filesystem::path& path,
                                               std::string_view data, mode_t mode = 0644);

} // namespace aptship
