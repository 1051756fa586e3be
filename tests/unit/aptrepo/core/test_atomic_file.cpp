#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "aptrepo/core/atomic_file.hpp"
#include "aptrepo/core/fd.hpp"
#include "testutil.hpp"

using aptship::AtomicFile;
namespace fs = std::filesystem;

namespace {

// Names in DIR, to show that no temporary file is left behind.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Sets the umask for one scope.
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

TEST_CASE("AtomicFile writes under a hidden temporary name beside the target", "[atomic_file]") {
  aptship::test::ScopedTempDir dir;
  auto file = AtomicFile::create(dir.path() / "Release");
  REQUIRE(file);
  CHECK(file->path() == dir.path() / "Release");
  CHECK(file->temp_path().parent_path() == dir.path());
  std::string temp_name = file->temp_path().filename().string();
  CHECK(temp_name.rfind(".Release.tmp.", 0) == 0);
  CHECK(temp_name.size() == std::string(".Release.tmp.").size() + 6);
  CHECK(fs::exists(file->temp_path()));
  CHECK_FALSE(fs::exists(dir.path() / "Release"));
}

TEST_CASE("commit replaces the old file atomically", "[atomic_file]") {
  aptship::test::ScopedTempDir dir;
  aptship::test::write("index", "old");
  auto file = AtomicFile::create("index");
  REQUIRE(file);
  REQUIRE(file->write("new "));
  REQUIRE(file->write("content"));
  // Until commit, readers see the old file.
  CHECK(aptship::test::read("index") == "old");
  fs::path temp = file->temp_path();
  REQUIRE(file->commit());
  CHECK(aptship::test::read("index") == "new content");
  CHECK_FALSE(fs::exists(temp));
  CHECK(file->temp_path().empty());
  CHECK(entries(dir.path()) == std::vector<std::string>{"index"});

  // A second commit is a programming slip reported as an error.
  CHECK_FALSE(file->commit());
}

TEST_CASE("destruction without commit keeps the old file and removes the temp", "[atomic_file]") {
  aptship::test::ScopedTempDir dir;
  aptship::test::write("index", "old");
  {
    auto file = AtomicFile::create("index");
    REQUIRE(file);
    REQUIRE(file->write("half-written"));
  }
  CHECK(aptship::test::read("index") == "old");
  CHECK(entries(dir.path()) == std::vector<std::string>{"index"});

  {
    auto file = AtomicFile::create("fresh");
    REQUIRE(file);
  }
  CHECK(entries(dir.path()) == std::vector<std::string>{"index"});
}

TEST_CASE("moving an AtomicFile transfers the temporary file", "[atomic_file]") {
  aptship::test::ScopedTempDir dir;
  auto created = AtomicFile::create("moved");
  REQUIRE(created);
  AtomicFile file(std::move(*created));
  REQUIRE(file.write("payload"));

  auto other = AtomicFile::create("other");
  REQUIRE(other);
  fs::path other_temp = other->temp_path();
  // Assigning over an uncommitted file discards it.
  *other = std::move(file);
  CHECK_FALSE(fs::exists(other_temp));
  REQUIRE(other->commit());
  CHECK(aptship::test::read("moved") == "payload");
  CHECK(entries(dir.path()) == std::vector<std::string>{"moved"});
}

TEST_CASE("the mode is honoured, less the umask", "[atomic_file]") {
  aptship::test::ScopedTempDir dir;
  ScopedUmask mask(022);
  REQUIRE(aptship::write_file_atomic("default", "x"));
  CHECK(mode_of("default") == 0644);
  REQUIRE(aptship::write_file_atomic("script", "#!/bin/sh\n", 0755));
  CHECK(mode_of("script") == 0755);
  REQUIRE(aptship::write_file_atomic("secret", "k", 0600));
  CHECK(mode_of("secret") == 0600);
  REQUIRE(aptship::write_file_atomic("masked", "x", 0666));
  CHECK(mode_of("masked") == 0644);
  {
    ScopedUmask strict(077);
    REQUIRE(aptship::write_file_atomic("strict", "x", 0755));
  }
  CHECK(mode_of("strict") == 0700);
  // Replacing a file gives it the new mode.
  REQUIRE(aptship::write_file_atomic("script", "#!/bin/sh\nexit 0\n", 0644));
  CHECK(mode_of("script") == 0644);
  CHECK(aptship::test::read("script") == "#!/bin/sh\nexit 0\n");
}

TEST_CASE("write_file_atomic writes large content and reports a missing directory",
          "[atomic_file]") {
  aptship::test::ScopedTempDir dir;
  std::string big(5 * 1024 * 1024, 'q');
  REQUIRE(aptship::write_file_atomic("big", big));
  CHECK(aptship::test::read("big") == big);

  auto r = aptship::write_file_atomic(dir.path() / "missing/file", "x");
  REQUIRE_FALSE(r);
  CHECK(r.error().message() == "creating a temporary file for " +
                                   (dir.path() / "missing/file").string() +
                                   ": No such file or directory");
}

TEST_CASE("commit onto a directory fails and leaves no temporary file", "[atomic_file]") {
  aptship::test::ScopedTempDir dir;
  fs::create_directory("target");
  auto file = AtomicFile::create("target");
  REQUIRE(file);
  REQUIRE(file->write("x"));
  auto r = file->commit();
  REQUIRE_FALSE(r);
  CHECK(r.error().message() == "writing target: rename: Is a directory");
  CHECK(entries(dir.path()) == std::vector<std::string>{"target"});
  CHECK(fs::is_directory("target"));
}
