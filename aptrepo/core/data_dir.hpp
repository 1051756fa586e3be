#pragma once

// The layout of an aptship data dir, in one place.

#include <filesystem>
#include <string_view>

namespace aptship {

class DataDir {
public:
  explicit DataDir(std::filesystem::path root) : m_root(std::move(root)) {}

  // The --data value if given, else $APTSHIP_DATA, else ./aptship-data.
  [[nodiscard]] static DataDir resolve(std::string_view option);

  [[nodiscard]] const std::filesystem::path& root() const { return m_root; }
  // aptship's own configuration (TOML).
  [[nodiscard]] std::filesystem::path config() const { return m_root / "aptship.toml"; }
  // The GnuPG home holding the signing key.
  [[nodiscard]] std::filesystem::path gnupg() const { return m_root / "gnupg"; }
  // The package database (SQLite).
  [[nodiscard]] std::filesystem::path db() const { return m_root / "db" / "aptship.sqlite"; }
  // The published tree that `aptship serve` serves: pool/, dists/, .gen/.
  [[nodiscard]] std::filesystem::path public_root() const { return m_root / "public"; }
  // The file whose flock serializes the operations that change the repository.
  [[nodiscard]] std::filesystem::path lock() const { return m_root / "lock"; }

private:
  std::filesystem::path m_root;
};

} // namespace aptship
