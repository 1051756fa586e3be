#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "builder/stage/copy_tree.hpp"
#include "testutil.hpp"

using aptship::stage::copy_tree;
using aptship::test::ScopedTempDir;

namespace {

namespace fs = std::filesystem;

struct stat lstat_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st;
}

unsigned mode_of(const fs::path& path) {
  return lstat_of(path).st_mode & 07777;
}

} // namespace

TEST_CASE("copy_tree: files, modes, symlinks, hard links and times") {
  ScopedTempDir tmp;
  aptship::test::write("slug/bin/run", "#!/bin/sh\necho run\n", 0755);
  aptship::test::write("slug/app.py", "print('hi')\n", 0644);
  aptship::test::write("slug/secret", "key\n", 0600);
  aptship::test::write("slug/shared", "everyone writes\n", 0666);
  aptship::test::write("slug/big", std::string(3 << 20, 'x'), 0644);
  fs::create_directories("slug/empty");
  fs::create_directories("slug/ro/inner");
  aptship::test::write("slug/ro/inner/file", "in a read-only tree\n", 0444);
  fs::permissions("slug/ro/inner", fs::perms(0555));
  fs::permissions("slug/ro", fs::perms(0555));
  REQUIRE(symlink("bin/run", "slug/run") == 0);
  REQUIRE(symlink("/opt/hello/app.py", "slug/absolute") == 0);
  REQUIRE(symlink("missing", "slug/dangling") == 0);
  REQUIRE(link("slug/app.py", "slug/bin/app-link.py") == 0);
  const timespec old_times[2] = {{1000000000, 0}, {1000000000, 0}};
  REQUIRE(utimensat(AT_FDCWD, "slug/app.py", old_times, 0) == 0);
  REQUIRE(utimensat(AT_FDCWD, "slug/run", old_times, AT_SYMLINK_NOFOLLOW) == 0);
  fs::permissions("slug", fs::perms(0700));

  auto copied = copy_tree("slug", "copy");
  INFO((copied ? "" : copied.error().message()));
  REQUIRE(copied);
  fs::permissions("slug/ro", fs::perms(0755));
  fs::permissions("slug/ro/inner", fs::perms(0755));

  CHECK(mode_of("copy") == 0755);
  CHECK(aptship::test::read("copy/bin/run") == "#!/bin/sh\necho run\n");
  CHECK(mode_of("copy/bin/run") == 0755);
  CHECK(mode_of("copy/app.py") == 0644);
  CHECK(mode_of("copy/secret") == 0600);
  CHECK(mode_of("copy/shared") == 0644);
  CHECK(aptship::test::read("copy/big") == std::string(3 << 20, 'x'));
  CHECK(fs::is_directory("copy/empty"));
  CHECK(mode_of("copy/ro") == 0755);
  CHECK(mode_of("copy/ro/inner/file") == 0444);
  CHECK(fs::read_symlink("copy/run") == "bin/run");
  CHECK(fs::read_symlink("copy/absolute") == "/opt/hello/app.py");
  CHECK(fs::read_symlink("copy/dangling") == "missing");
  CHECK(lstat_of("copy/app.py").st_ino == lstat_of("copy/bin/app-link.py").st_ino);
  CHECK(lstat_of("copy/app.py").st_ino != lstat_of("slug/app.py").st_ino);
  CHECK(lstat_of("copy/app.py").st_mtim.tv_sec == 1000000000);
  CHECK(lstat_of("copy/run").st_mtim.tv_sec == 1000000000);
  CHECK(lstat_of("copy/bin").st_mtim.tv_sec == lstat_of("slug/bin").st_mtim.tv_sec);
}

TEST_CASE("copy_tree: special and setuid files are refused by path") {
  ScopedTempDir tmp;
  aptship::test::write("fifo/a", "a");
  REQUIRE(mkfifo("fifo/sub-fifo", 0644) == 0);
  auto result = copy_tree("fifo", "copy1");
  REQUIRE_FALSE(result);
  CHECK(result.error().message() ==
        "fifo/sub-fifo: is a fifo; a package holds only files, directories and symlinks");

  fs::create_directories("sock/dir");
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = (tmp.path() / "sock/dir/s").string();
  REQUIRE(path.size() < sizeof(addr.sun_path));
  std::strcpy(addr.sun_path, path.c_str());
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  close(fd);
  result = copy_tree("sock", "copy2");
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::Contains("sock/dir/s: is a socket"));

  aptship::test::write("suid/bin/tool", "x", 0755);
  REQUIRE(chmod("suid/bin/tool", 04755) == 0);
  result = copy_tree("suid", "copy3");
  REQUIRE_FALSE(result);
  CHECK(result.error().message() ==
        "suid/bin/tool: is setuid or setgid, which an app package must not install");
}

TEST_CASE("copy_tree: the destination must be new and the source a directory") {
  ScopedTempDir tmp;
  fs::create_directories("slug");
  fs::create_directories("exists");
  auto result = copy_tree("slug", "exists");
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::Contains("exists: mkdir: File exists"));
  result = copy_tree("nothing", "copy");
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::Contains("nothing"));
  CHECK_FALSE(fs::exists("copy"));
}
