#pragma once

// libgit2 handles owned by std::unique_ptr, the one-time library set-up and
// the conversion of libgit2's last error into an aptship::Error.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <git2.h>

#include "aptrepo/core/error.hpp"

namespace aptship::receive::git {

struct RepositoryFree {
  void operator()(git_repository* p) const { git_repository_free(p); }
};
struct ObjectFree {
  void operator()(git_object* p) const { git_object_free(p); }
};
struct CommitFree {
  void operator()(git_commit* p) const { git_commit_free(p); }
};
struct TreeFree {
  void operator()(git_tree* p) const { git_tree_free(p); }
};
struct TreeEntryFree {
  void operator()(git_tree_entry* p) const { git_tree_entry_free(p); }
};
struct BlobFree {
  void operator()(git_blob* p) const { git_blob_free(p); }
};
struct OdbFree {
  void operator()(git_odb* p) const { git_odb_free(p); }
};
struct ReferenceFree {
  void operator()(git_reference* p) const { git_reference_free(p); }
};

using Repository = std::unique_ptr<git_repository, RepositoryFree>;
using Object = std::unique_ptr<git_object, ObjectFree>;
using Commit = std::unique_ptr<git_commit, CommitFree>;
using Tree = std::unique_ptr<git_tree, TreeFree>;
using TreeEntry = std::unique_ptr<git_tree_entry, TreeEntryFree>;
using Blob = std::unique_ptr<git_blob, BlobFree>;
using Odb = std::unique_ptr<git_odb, OdbFree>;
using Reference = std::unique_ptr<git_reference, ReferenceFree>;

// Initialises libgit2 once per process; every function here calls it.
void init();

// "WHAT: libgit2's message for its last error".
[[nodiscard]] tl::unexpected<Error> last_error(std::string_view what);

// Opens the repository at PATH (a bare repository or a work tree) without
// searching parent directories. When git runs a pre-receive hook for it,
// the pushed objects sit in a quarantine directory named by
// GIT_QUARANTINE_PATH / GIT_OBJECT_DIRECTORY: those inside this
// repository's objects/ are added as alternates, so the pushed commits
// can be read before git moves them in.
[[nodiscard]] Expected<Repository> open_repository(const std::filesystem::path& path);

// The commit REV names in REPO (a full or short id, a branch, a tag, HEAD,
// anything git rev-parse takes), peeled through annotated tags.
[[nodiscard]] Expected<Commit> lookup_commit(git_repository* repo, std::string_view rev);

// The 40 hex digits of ID.
[[nodiscard]] std::string to_hex(const git_oid& id);

} // namespace aptship::receive::git
