#include <catch2/catch.hpp>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "builder/stage/env_file.hpp"
#include "builder/stage/wrapper.hpp"
#include "stage_testutil.hpp"
#include "testutil.hpp"

using aptship::SubprocessOptions;
using aptship::SubprocessResult;
using aptship::stage::AppSpec;
using aptship::test::run_ok;
using aptship::test::sample_spec;
using aptship::test::ScopedTempDir;

namespace {

namespace fs = std::filesystem;

// The wrapper of SPEC with its paths moved under ROOT and its user set to
// USER, as the script's settings block allows.
std::string relocated_wrapper(const AppSpec& spec, const fs::path& root, const std::string& user) {
  const std::string text = aptship::stage::render_wrapper(spec);
  const std::map<std::string, std::string> settings = {
      {"self", (root / "usr/bin/hello").string()},
      {"app_user", user},
      {"app_dir", (root / "opt/hello").string()},
      {"env_file", (root / "etc/hello/env").string()},
      {"conf_dir", (root / "etc/hello/conf.d").string()},
      {"log_dir", (root / "var/log/hello").string()},
  };
  std::string out;
  size_t start = 0;
  size_t replaced = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    std::string line = text.substr(start, end - start);
    for (const auto& [name, value] : settings) {
      if (line.rfind(name + "='", 0) == 0) {
        line = name + "='" + value + "'";
        ++replaced;
      }
    }
    out += line + "\n";
    start = end + 1;
  }
  REQUIRE(replaced == settings.size());
  return out;
}

std::string current_user() {
  const passwd* pw = getpwuid(geteuid());
  REQUIRE(pw != nullptr);
  return pw->pw_name;
}

// An installed-looking app under the current directory: the wrapper, the
// env file, a conf.d override and a bash-only .profile.d script.
struct App {
  fs::path root;
  fs::path wrapper;

  explicit App(const AppSpec& spec, const std::string& user = current_user())
      : root(fs::current_path()), wrapper(root / "usr/bin/hello") {
    aptship::test::write(wrapper, relocated_wrapper(spec, root, user), 0755);
    aptship::test::write("etc/hello/env", aptship::stage::render_env_file(spec), 0640);
    aptship::test::write("etc/hello/conf.d/10-greeting.env", "GREETING=\"from conf.d\"\n");
    aptship::test::write("etc/hello/conf.d/README", "not read: not *.env\nGREETING=no\n");
    aptship::test::write("opt/hello/.profile.d/python.sh",
                         "list=(a b c)\nexport PROFILE_SAW=\"${#list[@]}:$PORT\"\n");
    fs::create_directories("var/log/hello");
  }

  SubprocessResult operator()(std::vector<std::string> args) const {
    args.insert(args.begin(), wrapper.string());
    SubprocessOptions options;
    options.env = std::map<std::string, std::string>{{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"},
                                                     {"LC_ALL", "C"}};
    return run_ok(args, options);
  }
};

AppSpec wrapper_spec() {
  AppSpec spec = sample_spec();
  spec.processes = {{"web", "echo \"web $PORT $PROFILE_SAW\""},
                    {"worker", "echo \"worker $PORT\" && echo \"$GREETING\""},
                    {"clock", "printf '<%s>' \"$PORT\""}};
  return spec;
}

} // namespace

TEST_CASE("wrapper: parses as POSIX sh") {
  ScopedTempDir tmp;
  aptship::test::write("hello", aptship::stage::render_wrapper(wrapper_spec()), 0755);
  auto dash = run_ok({"dash", "-n", "hello"});
  CHECK(dash.ok());
  CHECK(dash.err.empty());
  if (aptship::test::have("shellcheck")) {
    auto check = run_ok({"shellcheck", "--shell=sh", "--severity=info", "hello"});
    INFO(check.out);
    CHECK(check.ok());
  }
}

TEST_CASE("wrapper: run COMMAND runs in the app's directory and environment") {
  ScopedTempDir tmp;
  App app(wrapper_spec());
  auto result = app({"run", "sh", "-c",
                     "printf '%s|%s|%s|%s|%s|%s' \"$PWD\" \"$HOME\" \"$PORT\" "
                     "\"$GREETING\" \"$MODE\" \"$PROFILE_SAW\"",
                     "ignored"});
  INFO(result.err);
  REQUIRE(result.ok());
  const std::string dir = (tmp.path() / "opt/hello").string();
  CHECK(result.out == dir + "|" + dir + "|5000|from conf.d|production|3:5000");
  // Arguments stay arguments: no shell sees them again.
  result = app({"run", "printf", "[%s]", "a b", "$HOME", "*"});
  CHECK(result.out == "[a b][$HOME][*]");
  result = app({"run", "sh", "-c", "exit 7"});
  CHECK(result.exit_code == 7);
}

TEST_CASE("wrapper: run PROCESS runs the Procfile command with its PORT") {
  ScopedTempDir tmp;
  App app(wrapper_spec());
  auto result = app({"run", "web"});
  INFO(result.err);
  CHECK(result.out == "web 5000 3:5000\n");
  result = app({"run", "worker"});
  CHECK(result.out == "worker 5001\nfrom conf.d\n");
  result = app({"run", "clock", "extra arg"});
  CHECK(result.out == "<5002><extra arg>");
  // PORT follows the configuration.
  REQUIRE(app({"config:set", "PORT=7000"}).ok());
  CHECK(app({"run", "clock"}).out == "<7002>");
  REQUIRE(app({"config:set", "PORT=seven"}).ok());
  result = app({"run", "web"});
  CHECK_FALSE(result.ok());
  CHECK_THAT(result.err, Catch::Contains("PORT='seven' is not a number"));
}

TEST_CASE("wrapper: config:set keeps comments and order and round-trips any value") {
  ScopedTempDir tmp;
  App app(wrapper_spec());
  const std::string before = aptship::test::read("etc/hello/env");
  const std::string tricky = "it's \"q\" `id` $HOME \\ ~ * #x\t;";
  auto result = app({"config:set", "MODE=" + tricky, "NEW=1", "NEW=2", "EMPTY="});
  INFO(result.err);
  REQUIRE(result.ok());
  CHECK_THAT(result.err, Catch::Contains("'hello restart' applies it"));
  const std::string after = aptship::test::read("etc/hello/env");
  const std::string header = before.substr(0, before.find("PORT="));
  CHECK_THAT(after, Catch::StartsWith(header + "PORT=5000\nGREETING=\"hello world\"\nMODE=\""));
  CHECK_THAT(after, Catch::EndsWith("\nNEW=2\nEMPTY=\"\"\n"));
  CHECK(app({"config:get", "MODE"}).out == tricky + "\n");
  CHECK(app({"config:get", "NEW"}).out == "2\n");
  CHECK(app({"config:get", "EMPTY"}).out == "\n");
  // sh reads what the wrapper wrote as the C++ writer would have written it.
  auto sourced = run_ok({"sh", "-c", ". ./etc/hello/env; printf %s \"$MODE\""});
  CHECK(sourced.out == tricky);
  struct stat st {};
  REQUIRE(stat("etc/hello/env", &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(std::distance(fs::directory_iterator("etc/hello"), fs::directory_iterator()) == 2);
}

TEST_CASE("wrapper: config:set refuses bad keys and multi-line values, changing nothing") {
  ScopedTempDir tmp;
  App app(wrapper_spec());
  const std::string before = aptship::test::read("etc/hello/env");
  for (const char* arg : {"1X=a", "A-B=c", "NOEQUALS", "=x", "K=two\nlines", "K=cr\r"}) {
    auto result = app({"config:set", "OK=1", std::string(arg)});
    CHECK_FALSE(result.ok());
    CHECK_THAT(result.err, Catch::StartsWith("hello: "));
  }
  CHECK_FALSE(app({"config:set"}).ok());
  CHECK(aptship::test::read("etc/hello/env") == before);
}

TEST_CASE("wrapper: config:unset removes every assignment of the keys") {
  ScopedTempDir tmp;
  App app(wrapper_spec());
  aptship::test::write("etc/hello/env", "# keep me\nA=1\nexport B=2\n  A=3\nC=4", 0640);
  auto result = app({"config:unset", "A", "B", "MISSING"});
  INFO(result.err);
  REQUIRE(result.ok());
  CHECK(aptship::test::read("etc/hello/env") == "# keep me\nC=4\n");
  CHECK(app({"config:get", "A"}).exit_code == 1);
  CHECK_FALSE(app({"config:unset", "not-a-key"}).ok());
}

TEST_CASE("wrapper: config prints the effective configuration, sorted") {
  ScopedTempDir tmp;
  App app(wrapper_spec());
  auto result = app({"config"});
  INFO(result.err);
  REQUIRE(result.ok());
  CHECK(result.out == "GREETING=from conf.d\nMODE=production\nPORT=5000\n");
  CHECK(app({"config:get", "GREETING"}).out == "from conf.d\n");
  // Only keys the files set: the caller's environment is not configuration.
  auto path = app({"config:get", "PATH"});
  CHECK(path.exit_code == 1);
  CHECK(path.out.empty());
  CHECK_FALSE(app({"config:get", "A", "B"}).ok());
  CHECK_FALSE(app({"config:get", "bad-key"}).ok());
}

TEST_CASE("wrapper: a missing env file is a clear error") {
  ScopedTempDir tmp;
  App app(wrapper_spec());
  fs::remove("etc/hello/env");
  auto result = app({"run", "true"});
  CHECK_FALSE(result.ok());
  CHECK_THAT(result.err, Catch::Contains("env is missing (reinstall the package with "
                                         "--force-confmiss)"));
  // config:set creates it again, private to the app's group.
  REQUIRE(app({"config:set", "PORT=6000"}).ok());
  CHECK(aptship::test::read("etc/hello/env") == "PORT=6000\n");
  struct stat st {};
  REQUIRE(stat("etc/hello/env", &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
}

TEST_CASE("wrapper: help, unknown commands, and systemd commands without systemd") {
  ScopedTempDir tmp;
  App app(wrapper_spec());
  auto help = app({"help"});
  CHECK(help.ok());
  CHECK_THAT(help.out,
             Catch::Contains("run PROCESS [ARG...]") && Catch::Contains("(web worker clock)"));
  auto none = app({});
  CHECK(none.exit_code == 1);
  CHECK_THAT(none.err, Catch::StartsWith("Usage: hello COMMAND"));
  auto unknown = app({"frobnicate"});
  CHECK_FALSE(unknown.ok());
  CHECK_THAT(unknown.err, Catch::Contains("hello: unknown command: frobnicate"));
  CHECK_FALSE(app({"run"}).ok());
  if (!fs::exists("/run/systemd/system")) {
    auto restart = app({"restart"});
    CHECK_FALSE(restart.ok());
    CHECK_THAT(restart.err, Catch::Contains("systemd is not running"));
    auto logs = app({"logs"});
    CHECK_FALSE(logs.ok());
    CHECK_THAT(logs.err, Catch::Contains("has no *.log files"));
    aptship::test::write("var/log/hello/web.log", "one\ntwo\n");
    logs = app({"logs"});
    CHECK(logs.out == "one\ntwo\n");
    CHECK_FALSE(app({"logs", "--bogus"}).ok());
  }
}

TEST_CASE("wrapper: as root, run switches to the app user") {
  if (geteuid() != 0) {
    WARN("not root: skipped");
    return;
  }
  ScopedTempDir tmp;
  fs::permissions(tmp.path(), fs::perms(0755));
  App app(wrapper_spec(), "nobody");
  fs::permissions("etc/hello/env", fs::perms(0644));
  auto result = app({"run", "sh", "-c", "printf '%s %s %s' \"$(id -un)\" \"$USER\" \"$PWD\""});
  INFO(result.err);
  REQUIRE(result.ok());
  CHECK(result.out == "nobody nobody " + (tmp.path() / "opt/hello").string());
  // An unreadable configuration is named, not silently skipped.
  fs::permissions("etc/hello/env", fs::perms(0600));
  result = app({"run", "true"});
  CHECK_FALSE(result.ok());
  CHECK_THAT(result.err, Catch::Contains("cannot read " + (tmp.path() / "etc/hello/env").string()));
  // A user that does not exist yet: the package is not configured.
  App missing(wrapper_spec(), "aptship-no-such-user");
  result = missing({"run", "true"});
  CHECK_FALSE(result.ok());
  CHECK_THAT(result.err, Catch::Contains("user aptship-no-such-user does not exist"));
}

TEST_CASE("wrapper: run PROCESS ends as the process itself, so signals reach it") {
  ScopedTempDir tmp;
  AppSpec spec = sample_spec();
  // awk reports its own parent: this test when every step exec'd, a shell
  // left behind otherwise.
  spec.processes = {{"web", "awk '{ print $4 }' /proc/self/stat"}};
  App app(spec);
  auto result = app({"run", "web"});
  INFO(result.err);
  REQUIRE(result.ok());
  CHECK(result.out == std::to_string(getpid()) + "\n");
}
