#include <catch2/catch.hpp>

#include <string>

#include "builder/stage/env_file.hpp"
#include "stage_testutil.hpp"
#include "testutil.hpp"

using aptship::stage::render_env_file;
using aptship::test::run_ok;
using aptship::test::sample_spec;
using aptship::test::ScopedTempDir;

TEST_CASE("env file: a commented header, PORT, then the defaults in key order") {
  auto spec = sample_spec();
  spec.port = 8080;
  spec.env = {{"ZED", "last"}, {"ALPHA", "a b"}};
  const std::string text = render_env_file(spec);
  CHECK_THAT(text, Catch::StartsWith("# Environment of hello"));
  CHECK_THAT(text, Catch::EndsWith("\nPORT=8080\nALPHA=\"a b\"\nZED=last\n"));
  CHECK_THAT(text, Catch::Contains("/etc/hello/conf.d/*.env"));
  CHECK_THAT(text, Catch::Contains("the N-th other process type gets\n# PORT+N"));
  // Every line before PORT is a comment, for sh and for systemd.
  const std::string header = text.substr(0, text.find("PORT=8080"));
  size_t start = 0;
  while (start < header.size()) {
    CHECK(header[start] == '#');
    start = header.find('\n', start) + 1;
  }
}

TEST_CASE("env file: sourced by sh, it sets exactly the spec's values") {
  ScopedTempDir tmp;
  auto spec = sample_spec();
  spec.env = {{"QUOTES", "it's \"q\" `c` $V \\"}, {"EMPTY", ""}, {"TILDE", "~root"}};
  aptship::test::write("env", render_env_file(spec));
  auto result = run_ok({"sh", "-c",
                        "set -eu; . ./env; printf '%s|%s|%s|%s' \"$PORT\" \"$QUOTES\" "
                        "\"$EMPTY\" \"$TILDE\""});
  REQUIRE(result.ok());
  CHECK(result.out == "5000|it's \"q\" `c` $V \\||~root");
}
