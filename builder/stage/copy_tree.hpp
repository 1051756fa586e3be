#pragma once

// Copies a built application (the slug) into the package tree.

#include <filesystem>

#include "aptrepo/core/error.hpp"

namespace aptship::stage {

// Copies the tree at FROM into TO, which must not exist: directories,
// regular files, hard links (as links between the copies) and symlinks
// (their targets unchanged), with modification times. TO gets mode 0755;
// below it, modes are kept except that group and others lose write access
// (the files become root's in the package) and directories stay writable by
// their owner. Refuses devices, fifos, sockets and setuid or setgid files,
// naming the path. On error TO may be left partly written; the caller
// removes it.
[[nodiscard]] Expected<void> copy_tree(const std::filesystem::path& from,
                                       const std::filesystem::path& to);

} // namespace aptship::stage
