#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "builder/receive/git.hpp"
#include "git_fixture.hpp"
#include "testutil.hpp"

namespace git = aptship::receive::git;
namespace fs = std::filesystem;
using aptship::test::commit_files;
using aptship::test::init_repo;

namespace {

// Sets an environment variable for one scope.
class ScopedEnv {
public:
  ScopedEnv(const char* name, const std::string& value) : m_name(name) {
    if (const char* old = std::getenv(name); old != nullptr) {
      m_old = old;
      m_had = true;
    }
    ::setenv(name, value.c_str(), 1);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (m_had) {
      ::setenv(m_name, m_old.c_str(), 1);
    } else {
      ::unsetenv(m_name);
    }
  }

private:
  const char* m_name;
  std::string m_old;
  bool m_had = false;
};

bool has_commit(const fs::path& repo_path, const std::string& id) {
  auto repo = git::open_repository(repo_path);
  REQUIRE(repo);
  return static_cast<bool>(git::lookup_commit(repo->get(), id));
}

} // namespace

TEST_CASE("open_repository opens bare and non-bare repositories, not other dirs", "[git]") {
  aptship::test::ScopedTempDir tmp;
  init_repo(tmp.path() / "bare.git", true);
  init_repo(tmp.path() / "work", false);
  CHECK(git::open_repository(tmp.path() / "bare.git"));
  CHECK(git::open_repository(tmp.path() / "work"));
  fs::create_directories(tmp.path() / "work/sub");
  // No search upwards: a directory inside a repository is not one.
  auto inside = git::open_repository(tmp.path() / "work/sub");
  REQUIRE_FALSE(inside);
  CHECK_THAT(inside.error().message(), Catch::Contains("work/sub"));
  CHECK_FALSE(git::open_repository(tmp.path() / "missing"));
}

TEST_CASE("lookup_commit takes ids, short ids, branches and tags", "[git]") {
  aptship::test::ScopedTempDir tmp;
  auto repo = init_repo(tmp.path() / "r.git");
  const std::string first = commit_files(repo.get(), {{"a", "1"}});
  const std::string second = commit_files(repo.get(), {{"a", "2"}}, "refs/heads/main", first);
  git_object* target = nullptr;
  git_oid second_id;
  REQUIRE(git_oid_fromstr(&second_id, second.c_str()) == 0);
  REQUIRE(git_object_lookup(&target, repo.get(), &second_id, GIT_OBJECT_COMMIT) == 0);
  git::Object target_owner(target);
  git_signature* sig = nullptr;
  REQUIRE(git_signature_new(&sig, "t", "t@example.org", 1700000000, 0) == 0);
  git_oid tag_id;
  REQUIRE(git_tag_create(&tag_id, repo.get(), "v1", target, sig, "annotated", 0) == 0);
  git_signature_free(sig);
  REQUIRE(git_repository_set_head(repo.get(), "refs/heads/main") == 0);

  for (const std::string& rev :
       {second, second.substr(0, 8), std::string("main"), std::string("refs/heads/main"),
        std::string("v1"), std::string("HEAD")}) {
    INFO(rev);
    auto commit = git::lookup_commit(repo.get(), rev);
    REQUIRE(commit);
    CHECK(git::to_hex(*git_commit_id(commit->get())) == second);
  }
  auto parent = git::lookup_commit(repo.get(), "main~1");
  REQUIRE(parent);
  CHECK(git::to_hex(*git_commit_id(parent->get())) == first);

  auto missing = git::lookup_commit(repo.get(), "nope");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message(), Catch::Contains("no revision 'nope'"));
  auto tree = git::lookup_commit(repo.get(), "main^{tree}");
  REQUIRE_FALSE(tree);
  CHECK_THAT(tree.error().message(), Catch::Contains("not a commit"));
}

TEST_CASE("open_repository reads objects from git's pre-receive quarantine", "[git]") {
  aptship::test::ScopedTempDir tmp;
  auto target = init_repo(tmp.path() / "app.git");
  commit_files(target.get(), {{"old", "x"}});
  // The pushed objects, as git-receive-pack leaves them while the hook runs:
  // in objects/incoming-*, not yet in the repository's own object store.
  auto donor = init_repo(tmp.path() / "donor.git");
  const std::string pushed = commit_files(donor.get(), {{"new", "y"}});
  const fs::path quarantine = tmp.path() / "app.git/objects/incoming-test";
  fs::copy(tmp.path() / "donor.git/objects", quarantine, fs::copy_options::recursive);

  CHECK_FALSE(has_commit(tmp.path() / "app.git", pushed));
  {
    ScopedEnv env("GIT_QUARANTINE_PATH", quarantine.string());
    CHECK(has_commit(tmp.path() / "app.git", pushed));
  }
  {
    ScopedEnv env("GIT_OBJECT_DIRECTORY", quarantine.string());
    CHECK(has_commit(tmp.path() / "app.git", pushed));
  }
  {
    // Another repository's quarantine is none of this repository's business.
    const fs::path elsewhere = tmp.path() / "elsewhere";
    fs::copy(tmp.path() / "donor.git/objects", elsewhere, fs::copy_options::recursive);
    ScopedEnv env("GIT_QUARANTINE_PATH", elsewhere.string());
    CHECK_FALSE(has_commit(tmp.path() / "app.git", pushed));
  }
  {
    ScopedEnv env("GIT_QUARANTINE_PATH", (tmp.path() / "app.git/objects/missing").string());
    CHECK_FALSE(has_commit(tmp.path() / "app.git", pushed));
  }
}
