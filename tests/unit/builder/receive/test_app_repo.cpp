#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

#include "aptrepo/core/subprocess.hpp"
#include "builder/receive/app_repo.hpp"
#include "builder/receive/git.hpp"
#include "testutil.hpp"

namespace git = aptship::receive::git;
namespace fs = std::filesystem;
using aptship::DataDir;
using aptship::receive::app_repo_path;
using aptship::receive::create_app_repo;

namespace {

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class ScopedUmask {
public:
  explicit ScopedUmask(mode_t mask) : m_old(::umask(mask)) {}
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;
  ~ScopedUmask() { ::umask(m_old); }

private:
  mode_t m_old;
};

} // namespace

TEST_CASE("create_app_repo makes a bare repository whose HEAD is main", "[app_repo]") {
  aptship::test::ScopedTempDir tmp;
  fs::create_directories("data");
  DataDir data(tmp.path() / "data");
  auto repo_path = create_app_repo(data, "hello", "/usr/bin/aptship");
  REQUIRE(repo_path);
  CHECK(*repo_path == tmp.path() / "data/git/hello.git");
  CHECK(*repo_path == app_repo_path(data, "hello"));

  auto repo = git::open_repository(*repo_path);
  REQUIRE(repo);
  CHECK(git_repository_is_bare(repo->get()) == 1);
  git_reference* head = nullptr;
  REQUIRE(git_reference_lookup(&head, repo->get(), "HEAD") == 0);
  git::Reference head_owner(head);
  CHECK(git_reference_type(head) == GIT_REFERENCE_SYMBOLIC);
  CHECK(std::string(git_reference_symbolic_target(head)) == "refs/heads/main");
  // Nothing left over from the creation under a temporary name.
  CHECK(names_in(tmp.path() / "data/git") == std::vector<std::string>{"hello.git"});
  // And git itself agrees.
  auto head_name =
      aptship::run_checked({"git", "--git-dir", repo_path->string(), "symbolic-ref", "HEAD"});
  REQUIRE(head_name);
  CHECK(*head_name == "refs/heads/main\n");
}

TEST_CASE("the pre-receive hook names the binary and data dir absolutely", "[app_repo]") {
  aptship::test::ScopedTempDir tmp;
  ScopedUmask umask(077);
  fs::create_directories("data dir");
  // A relative data dir and a binary path with a quote: both end up
  // absolute and quoted.
  DataDir data("data dir");
  const fs::path binary = tmp.path() / "bin's/aptship";
  REQUIRE(create_app_repo(data, "hello", binary));
  const fs::path hook = tmp.path() / "data dir/git/hello.git/hooks/pre-receive";
  CHECK(mode_of(hook) == 0755);
  const std::string text = aptship::test::read(hook);
  CHECK(text.starts_with("#!/bin/sh\n"));
  CHECK_THAT(text, Catch::Contains("exec '" + tmp.path().string() + "/bin'\\''s/aptship' --data '" +
                                   tmp.path().string() + "/data dir' hook pre-receive 'hello'\n"));

  // Run by sh with an empty environment from elsewhere, it reaches the
  // binary with exactly these arguments.
  aptship::test::write(binary, "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done\n", 0755);
  aptship::SubprocessOptions options;
  options.env = std::map<std::string, std::string>{};
  options.cwd = "/";
  auto out = aptship::run_checked({"/bin/sh", hook.string()}, options);
  REQUIRE(out);
  CHECK(*out == "[--data][" + tmp.path().string() + "/data dir][hook][pre-receive][hello]");
}

TEST_CASE("create_app_repo is idempotent and rewrites the hooks", "[app_repo]") {
  aptship::test::ScopedTempDir tmp;
  fs::create_directories("data");
  DataDir data(tmp.path() / "data");
  REQUIRE(create_app_repo(data, "hello", "/old/aptship"));
  const fs::path hook = tmp.path() / "data/git/hello.git/hooks/pre-receive";
  aptship::test::write(hook, "#!/bin/sh\nexit 0\n", 0600);
  REQUIRE(create_app_repo(data, "hello", "/new/aptship"));
  CHECK_THAT(aptship::test::read(hook), Catch::Contains("exec '/new/aptship'"));
  CHECK(mode_of(hook) == 0755);
}

TEST_CASE("concurrent creations of one app all succeed", "[app_repo]") {
  aptship::test::ScopedTempDir tmp;
  fs::create_directories("data");
  DataDir data(tmp.path() / "data");
  std::vector<std::thread> threads;
  std::vector<int> ok(6, 0);
  for (size_t i = 0; i < ok.size(); ++i) {
    threads.emplace_back(
        [&, i] { ok[i] = create_app_repo(data, "race", "/usr/bin/aptship") ? 1 : 0; });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(ok == std::vector<int>(6, 1));
  CHECK(names_in(tmp.path() / "data/git") == std::vector<std::string>{"race.git"});
  CHECK(git::open_repository(tmp.path() / "data/git/race.git"));
}

TEST_CASE("create_app_repo refuses bad names and missing data dirs", "[app_repo]") {
  aptship::test::ScopedTempDir tmp;
  fs::create_directories("data");
  DataDir data(tmp.path() / "data");
  for (const char* name : {"../evil", "a", "Hello", "x/y", ".."}) {
    INFO(name);
    CHECK_FALSE(create_app_repo(data, name, "/usr/bin/aptship"));
  }
  CHECK_FALSE(fs::exists(tmp.path() / "data/git"));
  CHECK_FALSE(fs::exists(tmp.path() / "evil.git"));

  auto missing = create_app_repo(DataDir(tmp.path() / "nope"), "hello", "/usr/bin/aptship");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message(), Catch::Contains("aptship init"));
  CHECK_FALSE(fs::exists(tmp.path() / "nope"));

  fs::create_directories("data/git/plain.git");
  aptship::test::write("data/git/plain.git/file", "not a repository");
  CHECK_FALSE(create_app_repo(data, "plain", "/usr/bin/aptship"));
}

TEST_CASE("list_apps and destroy_app_repo", "[app_repo]") {
  aptship::test::ScopedTempDir tmp;
  fs::create_directories("data");
  DataDir data(tmp.path() / "data");
  auto empty = aptship::receive::list_apps(data);
  REQUIRE(empty);
  CHECK(empty->empty());
  REQUIRE(create_app_repo(data, "web", "/usr/bin/aptship"));
  REQUIRE(create_app_repo(data, "api", "/usr/bin/aptship"));
  fs::create_directories("data/git/.tmp.git");
  fs::create_directories("data/git/notes");
  aptship::test::write("data/git/file.git", "");
  auto apps = aptship::receive::list_apps(data);
  REQUIRE(apps);
  CHECK(*apps == std::vector<std::string>{"api", "web"});

  REQUIRE(aptship::receive::destroy_app_repo(data, "web"));
  CHECK_FALSE(fs::exists(tmp.path() / "data/git/web.git"));
  apps = aptship::receive::list_apps(data);
  REQUIRE(apps);
  CHECK(*apps == std::vector<std::string>{"api"});
  auto again = aptship::receive::destroy_app_repo(data, "web");
  REQUIRE_FALSE(again);
  CHECK_THAT(again.error().message(), Catch::Contains("no repository"));
  CHECK_FALSE(aptship::receive::destroy_app_repo(data, "../data"));
  CHECK(names_in(tmp.path() / "data/git") ==
        std::vector<std::string>{".tmp.git", "api.git", "file.git", "notes"});
}

TEST_CASE("self_executable is this test program", "[app_repo]") {
  auto self = aptship::receive::self_executable();
  REQUIRE(self);
  CHECK(self->is_absolute());
  CHECK(self->filename() == "unit_builder_receive");
}
