#pragma once

// Shared helpers for unit tests: every case runs in a fresh temporary
// directory, which is its working directory while it runs.

#include <filesystem>
#include <string>
#include <string_view>

namespace aptship::test {

// Creates a fresh directory, chdirs into it, and on destruction chdirs back
// and removes it.
class ScopedTempDir {
public:
  ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  ~ScopedTempDir();
  [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
  std::filesystem::path m_previous;
};

// Writes CONTENT to PATH, creating parent directories, with MODE.
void write(const std::filesystem::path& path, std::string_view content, unsigned mode = 0644);
// Reads the file at PATH.
std::string read(const std::filesystem::path& path);

} // namespace aptship::test
