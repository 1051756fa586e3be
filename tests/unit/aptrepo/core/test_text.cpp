#include <catch2/catch.hpp>

#include "aptrepo/core/text.hpp"

using aptship::printable;

TEST_CASE("printable keeps ordinary text") {
  CHECK(printable("./usr/bin/a b") == "./usr/bin/a b");
}

TEST_CASE("printable escapes control bytes onto one line") {
  CHECK(printable("two\nlines") == "two\\nlines");
  CHECK(printable("tab\there") == "tab\\there");
  CHECK(printable(std::string_view("\x01\x7f", 2)) == "\\x01\\x7f");
  CHECK(printable("back\\slash") == "back\\\\slash");
}
