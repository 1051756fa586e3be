#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "builder/receive/hook.hpp"

using aptship::DataDir;
using aptship::Expected;
using aptship::receive::BuildFn;
using aptship::receive::classify_ref;
using aptship::receive::DeployBranches;
using aptship::receive::OutputSink;
using aptship::receive::PushedRef;
using aptship::receive::RefAction;
using aptship::receive::RefUpdate;

namespace {

const std::string k_zero(40, '0');
const std::string k_a(40, 'a');
const std::string k_b(40, 'b');

// A build that records its calls and fails for the commits in FAILING.
struct FakeBuild {
  std::vector<PushedRef> calls;
  std::vector<std::string> failing;

  BuildFn fn() {
    return [this](const PushedRef& ref, const OutputSink& output) -> Expected<void> {
      calls.push_back(ref);
      output("-----> building " + ref.branch);
      if (std::find(failing.begin(), failing.end(), ref.new_id) != failing.end()) {
        return aptship::make_error("compile failed");
      }
      return {};
    };
  }
};

} // namespace

TEST_CASE("deploy branches map to suites", "[hook]") {
  DeployBranches branches;
  CHECK(branches.suite_for("main") == "staging");
  CHECK(branches.suite_for("master") == "staging");
  CHECK_FALSE(branches.suite_for("feature"));
  CHECK_FALSE(branches.suite_for("main2"));
  branches.suites = {{"release", "stable"}};
  CHECK(branches.suite_for("release") == "stable");
  CHECK_FALSE(branches.suite_for("main"));
}

TEST_CASE("refs are classified", "[hook]") {
  const DeployBranches branches;
  auto main_push = classify_ref({k_a, k_b, "refs/heads/main"}, branches);
  CHECK(main_push.action == RefAction::build);
  CHECK(main_push.suite == "staging");
  CHECK(classify_ref({k_zero, k_b, "refs/heads/master"}, branches).action == RefAction::build);

  auto deleted = classify_ref({k_a, k_zero, "refs/heads/main"}, branches);
  CHECK(deleted.action == RefAction::accept);
  CHECK_THAT(deleted.reason, Catch::Contains("main deleted"));

  auto feature = classify_ref({k_a, k_b, "refs/heads/feature/x"}, branches);
  CHECK(feature.action == RefAction::accept);
  CHECK(feature.reason ==
        "branch feature/x is not a deploy branch (main, master): accepted without a build");

  auto tag = classify_ref({k_zero, k_b, "refs/tags/v1.0"}, branches);
  CHECK(tag.action == RefAction::accept);
  CHECK(tag.reason == "tag v1.0: accepted without a build");
  CHECK(classify_ref({k_a, k_zero, "refs/tags/v1.0"}, branches).reason == "tag v1.0 deleted");
  // A tag named like a deploy branch does not deploy.
  CHECK(classify_ref({k_zero, k_b, "refs/tags/main"}, branches).action == RefAction::accept);
  CHECK(classify_ref({k_zero, k_b, "refs/notes/commits"}, branches).action == RefAction::accept);
  CHECK(classify_ref({k_zero, k_b, "refs/heads/mainx"}, branches).action == RefAction::accept);
}

TEST_CASE("the hook input is parsed strictly", "[hook]") {
  std::istringstream good(k_zero + " " + k_a + " refs/heads/main\n" + k_a + " " + k_b +
                          " refs/tags/v1\n\n");
  auto updates = aptship::receive::parse_ref_updates(good);
  REQUIRE(updates);
  REQUIRE(updates->size() == 2);
  CHECK((*updates)[0].old_id == k_zero);
  CHECK((*updates)[0].new_id == k_a);
  CHECK((*updates)[0].ref == "refs/heads/main");
  CHECK((*updates)[1].ref == "refs/tags/v1");

  for (const std::string& bad :
       {k_a + " " + k_b, k_a + " " + k_b + " main", "xyz " + k_b + " refs/heads/main",
        k_a + " " + std::string(40, 'A') + " refs/heads/main",
        k_a + "  " + k_b + " refs/heads/main", k_a + " " + k_b + " refs/heads/a b",
        k_a.substr(1) + " " + k_b + " refs/heads/main"}) {
    INFO(bad);
    std::istringstream input(bad + "\n");
    auto result = aptship::receive::parse_ref_updates(input);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains("line 1"));
  }
}

TEST_CASE("run_pre_receive builds deploy branches and accepts the rest", "[hook]") {
  FakeBuild build;
  std::vector<std::string> lines;
  OutputSink output = [&](std::string_view line) { lines.emplace_back(line); };
  std::istringstream input(k_zero + " " + k_a + " refs/heads/feature\n" + k_a + " " + k_b +
                           " refs/heads/main\n" + k_zero + " " + k_a + " refs/tags/v1\n");
  REQUIRE(aptship::receive::run_pre_receive(DataDir("/data"), "hello", "alice", input, build.fn(),
                                            output));
  REQUIRE(build.calls.size() == 1);
  const PushedRef& ref = build.calls[0];
  CHECK(ref.app == "hello");
  CHECK(ref.repo == "/data/git/hello.git");
  CHECK(ref.pusher == "alice");
  CHECK(ref.old_id == k_a);
  CHECK(ref.new_id == k_b);
  CHECK(ref.ref == "refs/heads/main");
  CHECK(ref.branch == "main");
  CHECK(ref.suite == "staging");
  CHECK(lines == std::vector<std::string>{
                     "-----> branch feature is not a deploy branch (main, master): accepted "
                     "without a build",
                     "-----> building main", "-----> tag v1: accepted without a build"});
}

TEST_CASE("a failed build stops the hook with an error naming the branch", "[hook]") {
  FakeBuild build;
  build.failing = {k_a};
  OutputSink output = [](std::string_view) {};
  std::istringstream input(k_zero + " " + k_a + " refs/heads/main\n" + k_zero + " " + k_b +
                           " refs/heads/master\n");
  auto result = aptship::receive::run_pre_receive(DataDir("/data"), "hello", "alice", input,
                                                  build.fn(), output);
  REQUIRE_FALSE(result);
  CHECK(result.error().message() == "push of branch main rejected: compile failed");
  CHECK(build.calls.size() == 1);
}

TEST_CASE("run_pre_receive honours a custom branch map and refuses bad input", "[hook]") {
  FakeBuild build;
  OutputSink output = [](std::string_view) {};
  DeployBranches branches;
  branches.suites = {{"prod", "stable"}};
  std::istringstream input(k_zero + " " + k_a + " refs/heads/main\n" + k_zero + " " + k_b +
                           " refs/heads/prod\n");
  REQUIRE(aptship::receive::run_pre_receive(DataDir("/d"), "hello", "p", input, build.fn(), output,
                                            branches));
  REQUIRE(build.calls.size() == 1);
  CHECK(build.calls[0].suite == "stable");

  std::istringstream garbage("nonsense\n");
  CHECK_FALSE(
      aptship::receive::run_pre_receive(DataDir("/d"), "hello", "p", garbage, build.fn(), output));
  std::istringstream fine(k_zero + " " + k_a + " refs/heads/main\n");
  CHECK_FALSE(
      aptship::receive::run_pre_receive(DataDir("/d"), "../x", "p", fine, build.fn(), output));
  CHECK(build.calls.size() == 1);
}
