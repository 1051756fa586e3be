#include "aptrepo/index/pool.hpp"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.hpp"

namespace fs = std::filesystem;
using aptship::Digest;
using aptship::hex_digest;
using aptship::index::Pool;
using aptship::index::pool_filename;
using aptship::index::pool_prefix;
using aptship::test::read;
using aptship::test::ScopedTempDir;
using aptship::test::write;

namespace {

aptship::Fd open_source(const fs::path& path) {
  auto fd = aptship::Fd::open(path, O_RDONLY);
  REQUIRE(fd);
  return std::move(*fd);
}

} // namespace

TEST_CASE("pool: the prefix is the first letter, or four for lib* names", "[pool]") {
  CHECK(pool_prefix("hello") == "h");
  CHECK(pool_prefix("0ad") == "0");
  CHECK(pool_prefix("libc6") == "libc");
  CHECK(pool_prefix("libfoo-dev") == "libf");
  CHECK(pool_prefix("lib") == "l");
  CHECK(pool_prefix("library") == "libr");
  CHECK(pool_prefix("liberty") == "libe");
}

TEST_CASE("pool: file names follow pool/COMPONENT/PREFIX/NAME/NAME_VERSION_ARCH.deb", "[pool]") {
  CHECK(pool_filename("main", "hello", "1.0-1", "all") == "pool/main/h/hello/hello_1.0-1_all.deb");
  CHECK(pool_filename("contrib", "libssl3", "3.0.11-1~deb12u2", "amd64") ==
        "pool/contrib/libs/libssl3/libssl3_3.0.11-1~deb12u2_amd64.deb");
  // The epoch colon is escaped as in apt's own download names.
  CHECK(pool_filename("main", "hello", "2:1.0+git:5-1", "arm64") ==
        "pool/main/h/hello/hello_2%3a1.0+git%3a5-1_arm64.deb");
}

TEST_CASE("pool: copy_new copies and hashes in one pass", "[pool]") {
  ScopedTempDir tmp;
  std::string content(300 * 1024 + 7, 'x');
  for (size_t i = 0; i < content.size(); ++i) {
    content[i] = static_cast<char>(i * 131 % 251);
  }
  write("input.deb", content);
  mode_t old_mask = ::umask(022);
  Pool pool(tmp.path() / "public");
  auto source = open_source("input.deb");
  // The descriptor's offset does not matter: the copy reads from byte 0.
  REQUIRE(::lseek(source.get(), 1000, SEEK_SET) == 1000);
  const std::string name = "pool/main/libf/libfoo/libfoo_1%3a1.0_amd64.deb";
  auto copy = pool.copy_new(source, name);
  ::umask(old_mask);
  REQUIRE(copy);
  CHECK(copy->created);
  CHECK(copy->size == content.size());
  CHECK(copy->digests.md5 == hex_digest(Digest::md5, content));
  CHECK(copy->digests.sha1 == hex_digest(Digest::sha1, content));
  CHECK(copy->digests.sha256 == hex_digest(Digest::sha256, content));
  CHECK(copy->digests.sha512 == hex_digest(Digest::sha512, content));
  CHECK(read(tmp.path() / "public" / name) == content);
  CHECK(pool.contains(name));
  CHECK(pool.created(name));
  CHECK_FALSE(pool.contains("pool/main/h/hello/hello_1.0_all.deb"));
  struct stat st {};
  REQUIRE(::stat((tmp.path() / "public" / name).c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  REQUIRE(pool.sync());
  pool.keep();
  CHECK_FALSE(pool.created(name));
  pool.rollback();
  CHECK(pool.contains(name)); // kept files stay
}

TEST_CASE("pool: an existing file is never overwritten by copy_new", "[pool]") {
  ScopedTempDir tmp;
  write("one.deb", "first");
  write("two.deb", "second");
  Pool pool(tmp.path() / "public");
  const std::string name = "pool/main/h/hello/hello_1.0_all.deb";
  REQUIRE(pool.copy_new(open_source("one.deb"), name));
  pool.keep();

  auto second = pool.copy_new(open_source("two.deb"), name);
  REQUIRE(second);
  CHECK_FALSE(second->created);
  // The source was hashed all the same, for the caller to compare.
  CHECK(second->digests.sha256 == hex_digest(Digest::sha256, "second"));
  CHECK(read(tmp.path() / "public" / name) == "first");
  CHECK_FALSE(pool.created(name));
  pool.rollback();
  CHECK(read(tmp.path() / "public" / name) == "first");

  // copy_replace is for files nothing refers to.
  auto replaced = pool.copy_replace(open_source("two.deb"), name);
  REQUIRE(replaced);
  CHECK(replaced->digests.sha256 == hex_digest(Digest::sha256, "second"));
  CHECK(read(tmp.path() / "public" / name) == "second");
  CHECK(pool.created(name));
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(tmp.path() / "public/pool/main/h/hello")) {
    (void)entry;
    ++entries;
  }
  CHECK(entries == 1); // no temporary file left
}

TEST_CASE("pool: write_new writes and hashes bytes held in memory", "[pool]") {
  ScopedTempDir tmp;
  const std::string content = "a package read into memory\n";
  Pool pool(tmp.path() / "public");
  const std::string name = "pool/main/h/hello/hello_1.0_all.deb";
  auto written = pool.write_new(content, name);
  REQUIRE(written);
  CHECK(written->created);
  CHECK(written->size == content.size());
  CHECK(written->digests.md5 == hex_digest(Digest::md5, content));
  CHECK(written->digests.sha512 == hex_digest(Digest::sha512, content));
  CHECK(read(tmp.path() / "public" / name) == content);
  CHECK(pool.created(name));
  REQUIRE(pool.sync());
  pool.keep();

  // Like copy_new, it never touches a file already there, but still hashes.
  auto again = pool.write_new("other bytes", name);
  REQUIRE(again);
  CHECK_FALSE(again->created);
  CHECK(again->digests.sha256 == hex_digest(Digest::sha256, "other bytes"));
  CHECK(read(tmp.path() / "public" / name) == content);

  // And its files belong to the batch like any other.
  REQUIRE(pool.write_new("new", "pool/main/n/new/new_1_all.deb"));
  pool.rollback();
  CHECK_FALSE(fs::exists(tmp.path() / "public/pool/main/n"));
  CHECK(read(tmp.path() / "public" / name) == content);
}

TEST_CASE("pool: rollback removes the batch's files and the folders made for them", "[pool]") {
  ScopedTempDir tmp;
  write("public/pool/main/h/hello/hello_1.0_all.deb", "there before");
  write("a.deb", "a");
  write("b.deb", "b");
  Pool pool(tmp.path() / "public");
  REQUIRE(pool.copy_new(open_source("a.deb"), "pool/main/h/hello/hello_2.0_all.deb"));
  REQUIRE(pool.copy_new(open_source("b.deb"), "pool/contrib/libb/libbar/libbar_1_all.deb"));
  REQUIRE(pool.copy_new(open_source("b.deb"), "pool/main/h/hello/hello_1.0_all.deb"));
  CHECK(fs::exists("public/pool/contrib/libb/libbar/libbar_1_all.deb"));
  pool.rollback();
  CHECK_FALSE(fs::exists("public/pool/main/h/hello/hello_2.0_all.deb"));
  CHECK_FALSE(fs::exists("public/pool/contrib"));
  CHECK(read("public/pool/main/h/hello/hello_1.0_all.deb") == "there before");

  // The destructor rolls back a batch nobody kept.
  {
    Pool other(tmp.path() / "public");
    REQUIRE(other.copy_new(open_source("a.deb"), "pool/main/n/new/new_1_all.deb"));
    CHECK(fs::exists("public/pool/main/n/new/new_1_all.deb"));
  }
  CHECK_FALSE(fs::exists("public/pool/main/n"));

  // A pool folder made and removed is made again when needed.
  REQUIRE(pool.copy_new(open_source("b.deb"), "pool/contrib/libb/libbar/libbar_1_all.deb"));
  CHECK(read("public/pool/contrib/libb/libbar/libbar_1_all.deb") == "b");
}

TEST_CASE("pool: discard removes one file of the batch", "[pool]") {
  ScopedTempDir tmp;
  write("a.deb", "a");
  Pool pool(tmp.path() / "public");
  REQUIRE(pool.copy_new(open_source("a.deb"), "pool/main/a/aa/aa_1_all.deb"));
  REQUIRE(pool.discard("pool/main/a/aa/aa_1_all.deb"));
  CHECK_FALSE(fs::exists("public/pool/main/a/aa/aa_1_all.deb"));
  CHECK_FALSE(pool.created("pool/main/a/aa/aa_1_all.deb"));
  // Only the batch's own files: anything else is left alone.
  write("public/pool/main/o/old/old_1_all.deb", "old");
  REQUIRE(pool.discard("pool/main/o/old/old_1_all.deb"));
  CHECK(fs::exists("public/pool/main/o/old/old_1_all.deb"));
}

TEST_CASE("pool: a large batch is synced too", "[pool]") {
  ScopedTempDir tmp;
  Pool pool(tmp.path() / "public");
  for (int i = 0; i < 40; ++i) {
    std::string name = fmt::format("p{}.deb", i);
    write(name, name);
    REQUIRE(pool.copy_new(open_source(name), fmt::format("pool/main/p/p{}/p{}_1_all.deb", i, i)));
  }
  REQUIRE(pool.sync());
  pool.keep();
  auto files = pool.files();
  REQUIRE(files);
  CHECK(files->size() == 40);
}

TEST_CASE("pool: a batch past the background writeback threshold", "[pool]") {
  // Over 64 MiB in all, so that writeback starts on the pool's own thread
  // while copies go on; the batch must behave exactly as a small one.
  ScopedTempDir tmp;
  const std::string big(24U << 20, 'x');
  {
    Pool pool(tmp.path() / "public");
    for (int i = 0; i < 4; ++i) {
      std::string name = fmt::format("big{}.deb", i);
      write(name, big + std::to_string(i));
      auto copy =
          pool.copy_new(open_source(name), fmt::format("pool/main/b/b{}/b_{}_all.deb", i, i));
      REQUIRE(copy);
      CHECK(copy->created);
      CHECK(copy->size == big.size() + 1);
    }
    REQUIRE(pool.sync());
    pool.keep();
    // A second batch, rolled back, leaves the kept one alone.
    write("small.deb", "small");
    REQUIRE(pool.copy_new(open_source("small.deb"), "pool/main/s/s/s_1_all.deb"));
    pool.rollback();
  }
  auto files = Pool(tmp.path() / "public").files();
  REQUIRE(files);
  CHECK(files->size() == 4);
  CHECK(read("public/pool/main/b/b3/b_3_all.deb") == big + "3");
  CHECK_FALSE(fs::exists("public/pool/main/s"));
}

TEST_CASE("pool: copies from several threads at once", "[pool]") {
  ScopedTempDir tmp;
  Pool pool(tmp.path() / "public");
  for (int i = 0; i < 64; ++i) {
    write(fmt::format("in{}.deb", i), fmt::format("content {}", i));
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 64; i += 4) {
        auto fd = aptship::Fd::open(fmt::format("in{}.deb", i), O_RDONLY);
        // Two packages per folder: threads race to make the same folders.
        if (!fd || !pool.copy_new(*fd, fmt::format("pool/main/x/x{}/x{}_1_all.deb", i / 2, i))) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(failures == 0);
  REQUIRE(pool.sync());
  for (int i = 0; i < 64; ++i) {
    CHECK(read(fmt::format("public/pool/main/x/x{}/x{}_1_all.deb", i / 2, i)) ==
          fmt::format("content {}", i));
  }
  pool.rollback();
  CHECK_FALSE(fs::exists("public/pool/main/x"));
}

TEST_CASE("pool: files lists the pool and remove prunes empty folders", "[pool]") {
  ScopedTempDir tmp;
  write("public/pool/main/h/hello/hello_1.0_all.deb", "a");
  write("public/pool/main/h/hello/hello_2.0_all.deb", "b");
  write("public/pool/main/libf/libfoo/libfoo_1_all.deb", "c");
  write("public/dists/stable/Release", "not in the pool");
  Pool pool(tmp.path() / "public");
  auto files = pool.files();
  REQUIRE(files);
  std::sort(files->begin(), files->end());
  CHECK(*files == std::vector<std::string>{"pool/main/h/hello/hello_1.0_all.deb",
                                           "pool/main/h/hello/hello_2.0_all.deb",
                                           "pool/main/libf/libfoo/libfoo_1_all.deb"});

  REQUIRE(pool.remove("pool/main/libf/libfoo/libfoo_1_all.deb"));
  CHECK_FALSE(fs::exists("public/pool/main/libf"));
  CHECK(fs::exists("public/pool/main/h/hello"));
  REQUIRE(pool.remove("pool/main/h/hello/hello_1.0_all.deb"));
  CHECK(fs::exists("public/pool/main/h/hello/hello_2.0_all.deb"));
  REQUIRE(pool.remove("pool/main/h/hello/hello_2.0_all.deb"));
  CHECK_FALSE(fs::exists("public/pool/main"));
  CHECK(fs::exists("public/pool"));
  // Removing what is already gone is not an error.
  CHECK(pool.remove("pool/main/h/hello/hello_2.0_all.deb"));

  // A folder removed by remove() is made again by a later copy.
  write("again.deb", "again");
  REQUIRE(pool.copy_new(open_source("again.deb"), "pool/main/h/hello/hello_3.0_all.deb"));
  CHECK(read("public/pool/main/h/hello/hello_3.0_all.deb") == "again");
}

TEST_CASE("pool: an empty pool has no files", "[pool]") {
  ScopedTempDir tmp;
  Pool pool(tmp.path() / "public");
  auto files = pool.files();
  REQUIRE(files);
  CHECK(files->empty());
}
