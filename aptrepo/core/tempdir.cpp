#include "aptrepo/core/tempdir.hpp"

#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>

namespace aptship {

Expected<TempDir> TempDir::create(std::string_view prefix, const std::filesystem::path& parent) {
  std::filesystem::path base = parent;
  if (base.empty()) {
    const char* tmpdir = std::getenv("TMPDIR");
    base = (tmpdir != nullptr && *tmpdir != '\0') ? tmpdir : "/tmp";
  }
  std::string pattern = (base / fmt::format("{}.XXXXXX", prefix)).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return errno_error(fmt::format("creating a temporary directory in {}", base.string()), errno);
  }
  return TempDir(std::filesystem::path(pattern));
}

TempDir::TempDir(TempDir&& other) noexcept : m_path(std::move(other.m_path)) {
  other.m_path.clear();
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    if (!m_path.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(m_path, ec);
    }
    m_path = std::move(other.m_path);
    other.m_path.clear();
  }
  return *this;
}

TempDir::~TempDir() {
  if (!m_path.empty()) {
    // A destructor cannot report failure; a leftover directory in $TMPDIR
    // is harmless.
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
}

} // namespace aptship
