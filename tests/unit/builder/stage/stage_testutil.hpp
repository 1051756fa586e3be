#pragma once

// Helpers shared by the builder/stage tests: a typical app spec and a way
// to run a shell snippet.

#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "aptrepo/core/subprocess.hpp"
#include "builder/stage/stage.hpp"

namespace aptship::test {

// An app with a web and a worker process and two env defaults.
inline stage::AppSpec sample_spec() {
  stage::AppSpec spec;
  spec.app = "hello";
  spec.version = "1.2.0+b42.gabc1234";
  spec.architecture = "all";
  spec.maintainer = "Build Bot <bot@example.org>";
  spec.description = "greets visitors over HTTP";
  spec.depends = {"python3 (>= 3.11)"};
  spec.processes = {{"web", "python3 -m http.server $PORT"}, {"worker", "python3 worker.py"}};
  spec.env = {{"GREETING", "hello world"}, {"MODE", "production"}};
  spec.port = 5000;
  spec.date = 1700000000;
  return spec;
}

// Runs ARGV, capturing its output; fails the test if it cannot start.
inline SubprocessResult run_ok(const std::vector<std::string>& argv,
                               const SubprocessOptions& options = {}) {
  auto result = aptship::run(argv, options);
  REQUIRE(result);
  return *result;
}

// Whether PROGRAM is on PATH.
inline bool have(const std::string& program) {
  auto result = aptship::run({"sh", "-c", "command -v \"$0\" >/dev/null", program});
  return result && result->ok();
}

} // namespace aptship::test
