#include <catch2/catch.hpp>

#include "builder/buildpack/procfile.hpp"

using namespace aptship::buildpack;

TEST_CASE("Procfile entries keep the file's order") {
  auto entries = parse_procfile("# processes\n"
                                "web: gunicorn app:app --bind 0.0.0.0:$PORT\r\n"
                                "\n"
                                "  worker_2 :python worker.py  \n"
                                "clock: sh -c 'echo a: b'");
  REQUIRE(entries);
  REQUIRE(entries->size() == 3);
  CHECK((*entries)[0].name == "web");
  CHECK((*entries)[0].command == "gunicorn app:app --bind 0.0.0.0:$PORT");
  CHECK((*entries)[1].name == "worker_2");
  CHECK((*entries)[1].command == "python worker.py");
  CHECK((*entries)[2].command == "sh -c 'echo a: b'");
  auto empty = parse_procfile("");
  REQUIRE(empty);
  CHECK(empty->empty());
}

TEST_CASE("bad Procfile lines are errors naming the line") {
  auto no_colon = parse_procfile("web: ok\n\njust a command\n");
  REQUIRE(!no_colon);
  CHECK(no_colon.error().message() ==
        "Procfile line 3: expected 'name: command', got 'just a command'");
  auto bad_name = parse_procfile("web server: run\n");
  REQUIRE(!bad_name);
  CHECK(bad_name.error().message().starts_with("Procfile line 1:"));
  auto no_command = parse_procfile("web:\n");
  REQUIRE(!no_command);
  CHECK(no_command.error().message().starts_with("Procfile line 1:"));
  auto twice = parse_procfile("web: a\nweb: b\n");
  REQUIRE(!twice);
  CHECK(twice.error().message() == "Procfile line 2: process type 'web' is defined twice");
}
