#include "builder/receive/git.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "aptrepo/core/text.hpp"

namespace aptship::receive::git {

namespace fs = std::filesystem;

namespace {

// True when CHILD lies strictly below PARENT (both canonical).
bool is_strictly_inside(const fs::path& child, const fs::path& parent) {
  auto [parent_end, child_it] =
      std::mismatch(parent.begin(), parent.end(), child.begin(), child.end());
  return parent_end == parent.end() && child_it != child.end();
}

// The quarantine directories git named in the environment that belong to
// the repository whose objects are in OBJECTS.
std::vector<fs::path> quarantine_dirs(const fs::path& objects) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  fs::path objects_canonical = fs::canonical(objects, ec);
  if (ec) {
    return dirs;
  }
  for (const char* name : {"GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
      continue;
    }
    fs::path dir = fs::canonical(value, ec);
    if (ec || !fs::is_directory(dir, ec) || !is_strictly_inside(dir, objects_canonical)) {
      continue;
    }
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) {
      dirs.push_back(dir);
    }
  }
  return dirs;
}

} // namespace

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    // The ownership check guards against running a stranger's hooks and
    // filters; aptship only reads objects, and its own data dir may belong
    // to the service user while root runs `aptship build`.
    git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
  });
}

tl::unexpected<Error> last_error(std::string_view what) {
  const git_error* error = git_error_last();
  if (error == nullptr || error->message == nullptr) {
    return make_error("{}: unknown libgit2 error", what);
  }
  return make_error("{}: {}", what, printable(error->message));
}

Expected<Repository> open_repository(const fs::path& path) {
  init();
  git_repository* raw = nullptr;
  if (git_repository_open_ext(&raw, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) != 0) {
    return last_error(fmt::format("opening git repository {}", path.string()));
  }
  Repository repo(raw);
  const std::vector<fs::path> extra =
      quarantine_dirs(fs::path(git_repository_commondir(raw)) / "objects");
  if (!extra.empty()) {
    git_odb* odb_raw = nullptr;
    if (git_repository_odb(&odb_raw, raw) != 0) {
      return last_error(fmt::format("opening the object database of {}", path.string()));
    }
    Odb odb(odb_raw);
    for (const fs::path& dir : extra) {
      if (git_odb_add_disk_alternate(odb.get(), dir.c_str()) != 0) {
        return last_error(
            fmt::format("adding the quarantine {} to {}", dir.string(), path.string()));
      }
    }
  }
  return repo;
}

Expected<Commit> lookup_commit(git_repository* repo, std::string_view rev) {
  const std::string spec(rev);
  git_object* raw = nullptr;
  if (git_revparse_single(&raw, repo, spec.c_str()) != 0) {
    return last_error(fmt::format("no revision '{}'", printable(rev)));
  }
  Object object(raw);
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, object.get(), GIT_OBJECT_COMMIT) != 0) {
    return last_error(fmt::format("revision '{}' is not a commit", printable(rev)));
  }
  return Commit(reinterpret_cast<git_commit*>(peeled));
}

std::string to_hex(const git_oid& id) {
  char buffer[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(buffer, sizeof buffer, &id);
  return buffer;
}

} // namespace aptship::receive::git
