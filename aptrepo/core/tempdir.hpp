#pragma once

// A uniquely named directory removed recursively on destruction.

#include <filesystem>

#include "aptrepo/core/error.hpp"

namespace aptship {

class TempDir {
public:
  // Creates PARENT/PREFIX.XXXXXX (PARENT defaults to $TMPDIR or /tmp).
  [[nodiscard]] static Expected<TempDir> create(std::string_view prefix = "aptship",
                                                const std::filesystem::path& parent = {});
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  ~TempDir();

  // The directory's path.
  [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
  // Keeps the directory: the destructor will not remove it.
  void keep() { m_path.clear(); }

private:
  explicit TempDir(std::filesystem::path path) : m_path(std::move(path)) {}
  std::filesystem::path m_path;
};

} // namespace aptship
