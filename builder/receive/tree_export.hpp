#pragma once

// Reading pushed commits without a git subprocess: the whole tree into a
// directory for the build, or one small file (app.json, aptship.toml).

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "aptrepo/core/error.hpp"

namespace aptship::receive {

// Who made a commit and when.
struct CommitInfo {
  std::string id;           // full hex id
  std::string author_name;  // as recorded
  std::string author_email; // as recorded
  int64_t time = 0;         // committer time, seconds since the epoch
};

// The commit REV names in the repository at REPO.
[[nodiscard]] Expected<CommitInfo> commit_info(const std::filesystem::path& repo,
                                               std::string_view rev);

// The full commit id REV names in the repository at REPO (see
// git::lookup_commit for what REV may be).
[[nodiscard]] Expected<std::string> resolve_commit(const std::filesystem::path& repo,
                                                   std::string_view rev);

// Writes the tree of commit REV of the repository at REPO below DEST
// (created if missing; entries of the tree must not exist there yet):
// files with mode 0644 or 0755, symlinks as symlinks, directories 0755. A
// submodule is exported from its commit when that commit is in the
// repository, else the export fails naming the submodule. Entry names
// that could escape DEST or write git metadata (".", "..", ".git", "/")
// are refused. Works inside a pre-receive hook (see git::open_repository).
[[nodiscard]] Expected<void> export_tree(const std::filesystem::path& repo, std::string_view rev,
                                         const std::filesystem::path& dest);

// The content of the file at PATH ("app.json", "config/x.toml") in commit
// REV, or nullopt when there is no such path. A path naming a directory,
// symlink or submodule is an error.
[[nodiscard]] Expected<std::optional<std::string>>
read_blob(const std::filesystem::path& repo, std::string_view rev, std::string_view path);

} // namespace aptship::receive
