#pragma once

// The file tree of a package being built: a directory laid out as for
// `dpkg-deb -b`, listed in the order and form its data.tar will have.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "aptrepo/archive/tar.hpp"
#include "aptrepo/core/error.hpp"

namespace aptship::deb {

struct TreeEntry {
  archive::TarEntry tar; // path "./x/y" ("./x/" for directories), clamped mtime
  std::string source;    // path on disk relative to the tree root ("x/y"; "" for the root)
  dev_t dev = 0;         // device and inode of a regular file, to notice that it was
  ino_t ino = 0;         // replaced while packing
};

struct Tree {
  std::vector<TreeEntry> entries;  // "./" first, then depth-first, names sorted bytewise
  uint64_t installed_size_kib = 0; // computed as dpkg-gencontrol does
};

// Lists ROOT, skipping its top-level DEBIAN folder. Mtimes later than
// CLAMP_MTIME are set to it. Refuses names with newlines, special files
// (devices, fifos, sockets) and symlinks that loop within the package
// (resolving absolute targets against the package's own root).
[[nodiscard]] Expected<Tree> scan_tree(const std::filesystem::path& root,
                                       std::optional<int64_t> clamp_mtime);

// Checks that no symlink among ENTRIES loops when resolved inside the
// package; targets that leave the package are fine.
[[nodiscard]] Expected<void> check_symlink_loops(const std::vector<TreeEntry>& entries);

} // namespace aptship::deb
