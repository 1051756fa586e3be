#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "builder/buildpack/output.hpp"

using namespace aptship::buildpack;

TEST_CASE("build lines are indented under the headings unless formatted already") {
  CHECK(format_build_line("-----> Installing dependencies") == "-----> Installing dependencies");
  CHECK(format_build_line("       added 3 packages") == "       added 3 packages");
  CHECK(format_build_line(" !     Push rejected") == " !     Push rejected");
  CHECK(format_build_line("npm WARN deprecated") == "       npm WARN deprecated");
  CHECK(format_build_line("").empty());
}

TEST_CASE("chunks are cut into whole lines") {
  std::vector<std::string> lines;
  LineSplitter splitter([&lines](std::string_view line) { lines.emplace_back(line); });
  splitter.feed("one\ntw");
  splitter.feed("o\r\n");
  splitter.feed("\nthr");
  splitter.feed("ee");
  CHECK(lines == std::vector<std::string>{"one", "two", ""});
  splitter.finish();
  CHECK(lines == std::vector<std::string>{"one", "two", "", "three"});
  splitter.finish();
  CHECK(lines.size() == 4);
}
