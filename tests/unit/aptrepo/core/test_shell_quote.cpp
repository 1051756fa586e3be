#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/core/text.hpp"

using aptship::shell_quote;
using aptship::shell_word;

namespace {

// What sh makes of WORD: the single argument it passes to printf.
std::string through_sh(const std::string& word) {
  auto result = aptship::run_checked({"sh", "-c", "printf '%s|' " + word});
  REQUIRE(result);
  return *result;
}

} // namespace

TEST_CASE("shell_quote always makes one word", "[shell_quote]") {
  CHECK(shell_quote("abc") == "'abc'");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("it's") == "'it'\\''s'");
}

TEST_CASE("shell_word quotes only what needs it", "[shell_quote]") {
  CHECK(shell_word("/usr/bin/aptship") == "/usr/bin/aptship");
  CHECK(shell_word("a-b_c.d,e:f@g%h+i=j") == "a-b_c.d,e:f@g%h+i=j");
  CHECK(shell_word("") == "''");
  CHECK(shell_word("with space") == "'with space'");
  CHECK(shell_word("$HOME") == "'$HOME'");
}

TEST_CASE("sh reads the quoted text back unchanged", "[shell_quote]") {
  for (const std::string& text :
       std::vector<std::string>{"plain", "with space", "it's", "'", "''", "$(touch x)", "`id`",
                                "a;b", "a\nb", "*", "~", "a\\b", "\"q\"", "!x", "-n"}) {
    INFO(text);
    CHECK(through_sh(shell_quote(text)) == text + "|");
    CHECK(through_sh(shell_word(text)) == text + "|");
  }
}
