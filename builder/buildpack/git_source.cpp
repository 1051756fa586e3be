#include "builder/buildpack/git_source.hpp"

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <system_error>

#include <fcntl.h>
#include <git2.h>
#include <sys/file.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/hash.hpp"
#include "aptrepo/core/text.hpp"
#include "builder/buildpack/selection.hpp"

namespace aptship::buildpack {

namespace fs = std::filesystem;

namespace {

// Keeps libgit2 initialised for the duration of one call; its init count
// is shared with any other user in the process.
class Libgit2 {
public:
  Libgit2() { git_libgit2_init(); }
  Libgit2(const Libgit2&) = delete;
  Libgit2& operator=(const Libgit2&) = delete;
  ~Libgit2() { git_libgit2_shutdown(); }
};

struct RepositoryFree {
  void operator()(git_repository* repo) const { git_repository_free(repo); }
};
struct RemoteFree {
  void operator()(git_remote* remote) const { git_remote_free(remote); }
};
struct ObjectFree {
  void operator()(git_object* object) const { git_object_free(object); }
};
using Repository = std::unique_ptr<git_repository, RepositoryFree>;
using Remote = std::unique_ptr<git_remote, RemoteFree>;
using Object = std::unique_ptr<git_object, ObjectFree>;

// libgit2's message for the last failure.
std::string git_message() {
  const git_error* error = git_error_last();
  return error != nullptr && error->message != nullptr ? printable(error->message)
                                                       : std::string("unknown libgit2 error");
}

// Offers the ssh agent once for git@ and ssh:// URLs; asking again after a
// refusal would loop forever.
int credentials(git_credential** out, const char* /*url*/, const char* username,
                unsigned int allowed, void* payload) {
  auto* tried = static_cast<bool*>(payload);
  if (*tried || (allowed & GIT_CREDENTIAL_SSH_KEY) == 0) {
    return GIT_PASSTHROUGH;
  }
  *tried = true;
  return git_credential_ssh_key_from_agent(out, username != nullptr ? username : "git");
}

// Brings the bare clone REPO up to date with URL: every branch and tag as
// the remote has them, and HEAD on the remote's default branch.
Expected<void> fetch_origin(git_repository* repo, const std::string& url) {
  // An in-memory remote, not one recorded in the clone's config: libgit2
  // 1.5 leaks memory for every config entry its regex lookups of named
  // remotes and url.insteadOf rules pass over, and the cache key already
  // ties the clone to URL.
  git_remote_create_options create = GIT_REMOTE_CREATE_OPTIONS_INIT;
  create.repository = repo;
  create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  git_remote* raw_remote = nullptr;
  if (git_remote_create_with_opts(&raw_remote, url.c_str(), &create) != 0) {
    return make_error("{}", git_message());
  }
  Remote remote(raw_remote);
  bool tried_agent = false;
  git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
  options.callbacks.credentials = credentials;
  options.callbacks.payload = &tried_agent;
  options.prune = GIT_FETCH_PRUNE;
  options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
  char heads[] = "+refs/heads/*:refs/heads/*";
  char tags[] = "+refs/tags/*:refs/tags/*";
  char* specs[] = {heads, tags};
  git_strarray refspecs = {specs, 2};
  if (git_remote_fetch(remote.get(), &refspecs, &options, "aptship: fetch buildpack") != 0) {
    return make_error("{}", git_message());
  }
  git_buf branch = GIT_BUF_INIT;
  if (git_remote_default_branch(&branch, remote.get()) == 0) {
    int rc = git_repository_set_head(repo, branch.ptr);
    git_buf_dispose(&branch);
    if (rc != 0) {
      return make_error("{}", git_message());
    }
  }
  return {};
}

bool is_full_commit_id(const std::string& ref) {
  return ref.size() == GIT_OID_HEXSZ &&
         ref.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

bool has_commit(git_repository* repo, const std::string& id) {
  git_oid oid;
  git_object* object = nullptr;
  if (git_oid_fromstr(&oid, id.c_str()) != 0 ||
      git_object_lookup(&object, repo, &oid, GIT_OBJECT_COMMIT) != 0) {
    return false;
  }
  git_object_free(object);
  return true;
}

// Creates the bare clone of URL at PATH through a temporary sibling, so
// that an interrupted clone never looks like a cached one.
Expected<Repository> clone_bare(const std::string& url, const fs::path& path) {
  std::string pattern = path.string() + ".tmp-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return errno_error(fmt::format("creating a directory beside {}", path.string()), errno);
  }
  fs::path temp = pattern;
  auto discard = [&temp] {
    std::error_code ec;
    fs::remove_all(temp, ec);
  };
  git_repository* raw_repo = nullptr;
  if (git_repository_init(&raw_repo, temp.c_str(), 1) != 0) {
    discard();
    return make_error("{}", git_message());
  }
  Repository repo(raw_repo);
  if (auto fetched = fetch_origin(repo.get(), url); !fetched) {
    repo.reset();
    discard();
    return tl::unexpected<Error>(fetched.error());
  }
  repo.reset();
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    discard();
    return make_error("renaming the clone to {}: {}", path.string(), ec.message());
  }
  raw_repo = nullptr;
  if (git_repository_open_bare(&raw_repo, path.c_str()) != 0) {
    return make_error("{}", git_message());
  }
  return Repository(raw_repo);
}

} // namespace

fs::path clone_path(const fs::path& clone_cache, const std::string& url) {
  return clone_cache / (hex_digest(Digest::sha256, url).substr(0, 24) + ".git");
}

Expected<std::string> fetch_git_buildpack(const std::string& url, const std::string& ref,
                                          const fs::path& clone_cache, const fs::path& dest) {
  Libgit2 libgit2;
  std::string shown = redact_url(url);
  std::error_code ec;
  fs::create_directories(clone_cache, ec);
  if (ec) {
    return make_error("creating {}: {}", clone_cache.string(), ec.message());
  }
  fs::path path = clone_path(clone_cache, url);
  // One build at a time per clone: libgit2 does not serialize concurrent
  // fetches into one repository.
  fs::path lock_path = path;
  lock_path += ".lock";
  TRY_ASSIGN(Fd lock, Fd::open(lock_path, O_RDWR | O_CREAT, 0644));
  while (::flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return errno_error(fmt::format("locking {}", lock_path.string()), errno);
    }
  }

  Repository repo;
  if (!fs::exists(path, ec)) {
    TRY_ASSIGN(repo, clone_bare(url, path).map_error([&shown](const Error& error) {
      return error.context(fmt::format("cloning buildpack {}", shown));
    }));
  } else {
    git_repository* raw_repo = nullptr;
    if (git_repository_open_bare(&raw_repo, path.c_str()) != 0) {
      return make_error("opening the cached clone {} of {}: {}", path.string(), shown,
                        git_message());
    }
    repo.reset(raw_repo);
    if (!(is_full_commit_id(ref) && has_commit(repo.get(), ref))) {
      TRY_CTX(fetch_origin(repo.get(), url), fmt::format("fetching buildpack {}", shown));
    }
  }

  std::string spec = ref.empty() ? "HEAD" : ref;
  git_object* raw_object = nullptr;
  if (git_revparse_single(&raw_object, repo.get(), spec.c_str()) != 0) {
    return make_error("buildpack {}: no branch, tag or commit '{}'", shown, printable(spec));
  }
  Object object(raw_object);
  git_object* raw_commit = nullptr;
  if (git_object_peel(&raw_commit, object.get(), GIT_OBJECT_COMMIT) != 0) {
    return make_error("buildpack {}: '{}' is not a commit", shown, printable(spec));
  }
  Object commit(raw_commit);

  git_checkout_options options = GIT_CHECKOUT_OPTIONS_INIT;
  options.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
  std::string target = dest.string();
  options.target_directory = target.c_str();
  if (git_checkout_tree(repo.get(), commit.get(), &options) != 0) {
    return make_error("buildpack {}: writing out {}: {}", shown, printable(spec), git_message());
  }
  char id[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(id, sizeof(id), git_object_id(commit.get()));
  return std::string(id);
}

} // namespace aptship::buildpack
