#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "aptrepo/core/fd.hpp"
#include "testutil.hpp"

using aptship::Fd;

TEST_CASE("Fd::open adds O_CLOEXEC and reports a missing file with its path", "[fd]") {
  aptship::test::ScopedTempDir dir;
  aptship::test::write("a.txt", "hello");
  auto fd = Fd::open("a.txt", O_RDONLY);
  REQUIRE(fd);
  CHECK((::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC) != 0);

  auto missing = Fd::open("missing.txt", O_RDONLY);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message() == "opening missing.txt: No such file or directory");
}

TEST_CASE("Fd moves ownership and release gives it up", "[fd]") {
  aptship::test::ScopedTempDir dir;
  aptship::test::write("a.txt", "x");
  auto opened = Fd::open("a.txt", O_RDONLY);
  REQUIRE(opened);
  Fd first = std::move(*opened);
  int raw = first.get();
  Fd second(std::move(first));
  CHECK_FALSE(first);
  CHECK(second.get() == raw);

  Fd third;
  CHECK_FALSE(third);
  third = std::move(second);
  CHECK(third.get() == raw);

  int released = third.release();
  CHECK_FALSE(third);
  CHECK(released == raw);
  // Still open: the Fd no longer owns it.
  CHECK(::fcntl(released, F_GETFD) >= 0);
  ::close(released);
}

TEST_CASE("Fd::close closes once and reports success", "[fd]") {
  aptship::test::ScopedTempDir dir;
  auto fd = Fd::open("new.txt", O_WRONLY | O_CREAT);
  REQUIRE(fd);
  CHECK(fd->close());
  CHECK_FALSE(*fd);
  // Closing an empty Fd is a no-op.
  CHECK(fd->close());
}

TEST_CASE("write_all, pwrite_all and read_all round-trip", "[fd]") {
  aptship::test::ScopedTempDir dir;
  {
    auto fd = Fd::open("out.bin", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd);
    std::string big(3 * 1024 * 1024 + 7, 'z');
    REQUIRE(fd->write_all("head"));
    REQUIRE(fd->write_all(big));
    REQUIRE(fd->pwrite_all("HE", 0));
    REQUIRE(fd->sync());
    REQUIRE(fd->close());
  }
  auto content = aptship::read_file("out.bin");
  REQUIRE(content);
  CHECK(content->size() == 4 + 3 * 1024 * 1024 + 7);
  CHECK(content->substr(0, 5) == "HEadz");

  auto fd = Fd::open("out.bin", O_RDONLY);
  REQUIRE(fd);
  char buffer[3];
  auto n = fd->read_some(buffer, sizeof(buffer));
  REQUIRE(n);
  CHECK(*n == 3);
  auto rest = fd->read_all();
  REQUIRE(rest);
  CHECK(rest->size() == content->size() - 3);
}

TEST_CASE("write_all reports errors on a read-only descriptor", "[fd]") {
  aptship::test::ScopedTempDir dir;
  aptship::test::write("ro.txt", "x");
  auto fd = Fd::open("ro.txt", O_RDONLY);
  REQUIRE(fd);
  auto r = fd->write_all("data");
  REQUIRE_FALSE(r);
  CHECK(r.error().message() == "write: Bad file descriptor");
}

TEST_CASE("read_file reads whole files and names a missing one", "[fd]") {
  aptship::test::ScopedTempDir dir;
  aptship::test::write("empty", "");
  auto empty = aptship::read_file("empty");
  REQUIRE(empty);
  CHECK(empty->empty());

  std::string binary("a\0b\nc", 5);
  aptship::test::write("bin", binary);
  auto content = aptship::read_file("bin");
  REQUIRE(content);
  CHECK(*content == binary);

  auto missing = aptship::read_file("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message() == "opening nope: No such file or directory");

  // A directory opens but cannot be read.
  auto directory = aptship::read_file(dir.path());
  REQUIRE_FALSE(directory);
  CHECK(directory.error().message().find("Is a directory") != std::string::npos);
}

TEST_CASE("sync_directory accepts directories and rejects files", "[fd]") {
  aptship::test::ScopedTempDir dir;
  CHECK(aptship::sync_directory(dir.path()));
  CHECK(aptship::sync_directory(""));
  aptship::test::write("file", "x");
  auto r = aptship::sync_directory("file");
  REQUIRE_FALSE(r);
  CHECK(r.error().message() == "opening file: Not a directory");
}

TEST_CASE("pread_full reads a range whole and stops only at the end of the file", "[fd]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("data", "0123456789");
  auto fd = Fd::open("data", O_RDONLY);
  REQUIRE(fd);
  char buffer[16] = {};
  auto middle = fd->pread_full(buffer, 4, 3);
  REQUIRE(middle);
  CHECK(*middle == 4);
  CHECK(std::string(buffer, 4) == "3456");
  auto tail = fd->pread_full(buffer, 8, 6);
  REQUIRE(tail);
  CHECK(*tail == 4);
  CHECK(std::string(buffer, 4) == "6789");
  auto past = fd->pread_full(buffer, 8, 20);
  REQUIRE(past);
  CHECK(*past == 0);
  auto write_only = Fd::open("data", O_WRONLY);
  REQUIRE(write_only);
  CHECK_FALSE(write_only->pread_full(buffer, 1, 0));
}
