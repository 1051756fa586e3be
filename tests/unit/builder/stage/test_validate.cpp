#include <catch2/catch.hpp>

#include <string>

#include "builder/stage/validate.hpp"
#include "stage_testutil.hpp"

using aptship::stage::AppSpec;
using aptship::stage::check_spec;
using aptship::test::sample_spec;

namespace {

std::string problem_of(const AppSpec& spec) {
  auto checked = check_spec(spec);
  REQUIRE_FALSE(checked);
  return checked.error().message();
}

} // namespace

TEST_CASE("validate: the sample spec and a spec without processes or env pass") {
  CHECK(check_spec(sample_spec()));
  AppSpec bare = sample_spec();
  bare.processes.clear();
  bare.env.clear();
  bare.depends.clear();
  CHECK(check_spec(bare));
}

TEST_CASE("validate: bad names are refused with the reason") {
  AppSpec spec = sample_spec();
  spec.app = "";
  CHECK_THAT(problem_of(spec), Catch::Contains("app name ''"));
  spec.app = "Hello";
  CHECK_THAT(problem_of(spec), Catch::Contains("app name 'Hello'"));
  spec.app = "../x";
  CHECK_THAT(problem_of(spec), Catch::Contains("app name '../x'"));
  spec.app = "a";
  CHECK_THAT(problem_of(spec), Catch::Contains("2 to 63"));
  spec.app = "hello.world";
  CHECK_THAT(problem_of(spec), Catch::Contains("app name 'hello.world'"));
}

TEST_CASE("validate: the user must be a valid account that is not the system's") {
  AppSpec spec = sample_spec();
  spec.app = "1st-app";
  CHECK_THAT(problem_of(spec), Catch::Contains("user '1st-app'") &&
                                   Catch::Contains("it is the app name: set a user"));
  spec.user = "first";
  CHECK(check_spec(spec));
  spec.app = std::string(40, 'a');
  spec.user.clear();
  CHECK_THAT(problem_of(spec), Catch::Contains("1 to 32"));
  spec.app = "mail";
  CHECK_THAT(problem_of(spec), Catch::Contains("user 'mail' is one of the system's own accounts"));
  spec.user = "root";
  CHECK_THAT(problem_of(spec), Catch::Contains("user 'root' is one of the system's own accounts"));
}

TEST_CASE("validate: control fields are checked as dpkg would") {
  AppSpec spec = sample_spec();
  spec.version = "1.0_beta";
  CHECK_THAT(problem_of(spec), Catch::Contains("1.0_beta"));
  spec = sample_spec();
  spec.architecture = "any";
  CHECK_THAT(problem_of(spec), Catch::Contains("architecture 'any'"));
  spec = sample_spec();
  spec.maintainer = "nobody";
  CHECK_THAT(problem_of(spec), Catch::Contains("maintainer 'nobody'"));
  spec = sample_spec();
  spec.description = "two\nlines";
  CHECK_THAT(problem_of(spec), Catch::Contains("description 'two\\nlines'"));
  spec = sample_spec();
  spec.description = "";
  CHECK_THAT(problem_of(spec), Catch::Contains("description ''"));
  spec = sample_spec();
  spec.depends = {"libc6, evil"};
  CHECK_THAT(problem_of(spec), Catch::Contains("depends entry 'libc6, evil'"));
  spec.depends = {"nodejs", "nodejs"};
  CHECK_THAT(problem_of(spec), Catch::Contains("listed twice"));
  spec.depends = {"python3 (>= 3.11) | python3-minimal", "libc6:amd64"};
  CHECK(check_spec(spec));
}

TEST_CASE("validate: process types need plain names and one-line commands") {
  AppSpec spec = sample_spec();
  spec.processes = {{"we b", "x"}};
  CHECK_THAT(problem_of(spec), Catch::Contains("process type 'we b'"));
  spec.processes = {{"web/x", "x"}};
  CHECK_THAT(problem_of(spec), Catch::Contains("process type 'web/x'"));
  spec.processes = {{"web", "a\nb"}};
  CHECK_THAT(problem_of(spec), Catch::Contains("command 'a\\nb' must be one non-empty line"));
  spec.processes = {{"web", ""}};
  CHECK_THAT(problem_of(spec), Catch::Contains("command ''"));
  spec.processes = {{"web", "a"}, {"web", "b"}};
  CHECK_THAT(problem_of(spec), Catch::Contains("defined twice"));
  spec.processes = {{"Web_2-x", "run 'it'\t$PORT"}};
  CHECK(check_spec(spec));
}

TEST_CASE("validate: env keys are shell names, values one line, PORT comes from port") {
  AppSpec spec = sample_spec();
  spec.env = {{"1KEY", "x"}};
  CHECK_THAT(problem_of(spec), Catch::Contains("env key '1KEY'"));
  spec.env = {{"A-B", "x"}};
  CHECK_THAT(problem_of(spec), Catch::Contains("env key 'A-B'"));
  spec.env = {{"KEY", "a\nb"}};
  CHECK_THAT(problem_of(spec), Catch::Contains("env 'KEY': value 'a\\nb'"));
  spec.env = {{"PORT", "80"}};
  CHECK_THAT(problem_of(spec), Catch::Contains("env key 'PORT'"));
  spec.env = {{"_OK", "it's \"$fine\" `here`\t\\"}};
  CHECK(check_spec(spec));
}

TEST_CASE("validate: ports must fit every process type") {
  AppSpec spec = sample_spec();
  spec.port = 0;
  CHECK_THAT(problem_of(spec), Catch::Contains("port 0"));
  spec.port = 65535;
  CHECK_THAT(problem_of(spec), Catch::Contains("no room for the ports of 1 more"));
  spec.processes = {{"web", "x"}};
  CHECK(check_spec(spec));
}

TEST_CASE("validate: every problem is reported at once") {
  AppSpec spec = sample_spec();
  spec.app = "Bad";
  spec.version = "";
  spec.env = {{"bad key", "x"}};
  spec.processes = {{"", "x"}};
  const std::string message = problem_of(spec);
  CHECK_THAT(message, Catch::StartsWith("app spec: "));
  CHECK_THAT(message, Catch::Contains("app name 'Bad'"));
  CHECK_THAT(message, Catch::Contains("version"));
  CHECK_THAT(message, Catch::Contains("env key 'bad key'"));
  CHECK_THAT(message, Catch::Contains("process type ''"));
}
