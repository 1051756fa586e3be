#include <catch2/catch.hpp>

#include "builder/buildpack/release_yaml.hpp"

using namespace aptship::buildpack;

TEST_CASE("bin/release YAML gives process types, config vars and depends") {
  auto release = parse_release("---\n"
                               "addons: []\n"
                               "config_vars:\n"
                               "  PYTHONUNBUFFERED: 1\n"
                               "  EMPTY:\n"
                               "default_process_types:\n"
                               "  web: python app.py --port $PORT\n"
                               "depends:\n"
                               "  - python3 (>= 3.11)\n"
                               "  - libpq5\n");
  REQUIRE(release);
  CHECK(release->default_process_types.at("web") == "python app.py --port $PORT");
  CHECK(release->config_vars.at("PYTHONUNBUFFERED") == "1");
  CHECK(release->config_vars.at("EMPTY").empty());
  CHECK(release->depends == std::vector<std::string>{"python3 (>= 3.11)", "libpq5"});
}

TEST_CASE("empty bin/release output is an empty release") {
  auto release = parse_release("");
  REQUIRE(release);
  CHECK(release->default_process_types.empty());
  CHECK(release->depends.empty());
  auto single = parse_release("depends: nodejs\n");
  REQUIRE(single);
  CHECK(single->depends == std::vector<std::string>{"nodejs"});
}

TEST_CASE("malformed bin/release output is an error") {
  auto invalid = parse_release("default_process_types: [web\n");
  REQUIRE(!invalid);
  CHECK(invalid.error().message().starts_with("bin/release printed invalid YAML"));
  auto list = parse_release("- a\n- b\n");
  REQUIRE(!list);
  CHECK(list.error().message() == "bin/release did not print a YAML map");
  auto types = parse_release("default_process_types: [web]\n");
  REQUIRE(!types);
  CHECK(types.error().message() == "bin/release: default_process_types is not a map");
  auto nested = parse_release("config_vars:\n  A:\n    b: c\n");
  REQUIRE(!nested);
  CHECK(nested.error().message() == "bin/release: config_vars has a value that is not a string");
  auto depends = parse_release("depends:\n  - {a: b}\n");
  REQUIRE(!depends);
  CHECK(depends.error().message() == "bin/release: depends has an entry that is not a string");
}

TEST_CASE("later releases win and depends are a union in order") {
  Release merged;
  merge_release(merged, Release{{{"web", "node a.js"}, {"worker", "node w.js"}},
                                {{"A", "1"}, {"B", "1"}},
                                {"nodejs", "libssl3"}});
  merge_release(merged, Release{{{"web", "python app.py"}}, {{"B", "2"}}, {"python3", "nodejs"}});
  CHECK(merged.default_process_types.at("web") == "python app.py");
  CHECK(merged.default_process_types.at("worker") == "node w.js");
  CHECK(merged.config_vars.at("A") == "1");
  CHECK(merged.config_vars.at("B") == "2");
  CHECK(merged.depends == std::vector<std::string>{"nodejs", "libssl3", "python3"});
}
