#pragma once

// Facts about trees on disk the build needs: copying a working directory
// as a build's source, and the architecture a built slug needs.

#include <filesystem>
#include <string>

#include "aptrepo/core/error.hpp"

namespace aptship::pipeline {

// Copies the tree at FROM to TO (which must not exist) for a build: files,
// directories and symlinks as they are, except .git at the top.
[[nodiscard]] Expected<void> copy_source_dir(const std::filesystem::path& from,
                                             const std::filesystem::path& to);

// "all" when no file below SLUG is an ELF object, else the build machine's
// dpkg architecture (compiled code runs on its own architecture only).
[[nodiscard]] Expected<std::string> slug_architecture(const std::filesystem::path& slug);

} // namespace aptship::pipeline
