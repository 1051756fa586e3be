#include <catch2/catch.hpp>

#include <string>

#include "builder/receive/app_name.hpp"

using aptship::receive::validate_app_name;

TEST_CASE("valid app names", "[app_name]") {
  for (const char* name : {"hello", "ab", "a1", "0x", "my-app", "web-2", "a-", "9lives"}) {
    INFO(name);
    CHECK(validate_app_name(name));
  }
  CHECK(validate_app_name(std::string(63, 'a')));
}

TEST_CASE("app names breaking the rule are refused with the reason", "[app_name]") {
  struct Case {
    std::string name;
    const char* reason;
  };
  const Case cases[] = {
      {"", "empty"},
      {"a", "at least 2 characters"},
      {std::string(64, 'a'), "too long"},
      {"-app", "must start"},
      {"Hello", "must start"},
      {"hEllo", "lower-case letters, digits and '-'"},
      {"my_app", "lower-case"},
      {"my.app", "lower-case"},
      {"..", "must start"},
      {"a/b", "lower-case"},
      {"a..", "lower-case"},
      {"app.git", "lower-case"},
      {"a b", "lower-case"},
      {"a;b", "lower-case"},
      {"a$(x)", "lower-case"},
      {"a`x`", "lower-case"},
      {"a\nb", "lower-case"},
      {std::string("a\0b", 3), "lower-case"},
      {"caf\xc3\xa9", "lower-case"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    auto result = validate_app_name(c.name);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains(c.reason));
    // One line, whatever the name held.
    CHECK(result.error().message().find('\n') == std::string::npos);
  }
}

TEST_CASE("the short-name error says why two characters", "[app_name]") {
  auto result = validate_app_name("x");
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::Contains("Debian package name"));
}
