#include <catch2/catch.hpp>

#include "aptrepo/core/subprocess.hpp"
#include "builder/pipeline/version.hpp"

using aptship::pipeline::build_version;
using aptship::pipeline::check_increasing;

namespace {

// dpkg itself is the judge of the order.
bool dpkg_greater(const std::string& a, const std::string& b) {
  auto r = aptship::run({"dpkg", "--compare-versions", a, "gt", b});
  REQUIRE(r);
  return r->exit_code == 0;
}

} // namespace

TEST_CASE("version: base, build number and abbreviated commit") {
  auto v = build_version("1.2.0", 42, "abc1234def5678");
  REQUIRE(v);
  CHECK(*v == "1.2.0+b42.gabc1234");
  auto no_commit = build_version("2.0", 3, "");
  REQUIRE(no_commit);
  CHECK(*no_commit == "2.0+b3");
}

TEST_CASE("version: bad bases are refused with the reason") {
  CHECK_FALSE(build_version("", 1, "abc1234"));
  CHECK_FALSE(build_version("v1.0", 1, "abc1234"));
  CHECK_FALSE(build_version("1.0-1", 1, "abc1234"));
  CHECK_FALSE(build_version("1:1.0", 1, "abc1234"));
  CHECK_FALSE(build_version("1.0 beta", 1, "abc1234"));
  CHECK_FALSE(build_version("1.0", 1, "not-hex"));
  auto e = build_version("1.0-1", 1, "abc1234");
  REQUIRE_FALSE(e);
  CHECK_THAT(e.error().message(), Catch::Contains("1.0-1"));
}

TEST_CASE("version: later builds sort after earlier ones for dpkg, whatever the commit") {
  const std::vector<std::string> commits = {"fffffff", "0000000", "abc1234", "1234567"};
  std::string previous;
  for (uint64_t n = 1; n <= 120; ++n) {
    auto v = build_version("1.0.0", n, commits[n % commits.size()]);
    REQUIRE(v);
    if (!previous.empty() && (n < 12 || n % 10 == 0)) {
      CHECK(dpkg_greater(*v, previous));
    }
    REQUIRE(
        check_increasing(*v, previous.empty() ? std::nullopt : std::optional(previous), "staging"));
    previous = *v;
  }
  // A raised base wins over any build number.
  auto raised = build_version("1.1.0", 1, "abc1234");
  REQUIRE(raised);
  CHECK(dpkg_greater(*raised, previous));
  CHECK(check_increasing(*raised, previous, "staging"));
}

TEST_CASE("version: going backwards is refused, naming the suite and the version") {
  auto e = check_increasing("1.0.0+b5.gabc1234", std::string("2.0.0+b4.gdef5678"), "production");
  REQUIRE_FALSE(e);
  CHECK_THAT(e.error().message(), Catch::Contains("production"));
  CHECK_THAT(e.error().message(), Catch::Contains("2.0.0+b4.gdef5678"));
  CHECK_FALSE(check_increasing("1.0.0+b5", std::string("1.0.0+b5"), "staging"));
  CHECK(check_increasing("1.0.0+b5", std::nullopt, "staging"));
}
