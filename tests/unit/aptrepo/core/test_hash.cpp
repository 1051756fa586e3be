#include <catch2/catch.hpp>

#include <string>

#include "aptrepo/core/hash.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "testutil.hpp"

using aptship::Digest;
using aptship::hex_digest;

namespace {

// The first field of a `*sum` line: the hex digest.
std::string sum_of(const std::string& tool, const std::string& path) {
  auto out = aptship::run_checked({tool, path});
  REQUIRE(out);
  return out->substr(0, out->find(' '));
}

} // namespace

TEST_CASE("known digests of the empty string", "[hash]") {
  CHECK(hex_digest(Digest::md5, "") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(hex_digest(Digest::sha1, "") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(hex_digest(Digest::sha256, "") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hex_digest(Digest::sha512, "") ==
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
}

TEST_CASE("known digests of \"abc\"", "[hash]") {
  CHECK(hex_digest(Digest::md5, "abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(hex_digest(Digest::sha1, "abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(hex_digest(Digest::sha256, "abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex_digest(Digest::sha512, "abc") ==
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST_CASE("Hasher accumulates updates and resets after hex()", "[hash]") {
  aptship::Hasher hasher(Digest::sha256);
  hasher.update("a");
  hasher.update("");
  hasher.update("bc");
  CHECK(hasher.hex() == hex_digest(Digest::sha256, "abc"));
  // Reset: the next digest starts from nothing.
  CHECK(hasher.hex() == hex_digest(Digest::sha256, ""));

  aptship::Hasher moved(std::move(hasher));
  moved.update("abc");
  aptship::Hasher assigned(Digest::md5);
  assigned = std::move(moved);
  CHECK(assigned.hex() == hex_digest(Digest::sha256, "abc"));
}

TEST_CASE("MultiHasher computes all four digests in one pass", "[hash]") {
  aptship::MultiHasher hasher;
  hasher.update("ab");
  hasher.update("c");
  aptship::Digests d = hasher.finish();
  CHECK(d.md5 == hex_digest(Digest::md5, "abc"));
  CHECK(d.sha1 == hex_digest(Digest::sha1, "abc"));
  CHECK(d.sha256 == hex_digest(Digest::sha256, "abc"));
  CHECK(d.sha512 == hex_digest(Digest::sha512, "abc"));
}

TEST_CASE("digest_file agrees with the coreutils sum tools", "[hash]") {
  aptship::test::ScopedTempDir dir;
  // Larger than the read buffer and not a multiple of it.
  std::string content;
  for (int i = 0; content.size() < 2 * 1024 * 1024 + 12345; ++i) {
    content += std::to_string(i * 7919) + ",";
  }
  aptship::test::write("data.bin", content);
  uint64_t size = 0;
  auto d = aptship::digest_file("data.bin", &size);
  REQUIRE(d);
  CHECK(size == content.size());
  CHECK(d->md5 == sum_of("md5sum", "data.bin"));
  CHECK(d->sha1 == sum_of("sha1sum", "data.bin"));
  CHECK(d->sha256 == sum_of("sha256sum", "data.bin"));
  CHECK(d->sha512 == sum_of("sha512sum", "data.bin"));

  aptship::test::write("empty", "");
  auto e = aptship::digest_file("empty", &size);
  REQUIRE(e);
  CHECK(size == 0);
  CHECK(e->sha256 == sum_of("sha256sum", "empty"));

  // The size is optional.
  CHECK(aptship::digest_file("empty"));
}

TEST_CASE("digest_file reports unreadable files", "[hash]") {
  aptship::test::ScopedTempDir dir;
  auto missing = aptship::digest_file("missing");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message() == "opening missing: No such file or directory");

  auto directory = aptship::digest_file(dir.path().string());
  REQUIRE_FALSE(directory);
  CHECK(directory.error().message() == dir.path().string() + ": read: Is a directory");
}
