#include "builder/receive/tree_export.hpp"

#include <cerrno>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/text.hpp"
#include "builder/receive/git.hpp"

namespace aptship::receive {

namespace fs = std::filesystem;

namespace {

// Names git itself refuses to check out, and anything that is not a plain
// single path component.
Expected<void> check_entry_name(std::string_view name, const std::string& path) {
  if (name.empty() || name == "." || name == ".." ||
      name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos) {
    return make_error("{}: refusing a tree entry named '{}'", printable(path), printable(name));
  }
  if (name.size() == 4 && name[0] == '.' && (name[1] | 0x20) == 'g' && (name[2] | 0x20) == 'i' &&
      (name[3] | 0x20) == 't') {
    return make_error("{}: refusing a tree entry named '{}'", printable(path), printable(name));
  }
  return {};
}

Expected<Fd> open_directory_at(int dir_fd, const char* name, const std::string& path) {
  int fd = ::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return errno_error(printable(path), errno);
  }
  return Fd(fd);
}

class Exporter {
public:
  explicit Exporter(git_repository* repo) : m_repo(repo) {}

  // Writes TREE's entries into the directory DIR_FD, whose path in the
  // tree is PREFIX ("" or "a/b/").
  Expected<void> write_tree(const git_tree* tree, int dir_fd, const std::string& prefix) {
    const size_t count = git_tree_entrycount(tree);
    for (size_t i = 0; i < count; ++i) {
      const git_tree_entry* entry = git_tree_entry_byindex(tree, i);
      const char* name = git_tree_entry_name(entry);
      const std::string path = prefix + name;
      TRY(check_entry_name(name, path));
      const git_oid* id = git_tree_entry_id(entry);
      switch (git_tree_entry_filemode(entry)) {
      case GIT_FILEMODE_TREE:
        TRY(write_subtree(id, dir_fd, name, path));
        break;
      case GIT_FILEMODE_BLOB: // libgit2 reads an old git's 100664 as this
        TRY(write_file(id, dir_fd, name, path, 0644));
        break;
      case GIT_FILEMODE_BLOB_EXECUTABLE:
        TRY(write_file(id, dir_fd, name, path, 0755));
        break;
      case GIT_FILEMODE_LINK:
        TRY(write_symlink(id, dir_fd, name, path));
        break;
      case GIT_FILEMODE_COMMIT:
        TRY(write_submodule(id, dir_fd, name, path));
        break;
      default:
        return make_error("{}: unknown file mode {:o}", printable(path),
                          static_cast<unsigned>(git_tree_entry_filemode(entry)));
      }
    }
    return {};
  }

private:
  Expected<void> write_subtree(const git_oid* id, int dir_fd, const char* name,
                               const std::string& path) {
    git_tree* raw = nullptr;
    if (git_tree_lookup(&raw, m_repo, id) != 0) {
      return git::last_error(printable(path));
    }
    git::Tree tree(raw);
    return write_directory(tree.get(), dir_fd, name, path);
  }

  Expected<void> write_directory(const git_tree* tree, int dir_fd, const char* name,
                                 const std::string& path) {
    if (::mkdirat(dir_fd, name, 0755) != 0) {
      return errno_error(printable(path), errno);
    }
    TRY_ASSIGN(Fd sub, open_directory_at(dir_fd, name, path));
    if (::fchmod(sub.get(), 0755) != 0) {
      return errno_error(printable(path), errno);
    }
    return write_tree(tree, sub.get(), path + "/");
  }

  Expected<git::Blob> lookup_blob(const git_oid* id, const std::string& path) {
    git_blob* raw = nullptr;
    if (git_blob_lookup(&raw, m_repo, id) != 0) {
      return git::last_error(printable(path));
    }
    return git::Blob(raw);
  }

  Expected<void> write_file(const git_oid* id, int dir_fd, const char* name,
                            const std::string& path, mode_t mode) {
    TRY_ASSIGN(git::Blob blob, lookup_blob(id, path));
    // O_EXCL and O_NOFOLLOW: a tree listing one name twice cannot make a
    // write land through a symlink it planted first.
    int raw_fd = ::openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (raw_fd < 0) {
      return errno_error(printable(path), errno);
    }
    Fd fd(raw_fd);
    if (::fchmod(fd.get(), mode) != 0) {
      return errno_error(printable(path), errno);
    }
    const auto size = static_cast<size_t>(git_blob_rawsize(blob.get()));
    TRY_CTX(fd.write_all(
                std::string_view(static_cast<const char*>(git_blob_rawcontent(blob.get())), size)),
            printable(path));
    TRY_CTX(fd.close(), printable(path));
    return {};
  }

  Expected<void> write_symlink(const git_oid* id, int dir_fd, const char* name,
                               const std::string& path) {
    TRY_ASSIGN(git::Blob blob, lookup_blob(id, path));
    std::string target(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                       static_cast<size_t>(git_blob_rawsize(blob.get())));
    if (target.empty() || target.find('\0') != std::string::npos) {
      return make_error("{}: symlink with an invalid target '{}'", printable(path),
                        printable(target));
    }
    if (::symlinkat(target.c_str(), dir_fd, name) != 0) {
      return errno_error(printable(path), errno);
    }
    return {};
  }

  Expected<void> write_submodule(const git_oid* id, int dir_fd, const char* name,
                                 const std::string& path) {
    git_commit* raw = nullptr;
    if (git_commit_lookup(&raw, m_repo, id) != 0) {
      return make_error("submodule {} is not available: aptship does not fetch submodules; "
                        "vendor it or remove it",
                        printable(path));
    }
    git::Commit commit(raw);
    git_tree* tree_raw = nullptr;
    if (git_commit_tree(&tree_raw, commit.get()) != 0) {
      return git::last_error(printable(path));
    }
    git::Tree tree(tree_raw);
    return write_directory(tree.get(), dir_fd, name, path);
  }

  git_repository* m_repo;
};

Expected<git::Tree> commit_tree(git_repository* repo, std::string_view rev) {
  TRY_ASSIGN(git::Commit commit, git::lookup_commit(repo, rev));
  git_tree* raw = nullptr;
  if (git_commit_tree(&raw, commit.get()) != 0) {
    return git::last_error(fmt::format("reading the tree of '{}'", printable(rev)));
  }
  return git::Tree(raw);
}

} // namespace

Expected<std::string> resolve_commit(const fs::path& repo_path, std::string_view rev) {
  TRY_ASSIGN(git::Repository repo, git::open_repository(repo_path));
  TRY_ASSIGN(git::Commit commit, git::lookup_commit(repo.get(), rev).map_error([&](const Error& e) {
    return e.context(repo_path.string());
  }));
  return git::to_hex(*git_commit_id(commit.get()));
}

Expected<CommitInfo> commit_info(const fs::path& repo_path, std::string_view rev) {
  TRY_ASSIGN(git::Repository repo, git::open_repository(repo_path));
  TRY_ASSIGN(git::Commit commit, git::lookup_commit(repo.get(), rev).map_error([&](const Error& e) {
    return e.context(repo_path.string());
  }));
  CommitInfo info;
  info.id = git::to_hex(*git_commit_id(commit.get()));
  if (const git_signature* author = git_commit_author(commit.get())) {
    info.author_name = author->name != nullptr ? author->name : "";
    info.author_email = author->email != nullptr ? author->email : "";
  }
  info.time = static_cast<int64_t>(git_commit_time(commit.get()));
  return info;
}

Expected<void> export_tree(const fs::path& repo_path, std::string_view rev, const fs::path& dest) {
  const std::string context =
      fmt::format("exporting '{}' of {} to {}", printable(rev), repo_path.string(), dest.string());
  TRY_ASSIGN(git::Repository repo, git::open_repository(repo_path));
  TRY_ASSIGN(git::Tree tree, commit_tree(repo.get(), rev).map_error([&](const Error& e) {
    return e.context(context);
  }));
  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec) {
    return errno_error(fmt::format("{}: creating the directory", context), ec.value());
  }
  int raw_fd = ::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (raw_fd < 0) {
    return errno_error(context, errno);
  }
  Fd dir(raw_fd);
  Exporter exporter(repo.get());
  TRY_CTX(exporter.write_tree(tree.get(), dir.get(), ""), context);
  return {};
}

Expected<std::optional<std::string>> read_blob(const fs::path& repo_path, std::string_view rev,
                                               std::string_view path) {
  const std::string context =
      fmt::format("reading {} of '{}' in {}", printable(path), printable(rev), repo_path.string());
  if (path.empty()) {
    return make_error("{}: empty path", context);
  }
  TRY_ASSIGN(git::Repository repo, git::open_repository(repo_path));
  TRY_ASSIGN(git::Tree tree, commit_tree(repo.get(), rev).map_error([&](const Error& e) {
    return e.context(context);
  }));
  const std::string path_string(path);
  git_tree_entry* raw = nullptr;
  int rc = git_tree_entry_bypath(&raw, tree.get(), path_string.c_str());
  if (rc == GIT_ENOTFOUND) {
    return std::nullopt;
  }
  if (rc != 0) {
    return git::last_error(context);
  }
  git::TreeEntry entry(raw);
  const git_filemode_t mode = git_tree_entry_filemode(entry.get());
  if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) {
    return make_error("{}: not a regular file", context);
  }
  git_blob* blob_raw = nullptr;
  if (git_blob_lookup(&blob_raw, repo.get(), git_tree_entry_id(entry.get())) != 0) {
    return git::last_error(context);
  }
  git::Blob blob(blob_raw);
  return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                     static_cast<size_t>(git_blob_rawsize(blob.get())));
}

} // namespace aptship::receive
