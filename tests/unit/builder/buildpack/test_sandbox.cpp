#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/core/subprocess.hpp"
#include "builder/buildpack/sandbox.hpp"
#include "testutil.hpp"

using namespace aptship::buildpack;
using aptship::test::ScopedTempDir;
using aptship::test::write;
namespace fs = std::filesystem;

namespace {

// The argv prefix before the bash wrapper.
std::vector<std::string> prefix_of(const std::vector<std::string>& argv) {
  auto bash = std::find(argv.begin(), argv.end(), "/bin/bash");
  return std::vector<std::string>(argv.begin(), bash);
}

} // namespace

TEST_CASE("a plain step is only the export wrapper around the command") {
  Sandbox sandbox;
  sandbox.real_build_dir = "/tmp/b";
  sandbox.visible_build_dir = "/tmp/b";
  auto argv = sandbox_argv(sandbox, {"/w/bp/00/export"}, {"/w/bp/01/bin/compile", "/tmp/b"});
  REQUIRE(argv.size() == 8);
  CHECK(argv[0] == "/bin/bash");
  CHECK(argv[1] == "-c");
  CHECK(argv[3] == "bash");
  CHECK(argv[4] == "1");
  CHECK(argv[5] == "/w/bp/00/export");
  CHECK(argv[6] == "/w/bp/01/bin/compile");
  CHECK(argv[7] == "/tmp/b");
  CHECK(sandbox_cwd(sandbox) == "/tmp/b");
}

TEST_CASE("the privilege drop and the mount namespace are argv prefixes") {
  Sandbox sandbox;
  sandbox.real_build_dir = "/work/build";
  sandbox.visible_build_dir = "/opt/hello";
  sandbox.run_as = std::pair<uid_t, gid_t>(65534, 65533);
  CHECK(prefix_of(sandbox_argv(sandbox, {}, {"x"})) ==
        std::vector<std::string>{"setpriv", "--reuid=65534", "--regid=65533", "--clear-groups",
                                 "--no-new-privs", "--"});

  sandbox.isolation = Isolation::mount_namespace;
  auto prefix = prefix_of(sandbox_argv(sandbox, {}, {"x"}));
  REQUIRE(prefix.size() == 20);
  CHECK(prefix[0] == "unshare");
  CHECK(prefix[8] == "/bin/sh");
  // The paths are positional parameters, not part of the script.
  CHECK(prefix[10].find("/opt/hello") == std::string::npos);
  CHECK(prefix[12] == "/work/build");
  CHECK(prefix[13] == "/opt/hello");
  CHECK(prefix[14] == "setpriv");
  CHECK(sandbox_cwd(sandbox) == "/");
}

TEST_CASE("exports are sourced in order with paths passed as arguments") {
  ScopedTempDir tmp;
  fs::path odd = tmp.path() / "it's a \"dir\" $HOME";
  write(odd / "export1", "export A=one B=one\nset -- clobbered\n");
  write(odd / "export2", "export B=\"$A two\"\n");
  Sandbox sandbox;
  sandbox.real_build_dir = tmp.path();
  sandbox.visible_build_dir = tmp.path();
  auto argv = sandbox_argv(sandbox, {odd / "export1", odd / "export2"},
                           {"/bin/sh", "-c", "echo \"$A/$B/$1\"", "sh", "arg with space"});
  aptship::SubprocessOptions options;
  options.cwd = sandbox_cwd(sandbox);
  options.env = step_environment(tmp.path(), "");
  auto result = aptship::run(argv, options);
  REQUIRE(result);
  CHECK(result->err.empty());
  CHECK(result->exit_code == 0);
  CHECK(result->out == "one/one two/arg with space\n");
}

TEST_CASE("steps get a clean environment") {
  auto env = step_environment("/w/home", "abc123");
  std::map<std::string, std::string> expected = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                                                 {"HOME", "/w/home"},
                                                 {"LANG", "C.UTF-8"},
                                                 {"STACK", "debian-12"},
                                                 {"SOURCE_VERSION", "abc123"}};
  CHECK(env == expected);
  CHECK(step_environment("/w/home", "").count("SOURCE_VERSION") == 0);
}

TEST_CASE("a directory the build user cannot enter is named") {
  ScopedTempDir tmp;
  fs::create_directories(tmp.path() / "closed" / "inner");
  REQUIRE(::chmod(tmp.path().c_str(), 0755) == 0);
  REQUIRE(::chmod((tmp.path() / "closed").c_str(), 0700) == 0);
  REQUIRE(check_traversable(tmp.path() / "not-yet" / "made", 65534, 65534));
  auto closed = check_traversable(tmp.path() / "closed" / "inner", 65534, 65534);
  REQUIRE(!closed);
  CHECK(closed.error().message() ==
        fmt::format("{} is not reachable by uid 65534: {} has mode 0700",
                    (tmp.path() / "closed" / "inner").string(), (tmp.path() / "closed").string()));
  // Its owner may.
  CHECK(check_traversable(tmp.path() / "closed" / "inner", ::getuid(), ::getgid()));
}

TEST_CASE("chown_tree hands a whole tree over, symlinks included") {
  if (::geteuid() != 0) {
    WARN("needs root");
    return;
  }
  ScopedTempDir tmp;
  write(tmp.path() / "t" / "a" / "file", "x");
  fs::create_symlink("/etc/hostname", tmp.path() / "t" / "a" / "link");
  REQUIRE(chown_tree(tmp.path() / "t", 65534, 65533));
  for (const auto& sub : {"", "a", "a/file", "a/link"}) {
    struct stat st {};
    REQUIRE(::lstat((tmp.path() / "t" / sub).c_str(), &st) == 0);
    CHECK(st.st_uid == 65534);
    CHECK(st.st_gid == 65533);
  }
  struct stat target {};
  REQUIRE(::stat("/etc/hostname", &target) == 0);
  CHECK(target.st_uid == 0);
}

TEST_CASE("root may set every sandbox up") {
  Sandbox sandbox;
  sandbox.visible_build_dir = "/opt/x";
  sandbox.run_as = std::pair<uid_t, gid_t>(65534, 65534);
  sandbox.isolation = Isolation::mount_namespace;
  auto allowed = check_sandbox_allowed(sandbox);
  if (::geteuid() == 0) {
    CHECK(allowed);
    sandbox.visible_build_dir = "opt/x";
    CHECK(!check_sandbox_allowed(sandbox));
  } else {
    REQUIRE(!allowed);
    CHECK(allowed.error().message() == "running buildpacks as uid 65534 needs root");
  }
}

TEST_CASE("a user namespace gives any user the install path, with its own ids") {
  Sandbox sandbox;
  sandbox.isolation = Isolation::user_namespace;
  sandbox.real_build_dir = "/work/build";
  sandbox.visible_build_dir = "/opt/hello";
  sandbox.caller = {1000, 1001};
  auto prefix = prefix_of(sandbox_argv(sandbox, {}, {"x"}));
  REQUIRE(prefix.size() == 19);
  CHECK(prefix[0] == "unshare");
  CHECK(prefix[1] == "--user");
  // The paths and ids are positional parameters, not part of the script.
  CHECK(prefix[12].find("/opt") == std::string::npos);
  CHECK(std::vector<std::string>(prefix.begin() + 14, prefix.end()) ==
        std::vector<std::string>{"/work/build", "/opt/hello", "/opt", "1000", "1001"});
  CHECK(sandbox_cwd(sandbox) == "/");
  CHECK(check_sandbox_allowed(sandbox));
  sandbox.visible_build_dir = "/hello";
  auto top = check_sandbox_allowed(sandbox);
  REQUIRE(!top);
  CHECK(top.error().message() == "the install path /hello needs a parent below /");
}

TEST_CASE("a user namespace build runs as the caller, sees /opt/APP and writes the real tree") {
  if (::geteuid() != 0) {
    WARN("needs root to become another user: skipped");
    return;
  }
  if (!user_namespace_available()) {
    WARN("no unprivileged user namespaces here: skipped");
    return;
  }
  ScopedTempDir tmp;
  fs::path real = tmp.path() / "build";
  fs::create_directories(real);
  REQUIRE(::chmod(tmp.path().c_str(), 0755) == 0);
  REQUIRE(chown_tree(real, 65534, 65534));
  fs::path visible = "/opt/aptship-sandbox-test";
  REQUIRE_FALSE(fs::exists(visible));
  Sandbox sandbox;
  sandbox.isolation = Isolation::user_namespace;
  sandbox.real_build_dir = real;
  sandbox.visible_build_dir = visible;
  sandbox.caller = {65534, 65534};
  // What a service account runs: the same argv, started as nobody.
  auto argv =
      sandbox_argv(sandbox, {}, {"/bin/sh", "-c", "pwd; id -u; id -g; echo made > made; ls /opt"});
  argv.insert(argv.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
  aptship::SubprocessOptions options;
  options.cwd = sandbox_cwd(sandbox);
  options.env = step_environment(tmp.path(), "");
  auto result = aptship::run(argv, options);
  REQUIRE(result);
  INFO(result->err);
  CHECK(result->exit_code == 0);
  CHECK(result->out == visible.string() + "\n65534\n65534\naptship-sandbox-test\n");
  CHECK(aptship::test::read(real / "made") == "made\n");
  struct stat st {};
  REQUIRE(::stat((real / "made").c_str(), &st) == 0);
  CHECK(st.st_uid == 65534);
  CHECK(st.st_gid == 65534);
  // The host's /opt is untouched.
  CHECK_FALSE(fs::exists(visible));
}
