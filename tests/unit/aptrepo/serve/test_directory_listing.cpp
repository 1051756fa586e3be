#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/serve/directory_listing.hpp"
#include "testutil.hpp"

namespace fs = std::filesystem;

TEST_CASE("render_listing lists visible entries sorted and escaped", "[serve][listing]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("dir/b.deb", "b");
  aptship::test::write("dir/a<&>\".txt", "a");
  aptship::test::write("dir/sub/x", "x");
  aptship::test::write("dir/.gen/hidden", "h");
  fs::create_symlink("sub", "dir/link");
  auto fd = aptship::Fd::open("dir", O_RDONLY | O_DIRECTORY);
  REQUIRE(fd);
  auto html = aptship::serve::render_listing(fd->get(), "/dir/<x>/");
  REQUIRE(html);
  CHECK(html->find("<title>Index of /dir/&lt;x&gt;/</title>") != std::string::npos);
  CHECK(html->find("<a href=\"../\">../</a>") != std::string::npos);
  CHECK(html->find("<a href=\"a%3C%26%3E%22.txt\">a&lt;&amp;&gt;&quot;.txt</a>") !=
        std::string::npos);
  CHECK(html->find("<a href=\"sub/\">sub/</a>") != std::string::npos);
  CHECK(html->find("<a href=\"link/\">link/</a>") != std::string::npos);
  CHECK(html->find(".gen") == std::string::npos);
  CHECK(html->find("a%3C") < html->find("b.deb"));
  CHECK(html->find("b.deb") < html->find("sub/"));
  // The descriptor stays usable: a second listing gives the same page.
  auto again = aptship::serve::render_listing(fd->get(), "/dir/<x>/");
  REQUIRE(again);
  CHECK(*again == *html);
}

TEST_CASE("render_listing of the root has no parent link", "[serve][listing]") {
  aptship::test::ScopedTempDir tmp;
  fs::create_directories("root");
  auto fd = aptship::Fd::open("root", O_RDONLY | O_DIRECTORY);
  REQUIRE(fd);
  auto html = aptship::serve::render_listing(fd->get(), "/");
  REQUIRE(html);
  CHECK(html->find("../") == std::string::npos);
}

TEST_CASE("render_listing reports a descriptor that is no directory", "[serve][listing]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("file", "x");
  auto fd = aptship::Fd::open("file", O_RDONLY);
  REQUIRE(fd);
  auto html = aptship::serve::render_listing(fd->get(), "/file/");
  REQUIRE_FALSE(html);
  CHECK(html.error() == ENOTDIR);
}
