#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "aptrepo/core/text.hpp"
#include "builder/stage/shell.hpp"
#include "stage_testutil.hpp"
#include "testutil.hpp"

using aptship::shell_quote;
using aptship::stage::env_assignment;
using aptship::test::run_ok;
using aptship::test::ScopedTempDir;

namespace {

const std::vector<std::string> k_values = {
    "",
    "plain",
    "with space",
    "it's",
    "say \"hi\"",
    "$HOME and ${HOME} and $(id) and `id`",
    "back\\slash\\",
    "~/tilde",
    "*.glob ?",
    "#not a comment",
    "a=b;c&d|e<f>g",
    "\ttab\t",
    "  padded  ",
    "ünïcödé",
    "'\"'\"'",
    "!bang !!",
    "x:~/y",
};

} // namespace

TEST_CASE("shell: single quoting survives sh word splitting and expansion") {
  ScopedTempDir tmp;
  for (const std::string& value : k_values) {
    auto result = run_ok({"sh", "-c", "printf '%s' " + shell_quote(value)});
    CHECK(result.ok());
    CHECK(result.out == value);
  }
}

TEST_CASE("shell: bare env values are only the safe characters") {
  CHECK(env_assignment("A", "plain") == "A=plain");
  CHECK(env_assignment("A", "/opt/x:1.2+b@host%20,y-z") == "A=/opt/x:1.2+b@host%20,y-z");
  CHECK(env_assignment("A", "") == "A=\"\"");
  CHECK(env_assignment("A", "~x") == "A=\"~x\"");
  CHECK(env_assignment("A", "a b") == "A=\"a b\"");
  CHECK(env_assignment("A", "$x\"\\`") == "A=\"\\$x\\\"\\\\\\`\"");
}

TEST_CASE("shell: env lines read back exactly in dash and bash") {
  ScopedTempDir tmp;
  for (const char* shell : {"dash", "bash"}) {
    for (const std::string& value : k_values) {
      aptship::test::write("env", env_assignment("KEY", value) + "\n");
      auto result = run_ok({shell, "-c", ". ./env; printf %s \"$KEY\""});
      CHECK(result.ok());
      INFO(shell << " reading " << env_assignment("KEY", value));
      CHECK(result.out == value);
    }
  }
}
