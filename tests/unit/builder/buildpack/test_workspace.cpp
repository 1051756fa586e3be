#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "builder/buildpack/workspace.hpp"
#include "testutil.hpp"

using namespace aptship::buildpack;
using aptship::test::read;
using aptship::test::ScopedTempDir;
using aptship::test::write;
namespace fs = std::filesystem;

namespace {

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

BuildRequest request_in(const fs::path& root) {
  BuildRequest request;
  request.app = "hello";
  request.source_dir = root / "src";
  request.install_dir = root / "app";
  request.work_dir = root / "work";
  request.cache_dir = root / "cache";
  return request;
}

} // namespace

TEST_CASE("copy_tree keeps modes and symlinks and may leave .git out") {
  ScopedTempDir tmp;
  write(tmp.path() / "from" / "bin" / "run", "#!/bin/sh\n", 0755);
  write(tmp.path() / "from" / "data", "x", 0600);
  write(tmp.path() / "from" / ".git" / "HEAD", "ref");
  write(tmp.path() / "from" / "sub" / ".git", "gitdir: elsewhere");
  fs::create_symlink("bin/run", tmp.path() / "from" / "link");
  REQUIRE(copy_tree(tmp.path() / "from", tmp.path() / "to", CopyGit::skip));
  CHECK(mode_of(tmp.path() / "to" / "bin" / "run") == 0755);
  CHECK(mode_of(tmp.path() / "to" / "data") == 0600);
  CHECK(fs::read_symlink(tmp.path() / "to" / "link") == "bin/run");
  CHECK(!fs::exists(tmp.path() / "to" / ".git"));
  CHECK(fs::exists(tmp.path() / "to" / "sub" / ".git"));
  REQUIRE(copy_tree(tmp.path() / "from", tmp.path() / "all", CopyGit::keep));
  CHECK(read(tmp.path() / "all" / ".git" / "HEAD") == "ref");
}

TEST_CASE("ENV_DIR holds one file per config var") {
  ScopedTempDir tmp;
  fs::path dir = tmp.path() / "env";
  write(dir / "STALE", "old");
  REQUIRE(write_env_dir(dir,
                        {{"DATABASE_URL", "postgres://db/x"}, {"EMPTY", ""}, {"MULTI", "a\nb\n"}}));
  CHECK(mode_of(dir) == 0700);
  CHECK(read(dir / "DATABASE_URL") == "postgres://db/x");
  CHECK(read(dir / "EMPTY").empty());
  CHECK(read(dir / "MULTI") == "a\nb\n");
  CHECK(mode_of(dir / "MULTI") == 0600);
  CHECK(!fs::exists(dir / "STALE"));
  auto bad = write_env_dir(dir, {{"../evil", "x"}});
  REQUIRE(!bad);
  CHECK(bad.error().message() == "config var '../evil' is not a valid environment variable name");
}

TEST_CASE("the workspace copies the source into an empty build directory") {
  ScopedTempDir tmp;
  auto request = request_in(tmp.path());
  write(request.source_dir / "index.html", "hi");
  request.env = {{"KEY", "value"}};
  auto workspace = prepare_workspace(request);
  REQUIRE(workspace);
  CHECK(workspace->build_dir == tmp.path() / "app");
  CHECK(read(workspace->build_dir / "index.html") == "hi");
  CHECK(read(workspace->env_dir / "KEY") == "value");
  CHECK(fs::is_directory(workspace->home));
  CHECK(fs::is_directory(workspace->cache_dir));
  CHECK(fs::is_directory(workspace->buildpacks_dir));
  CHECK(read(request.source_dir / "index.html") == "hi");

  auto again = prepare_workspace(request);
  REQUIRE(!again);
  CHECK(again.error().message() ==
        fmt::format("the build directory {} is not empty", (tmp.path() / "app").string()));
}

TEST_CASE("with run_as the build user owns what it writes") {
  if (::geteuid() != 0) {
    WARN("needs root");
    return;
  }
  ScopedTempDir tmp;
  auto request = request_in(tmp.path());
  write(request.source_dir / "file", "x");
  request.run_as = std::pair<uid_t, gid_t>(65534, 65534);

  auto unreachable = prepare_workspace(request);
  REQUIRE(!unreachable);
  CHECK(unreachable.error().message().find("is not reachable by uid 65534") != std::string::npos);

  REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
  fs::create_directories(request.work_dir);
  REQUIRE(::chmod(request.work_dir.c_str(), 0700) == 0);
  auto workspace = prepare_workspace(request);
  REQUIRE(workspace);
  CHECK(mode_of(request.work_dir) == 0711);
  for (const auto& path : {workspace->build_dir, workspace->build_dir / "file",
                           workspace->cache_dir, workspace->home, workspace->env_dir}) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(st.st_uid == 65534);
  }
}

TEST_CASE("an isolated build happens in the work dir with a mountpoint at the install path") {
  ScopedTempDir tmp;
  auto request = request_in(tmp.path());
  request.isolation = Isolation::mount_namespace;
  write(request.source_dir / "file", "x");
  auto workspace = prepare_workspace(request);
  REQUIRE(workspace);
  CHECK(workspace->build_dir == tmp.path() / "work" / "build");
  CHECK(read(workspace->build_dir / "file") == "x");
  CHECK(fs::is_directory(request.install_dir));
  CHECK(fs::is_empty(request.install_dir));
}
