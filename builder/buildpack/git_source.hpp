#pragma once

// Buildpacks fetched from git with libgit2 and cached between builds.

#include <filesystem>
#include <string>

#include "aptrepo/core/error.hpp"

namespace aptship::buildpack {

// Writes the files of URL at REF (a branch, tag or commit; the remote's
// default branch when empty) into DEST, which must not exist yet. The
// repository is kept as a bare clone in CLONE_CACHE, keyed by a hash of
// URL: the first build clones it, later ones fetch into it (skipped when
// REF is a full commit id already present). Concurrent builds take turns
// on one clone. Returns the commit id that was written out.
[[nodiscard]] Expected<std::string> fetch_git_buildpack(const std::string& url,
                                                        const std::string& ref,
                                                        const std::filesystem::path& clone_cache,
                                                        const std::filesystem::path& dest);

// The directory in CLONE_CACHE that holds the clone of URL.
[[nodiscard]] std::filesystem::path clone_path(const std::filesystem::path& clone_cache,
                                               const std::string& url);

} // namespace aptship::buildpack
