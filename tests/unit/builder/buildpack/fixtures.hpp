#pragma once

// Fake buildpacks and git repositories for the buildpack runner's tests.

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <git2.h>

#include "builder/buildpack/buildpack.hpp"
#include "testutil.hpp"

namespace aptship::test {

// Writes a buildpack at DIR whose bin/detect, bin/compile and bin/release
// run the given bash bodies; an empty body leaves that script out.
inline void write_buildpack(const std::filesystem::path& dir, const std::string& detect,
                            const std::string& compile, const std::string& release = "") {
  std::filesystem::create_directories(dir / "bin");
  auto script = [&dir](const char* name, const std::string& body) {
    if (!body.empty()) {
      write(dir / "bin" / name, "#!/bin/bash\nset -e\n" + body + "\n", 0755);
    }
  };
  script("detect", detect);
  script("compile", compile);
  script("release", release);
}

// A build request with everything under ROOT: source ROOT/src, install
// ROOT/app, work ROOT/work, cache ROOT/cache, built-ins ROOT/builtin,
// clones ROOT/clones; the output lines are collected in `lines`.
struct BuildFixture {
  explicit BuildFixture(const std::filesystem::path& root) {
    request.app = "hello";
    request.source_dir = root / "src";
    request.install_dir = root / "app";
    request.work_dir = root / "work";
    request.cache_dir = root / "cache";
    request.builtin_dir = root / "builtin";
    request.clone_cache = root / "clones";
    request.output = [this](std::string_view line) { lines.emplace_back(line); };
    std::filesystem::create_directories(request.source_dir);
    std::filesystem::create_directories(request.builtin_dir);
  }
  BuildFixture(const BuildFixture&) = delete;
  BuildFixture& operator=(const BuildFixture&) = delete;

  // All output lines joined with "\n".
  [[nodiscard]] std::string text() const {
    std::string all;
    for (const auto& line : lines) {
      all += line;
      all += '\n';
    }
    return all;
  }

  buildpack::BuildRequest request;
  std::vector<std::string> lines;
};

// Keeps libgit2 initialised while a test uses it.
struct Libgit2Scope {
  Libgit2Scope() { git_libgit2_init(); }
  Libgit2Scope(const Libgit2Scope&) = delete;
  Libgit2Scope& operator=(const Libgit2Scope&) = delete;
  ~Libgit2Scope() { git_libgit2_shutdown(); }
};

// A non-bare repository made with libgit2, for file:// buildpack URLs.
class GitRepo {
public:
  explicit GitRepo(std::filesystem::path dir) : m_dir(std::move(dir)) {
    check(git_repository_init(&m_repo, m_dir.c_str(), 0), "init");
  }
  GitRepo(const GitRepo&) = delete;
  GitRepo& operator=(const GitRepo&) = delete;
  ~GitRepo() { git_repository_free(m_repo); }

  // The file:// URL of the repository.
  [[nodiscard]] std::string url() const { return "file://" + m_dir.string(); }
  [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }

  // Commits everything in the work tree on the current branch; returns the
  // commit id.
  std::string commit_all(const std::string& message) {
    git_index* index = nullptr;
    check(git_repository_index(&index, m_repo), "index");
    check(git_index_add_all(index, nullptr, 0, nullptr, nullptr), "add");
    check(git_index_write(index), "write index");
    git_oid tree_id;
    check(git_index_write_tree(&tree_id, index), "write tree");
    git_index_free(index);
    git_tree* tree = nullptr;
    check(git_tree_lookup(&tree, m_repo, &tree_id), "tree");
    git_signature* sig = nullptr;
    check(git_signature_new(&sig, "Test", "test@example.org", 1700000000, 0), "signature");
    git_commit* parent = nullptr;
    git_oid head;
    int parents = 0;
    if (git_reference_name_to_id(&head, m_repo, "HEAD") == 0) {
      check(git_commit_lookup(&parent, m_repo, &head), "parent");
      parents = 1;
    }
    const git_commit* parent_list[] = {parent};
    git_oid commit_id;
    check(git_commit_create(&commit_id, m_repo, "HEAD", sig, sig, nullptr, message.c_str(), tree,
                            parents, parent_list),
          "commit");
    git_commit_free(parent);
    git_signature_free(sig);
    git_tree_free(tree);
    char hex[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(hex, sizeof(hex), &commit_id);
    return hex;
  }

  // Points the lightweight tag NAME at HEAD.
  void tag(const std::string& name) {
    git_oid head;
    check(git_reference_name_to_id(&head, m_repo, "HEAD"), "HEAD");
    git_object* target = nullptr;
    check(git_object_lookup(&target, m_repo, &head, GIT_OBJECT_COMMIT), "lookup");
    git_oid tag_id;
    check(git_tag_create_lightweight(&tag_id, m_repo, name.c_str(), target, 1), "tag");
    git_object_free(target);
  }

private:
  static void check(int rc, const char* what) {
    if (rc != 0) {
      const git_error* error = git_error_last();
      throw std::runtime_error(std::string("libgit2 ") + what + ": " +
                               (error != nullptr ? error->message : "?"));
    }
  }

  Libgit2Scope m_libgit2;
  std::filesystem::path m_dir;
  git_repository* m_repo = nullptr;
};

} // namespace aptship::test
