#include <catch2/catch.hpp>

#include "builder/pipeline/app_config.hpp"
#include "testutil.hpp"

using aptship::pipeline::read_app_config;
using aptship::test::ScopedTempDir;

TEST_CASE("app_config: defaults without app.json or aptship.toml") {
  ScopedTempDir tmp;
  std::filesystem::create_directory("app");
  auto c = read_app_config("app");
  REQUIRE(c);
  CHECK(c->base_version == "0.1.0");
  CHECK(c->description.empty());
  CHECK(c->depends.empty());
  CHECK_FALSE(c->port);
}

TEST_CASE("app_config: app.json gives description and env; aptship.toml has the last word") {
  ScopedTempDir tmp;
  aptship::test::write("app/app.json", R"({
    "name": "hello", "description": "Says hello",
    "env": {"GREETING": "hi", "SECRET": {"description": "fill me"},
            "MODE": {"value": "fast"}},
    "buildpacks": [{"url": "nodejs"}]
  })");
  aptship::test::write("app/aptship.toml", R"toml(
[package]
version = "2.3.1"
description = "Hello service"
maintainer = "Ops <ops@example.org>"
depends = ["curl", "libfoo1 (>= 1.2)"]
port = 8123
user = "hello-svc"

[package.env]
MODE = "safe"
)toml");
  auto c = read_app_config("app");
  INFO((c ? std::string() : c.error().message()));
  REQUIRE(c);
  CHECK(c->base_version == "2.3.1");
  CHECK(c->description == "Hello service");
  CHECK(c->maintainer == "Ops <ops@example.org>");
  CHECK(c->depends == std::vector<std::string>{"curl", "libfoo1 (>= 1.2)"});
  REQUIRE(c->port);
  CHECK(*c->port == 8123);
  CHECK(c->user == "hello-svc");
  CHECK(c->env.at("GREETING") == "hi");
  CHECK(c->env.at("MODE") == "safe");
  CHECK(c->env.count("SECRET") == 0);
}

TEST_CASE("app_config: every problem is reported at once, naming the key") {
  ScopedTempDir tmp;
  aptship::test::write("app/aptship.toml", R"(
[package]
versoin = "1.0"
port = 70000
depends = "curl"
)");
  auto c = read_app_config("app");
  REQUIRE_FALSE(c);
  const std::string m = c.error().message();
  CHECK_THAT(m, Catch::Contains("package.versoin"));
  CHECK_THAT(m, Catch::Contains("package.port"));
  CHECK_THAT(m, Catch::Contains("package.depends"));
}

TEST_CASE("app_config: syntax errors name the file and line") {
  ScopedTempDir tmp;
  aptship::test::write("app/aptship.toml", "[package]\nversion = \n");
  auto c = read_app_config("app");
  REQUIRE_FALSE(c);
  CHECK_THAT(c.error().message(), Catch::Contains("aptship.toml:2"));
  aptship::test::write("app/aptship.toml", "");
  aptship::test::write("app/app.json", "[1, 2]");
  auto j = read_app_config("app");
  REQUIRE_FALSE(j);
  CHECK_THAT(j.error().message(), Catch::Contains("app.json"));
}
