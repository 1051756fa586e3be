#include "aptrepo/index/packages_file.hpp"

#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using aptship::index::build_packages_text;
using aptship::index::ListedPackage;
using aptship::index::packages_order;
using aptship::index::PackagesText;

namespace {

ListedPackage package(std::string name, std::string version, std::string arch = "amd64",
                      std::string component = "main") {
  ListedPackage p;
  p.stanza = fmt::format("Package: {}\nVersion: {}\nArchitecture: {}\n", name, version, arch);
  p.name = std::move(name);
  p.version = std::move(version);
  p.architecture = std::move(arch);
  p.component = std::move(component);
  return p;
}

// A stanza of roughly the size real ones have (about 600 bytes).
ListedPackage big_package(size_t i) {
  ListedPackage p = package(fmt::format("app{:05}", i), "1.0");
  p.stanza += fmt::format("Filename: pool/main/a/app{0:05}/app{0:05}_1.0_amd64.deb\n"
                          "SHA512: {1:0128x}\nSHA256: {1:064x}\nSHA1: {1:040x}\n"
                          "Description: package {0}\n"
                          " a longer description line that takes up some room in the index\n"
                          " and a second one, as real packages have several\n",
                          i, i * 0x9e3779b97f4a7c15ULL);
  return p;
}

std::vector<std::string> ordered_ids(const std::vector<ListedPackage>& packages) {
  auto order = packages_order(packages);
  REQUIRE(order);
  std::vector<std::string> out;
  for (size_t i : *order) {
    const ListedPackage& p = packages[i];
    out.push_back(fmt::format("{} {} {} {}", p.name, p.version, p.architecture, p.component));
  }
  return out;
}

PackagesText text_of(const std::vector<ListedPackage>& packages) {
  auto order = packages_order(packages);
  REQUIRE(order);
  return build_packages_text(packages, *order);
}

std::set<std::string> chunk_texts(const PackagesText& text) {
  std::set<std::string> out;
  for (const auto& chunk : text.chunks) {
    out.insert(text.text.substr(chunk.begin, chunk.end - chunk.begin));
  }
  return out;
}

} // namespace

TEST_CASE("packages are ordered by name, newest version first, then architecture",
          "[packages_file]") {
  std::vector<ListedPackage> packages = {
      package("hello", "1.9"),         package("hello", "1.10"),
      package("abc", "2.0"),           package("hello", "1:0.1"),
      package("hello", "1.10~rc1"),    package("hello", "1.10", "arm64"),
      package("hello", "1.10", "all"), package("hello", "1.10", "amd64", "contrib"),
  };
  std::vector<std::string> expected = {
      "abc 2.0 amd64 main",        "hello 1:0.1 amd64 main", "hello 1.10 all main",
      "hello 1.10 amd64 contrib",  "hello 1.10 amd64 main",  "hello 1.10 arm64 main",
      "hello 1.10~rc1 amd64 main", "hello 1.9 amd64 main",
  };
  CHECK(ordered_ids(packages) == expected);
}

TEST_CASE("a package listed twice in one component is refused", "[packages_file]") {
  auto order =
      packages_order({package("hello", "1.0"), package("other", "1"), package("hello", "1.0")});
  REQUIRE_FALSE(order);
  CHECK(order.error().message() == "package hello 1.0 (amd64) is listed twice in component main");
  // dpkg holds 1.0 and 1.0-0 equal: the same version, written twice.
  REQUIRE_FALSE(packages_order({package("hello", "1.0"), package("hello", "1.0-0")}));
  // Another component or architecture is another entry.
  CHECK(packages_order({package("hello", "1.0"), package("hello", "1.0", "amd64", "contrib"),
                        package("hello", "1.0", "all")}));
}

TEST_CASE("a bad version or a stanza of several paragraphs is refused", "[packages_file]") {
  auto bad_version = packages_order({package("hello", "1.0 beta")});
  REQUIRE_FALSE(bad_version);
  CHECK_THAT(bad_version.error().message(), Catch::StartsWith("package hello: "));

  ListedPackage injected = package("hello", "1.0");
  injected.stanza += "\nPackage: evil\nVersion: 6.6.6\n";
  REQUIRE_FALSE(packages_order({injected}));

  ListedPackage empty{"hello", "1.0", "amd64", "main", std::string(1, '\n')};
  REQUIRE_FALSE(packages_order({empty}));
}

TEST_CASE("stanzas are separated by one blank line and the text ends in a newline",
          "[packages_file]") {
  std::vector<ListedPackage> packages = {package("b", "1"), package("a", "1")};
  packages[0].stanza += "\n\n"; // extra newlines at the end are dropped
  PackagesText text = text_of(packages);
  CHECK(text.text == "Package: a\nVersion: 1\nArchitecture: amd64\n\n"
                     "Package: b\nVersion: 1\nArchitecture: amd64\n");
  CHECK(text.stanzas == 2);
  REQUIRE(text.chunks.size() == 1);
  CHECK(text.chunks[0].begin == 0);
  CHECK(text.chunks[0].end == text.text.size());
}

TEST_CASE("an empty index is an empty text with one empty chunk", "[packages_file]") {
  PackagesText text = build_packages_text({}, {});
  CHECK(text.text.empty());
  REQUIRE(text.chunks.size() == 1);
  CHECK(text.chunks[0].begin == 0);
  CHECK(text.chunks[0].end == 0);
}

TEST_CASE("chunks cover the text and end at stanza boundaries", "[packages_file]") {
  std::vector<ListedPackage> packages;
  for (size_t i = 0; i < 3000; ++i) {
    packages.push_back(big_package(i));
  }
  PackagesText text = text_of(packages);
  REQUIRE(text.chunks.size() > 5);
  size_t position = 0;
  for (size_t i = 0; i < text.chunks.size(); ++i) {
    const auto& chunk = text.chunks[i];
    CHECK(chunk.begin == position);
    CHECK(chunk.end > chunk.begin);
    position = chunk.end;
    if (i + 1 < text.chunks.size()) {
      CHECK(chunk.end - chunk.begin >= 64 * 1024);
      // The next chunk starts a stanza; this one ends with the blank line.
      CHECK(text.text.compare(chunk.end - 2, 2, "\n\n") == 0);
      CHECK(text.text.compare(chunk.end, 9, "Package: ") == 0);
    }
  }
  CHECK(position == text.text.size());
}

TEST_CASE("adding or removing one package changes few chunks", "[packages_file]") {
  std::vector<ListedPackage> packages;
  for (size_t i = 0; i < 5000; i += 2) {
    packages.push_back(big_package(i));
  }
  PackagesText before = text_of(packages);
  std::set<std::string> old_chunks = chunk_texts(before);
  for (size_t added : {size_t{1}, size_t{2501}, size_t{4999}, size_t{6001}}) {
    std::vector<ListedPackage> more = packages;
    more.push_back(big_package(added));
    std::set<std::string> new_chunks = chunk_texts(text_of(more));
    size_t changed = 0;
    for (const std::string& chunk : new_chunks) {
      changed += old_chunks.contains(chunk) ? 0 : 1;
    }
    INFO("added package " << added << " of " << before.chunks.size() << " chunks");
    CHECK(changed >= 1);
    CHECK(changed <= 3);
  }
  std::vector<ListedPackage> fewer = packages;
  fewer.erase(fewer.begin() + 700);
  std::set<std::string> new_chunks = chunk_texts(text_of(fewer));
  size_t changed = 0;
  for (const std::string& chunk : new_chunks) {
    changed += old_chunks.contains(chunk) ? 0 : 1;
  }
  CHECK(changed <= 3);
}
