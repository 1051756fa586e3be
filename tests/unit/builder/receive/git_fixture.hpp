#pragma once

// Builds git repositories for the receive tests with libgit2 itself, so
// that the tests control every mode, name and object exactly.

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <git2.h>

#include "builder/receive/git.hpp"

namespace aptship::test {

// One entry of a commit's tree: PATH ("a/b/c") with CONTENT, or for
// GIT_FILEMODE_COMMIT the hex id of the submodule commit.
struct FileSpec {
  std::string path;
  std::string content;
  git_filemode_t mode = GIT_FILEMODE_BLOB;
};

inline void git_check(int rc, const char* what) {
  if (rc != 0) {
    const git_error* e = git_error_last();
    throw std::runtime_error(std::string(what) + ": " + (e != nullptr ? e->message : "?"));
  }
}

inline receive::git::Repository init_repo(const std::filesystem::path& path, bool bare = true) {
  receive::git::init();
  git_repository* raw = nullptr;
  git_check(git_repository_init(&raw, path.c_str(), bare ? 1 : 0), "git_repository_init");
  return receive::git::Repository(raw);
}

inline git_oid write_blob(git_repository* repo, const std::string& content) {
  git_oid id;
  git_check(git_blob_create_from_buffer(&id, repo, content.data(), content.size()), "blob");
  return id;
}

// Writes the tree of FILES (paths relative to the tree) and returns its id.
inline git_oid write_tree(git_repository* repo, const std::vector<FileSpec>& files) {
  std::map<std::string, std::vector<FileSpec>> subdirs;
  git_treebuilder* raw = nullptr;
  git_check(git_treebuilder_new(&raw, repo, nullptr), "treebuilder");
  std::unique_ptr<git_treebuilder, decltype(&git_treebuilder_free)> builder(raw,
                                                                            git_treebuilder_free);
  for (const FileSpec& file : files) {
    const auto slash = file.path.find('/');
    if (slash != std::string::npos) {
      subdirs[file.path.substr(0, slash)].push_back(
          {file.path.substr(slash + 1), file.content, file.mode});
      continue;
    }
    git_oid id;
    if (file.mode == GIT_FILEMODE_COMMIT) {
      git_check(git_oid_fromstr(&id, file.content.c_str()), "oid");
    } else {
      id = write_blob(repo, file.content);
    }
    git_check(git_treebuilder_insert(nullptr, builder.get(), file.path.c_str(), &id, file.mode),
              "insert");
  }
  for (const auto& [name, entries] : subdirs) {
    git_oid id = write_tree(repo, entries);
    git_check(git_treebuilder_insert(nullptr, builder.get(), name.c_str(), &id, GIT_FILEMODE_TREE),
              "insert tree");
  }
  git_oid tree_id;
  git_check(git_treebuilder_write(&tree_id, builder.get()), "treebuilder write");
  return tree_id;
}

// Commits TREE_ID (with PARENT, if any) and points REF at it (unless
// empty); returns the commit id in hex.
inline std::string commit_tree_id(git_repository* repo, const git_oid& tree_id,
                                  const std::string& ref = "refs/heads/main",
                                  const std::string& parent = "") {
  git_tree* tree_raw = nullptr;
  git_check(git_tree_lookup(&tree_raw, repo, &tree_id), "tree lookup");
  receive::git::Tree tree(tree_raw);
  git_signature* sig = nullptr;
  git_check(git_signature_new(&sig, "aptship tests", "tests@example.org", 1700000000, 0), "sig");
  std::unique_ptr<git_signature, decltype(&git_signature_free)> signature(sig, git_signature_free);
  receive::git::Commit parent_commit;
  std::vector<const git_commit*> parents;
  if (!parent.empty()) {
    git_oid parent_id;
    git_check(git_oid_fromstr(&parent_id, parent.c_str()), "parent oid");
    git_commit* p = nullptr;
    git_check(git_commit_lookup(&p, repo, &parent_id), "parent lookup");
    parent_commit.reset(p);
    parents.push_back(p);
  }
  git_oid commit_id;
  git_check(git_commit_create(&commit_id, repo, ref.empty() ? nullptr : ref.c_str(),
                              signature.get(), signature.get(), nullptr, "test commit", tree.get(),
                              parents.size(), parents.data()),
            "commit");
  return receive::git::to_hex(commit_id);
}

inline std::string commit_files(git_repository* repo, const std::vector<FileSpec>& files,
                                const std::string& ref = "refs/heads/main",
                                const std::string& parent = "") {
  return commit_tree_id(repo, write_tree(repo, files), ref, parent);
}

// Writes a raw tree object from ENTRIES (mode, name, id), bypassing
// libgit2's name checks, to build trees a hostile pusher could send.
struct RawEntry {
  std::string mode; // "100644", "40000", ...
  std::string name;
  git_oid id;
};

inline git_oid write_raw_tree(git_repository* repo, const std::vector<RawEntry>& entries) {
  std::string data;
  for (const RawEntry& e : entries) {
    data += e.mode + ' ' + e.name;
    data += '\0';
    data.append(reinterpret_cast<const char*>(e.id.id), GIT_OID_RAWSZ);
  }
  git_odb* odb_raw = nullptr;
  git_check(git_repository_odb(&odb_raw, repo), "odb");
  receive::git::Odb odb(odb_raw);
  git_oid id;
  git_check(git_odb_write(&id, odb.get(), data.data(), data.size(), GIT_OBJECT_TREE), "odb write");
  return id;
}

} // namespace aptship::test
