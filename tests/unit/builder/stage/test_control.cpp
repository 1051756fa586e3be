#include <catch2/catch.hpp>

#include <string>

#include "aptrepo/deb/deb822.hpp"
#include "builder/stage/control.hpp"
#include "stage_testutil.hpp"

using aptship::stage::render_conffiles;
using aptship::stage::render_control;
using aptship::test::sample_spec;

TEST_CASE("control: the spec's fields, adduser first, a wrapped long description") {
  auto text = render_control(sample_spec());
  REQUIRE(text);
  auto control = aptship::deb::parse_one(*text, "control");
  REQUIRE(control);
  CHECK(control->get("Package") == "hello");
  CHECK(control->get("Version") == "1.2.0+b42.gabc1234");
  CHECK(control->get("Architecture") == "all");
  CHECK(control->get("Maintainer") == "Build Bot <bot@example.org>");
  CHECK(control->get("Depends") == "adduser, python3 (>= 3.11)");
  CHECK(control->get("Section") == "misc");
  CHECK(control->get("Priority") == "optional");
  CHECK_FALSE(control->has("Installed-Size"));
  const std::string description(*control->get("Description"));
  CHECK_THAT(description, Catch::StartsWith("greets visitors over HTTP\n The hello application"));
  CHECK_THAT(description, Catch::Contains("(web, worker)"));
  size_t start = 0;
  while (start < text->size()) {
    const size_t end = text->find('\n', start);
    CHECK(end - start <= 80);
    start = end + 1;
  }
}

TEST_CASE("control: an adduser entry of the spec replaces the default one") {
  auto spec = sample_spec();
  spec.depends = {"nodejs", "adduser (>= 3.11)"};
  auto text = render_control(spec);
  REQUIRE(text);
  CHECK_THAT(*text, Catch::Contains("\nDepends: nodejs, adduser (>= 3.11)\n"));
  spec.depends.clear();
  spec.processes.clear();
  text = render_control(spec);
  REQUIRE(text);
  CHECK_THAT(*text, Catch::Contains("\nDepends: adduser\n"));
  CHECK_THAT(*text, !Catch::Contains("processes"));
}

TEST_CASE("control: a field that would not validate is an error") {
  auto spec = sample_spec();
  spec.version = "not a version";
  auto text = render_control(spec);
  REQUIRE_FALSE(text);
  CHECK_THAT(text.error().message(), Catch::StartsWith("DEBIAN/control: field 'Version'"));
}

TEST_CASE("control: the env file is the conffile") {
  CHECK(render_conffiles(sample_spec()) == "/etc/hello/env\n");
}
