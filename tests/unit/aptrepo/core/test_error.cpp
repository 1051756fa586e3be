#include <catch2/catch.hpp>

#include <cerrno>
#include <string>

#include "aptrepo/core/error.hpp"

using aptship::Error;
using aptship::Expected;

namespace {

Expected<int> parse_positive(int value) {
  if (value <= 0) {
    return aptship::make_error("{} is not positive", value);
  }
  return value;
}

Expected<void> check_positive(int value) {
  TRY(parse_positive(value));
  return {};
}

Expected<int> doubled(int value) {
  TRY_ASSIGN(int parsed, parse_positive(value));
  return parsed * 2;
}

Expected<int> sum_of_doubles(int a, int b) {
  TRY_ASSIGN(int x, doubled(a));
  int y = 0;
  TRY_ASSIGN(y, doubled(b));
  return x + y;
}

Expected<void> with_context(int value) {
  TRY_CTX(parse_positive(value), "reading the count");
  return {};
}

Expected<void> nested_context(int value) {
  TRY_CTX(with_context(value), std::string("loading config.toml"));
  return {};
}

// Counts evaluations so that TRY is seen to evaluate its argument once.
int g_calls = 0;
Expected<int> counted(int value) {
  ++g_calls;
  return parse_positive(value);
}

Expected<void> try_counted(int value) {
  TRY(counted(value));
  return {};
}

} // namespace

TEST_CASE("Error carries a message and prepends context", "[error]") {
  Error error("no secret key 0xABCD");
  CHECK(error.message() == "no secret key 0xABCD");
  Error outer = error.context("signing dists/stable/Release");
  CHECK(outer.message() == "signing dists/stable/Release: no secret key 0xABCD");
  CHECK(outer.context("publish").message() ==
        "publish: signing dists/stable/Release: no secret key 0xABCD");
  // context() leaves the original alone.
  CHECK(error.message() == "no secret key 0xABCD");
}

TEST_CASE("make_error and errno_error build unexpected values", "[error]") {
  Expected<int> e = aptship::make_error("bad field {} in {}", "Version", "control");
  REQUIRE_FALSE(e);
  CHECK(e.error().message() == "bad field Version in control");

  Expected<void> n = aptship::errno_error("opening /x", ENOENT);
  REQUIRE_FALSE(n);
  CHECK(n.error().message() == "opening /x: No such file or directory");
}

TEST_CASE("TRY passes errors up and lets values through", "[error]") {
  CHECK(check_positive(1));
  auto r = check_positive(-1);
  REQUIRE_FALSE(r);
  CHECK(r.error().message() == "-1 is not positive");

  g_calls = 0;
  CHECK(try_counted(3));
  CHECK_FALSE(try_counted(0));
  CHECK(g_calls == 2);
}

TEST_CASE("TRY_ASSIGN declares or assigns, or returns the error", "[error]") {
  auto ok = sum_of_doubles(2, 3);
  REQUIRE(ok);
  CHECK(*ok == 10);

  auto first = sum_of_doubles(0, 3);
  REQUIRE_FALSE(first);
  CHECK(first.error().message() == "0 is not positive");

  auto second = sum_of_doubles(2, -5);
  REQUIRE_FALSE(second);
  CHECK(second.error().message() == "-5 is not positive");
}

TEST_CASE("TRY_CTX chains context outermost first", "[error]") {
  CHECK(nested_context(4));
  auto r = nested_context(-2);
  REQUIRE_FALSE(r);
  CHECK(r.error().message() == "loading config.toml: reading the count: -2 is not positive");
}
