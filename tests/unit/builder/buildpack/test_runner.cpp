#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/core/fd.hpp"
#include "builder/buildpack/buildpack.hpp"
#include "fixtures.hpp"

using namespace aptship::buildpack;
using aptship::test::BuildFixture;
using aptship::test::GitRepo;
using aptship::test::read;
using aptship::test::ScopedTempDir;
using aptship::test::write;
using aptship::test::write_buildpack;
namespace fs = std::filesystem;

namespace {

// A built-in that detects when FILE is in the app and records its name in
// BUILD_DIR/ran.
void write_detecting_builtin(const fs::path& builtin_dir, const std::string& name,
                             const std::string& file, const std::string& label) {
  write_buildpack(builtin_dir / name, "test -f \"$1/" + file + "\"\necho " + label,
                  "echo \"" + name + "\" >> \"$1/ran\"");
}

// Live processes (not zombies) whose command line has ARGUMENT as a whole
// argument; killing is asynchronous, so a non-empty answer is re-checked
// for a bounded while.
std::vector<pid_t> live_processes_with(const std::string& argument) {
  std::string needle = std::string(1, '\0') + argument + std::string(1, '\0');
  std::vector<pid_t> pids;
  for (int attempt = 0; attempt < 200; ++attempt) {
    pids.clear();
    for (const auto& entry : fs::directory_iterator("/proc")) {
      std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      auto cmdline = aptship::read_file(entry.path() / "cmdline");
      auto stat = aptship::read_file(entry.path() / "stat");
      if (!cmdline || !stat) {
        continue;
      }
      auto paren = stat->rfind(')');
      bool zombie =
          paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] == 'Z';
      if (!zombie && ("\0" + *cmdline).find(needle) != std::string::npos) {
        pids.push_back(std::stoi(name));
      }
    }
    if (pids.empty()) {
      return pids;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pids;
}

uid_t owner_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_uid;
}

bool has_line(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

} // namespace

TEST_CASE("detection takes the first language buildpack, procfile last") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  auto& request = fixture.request;
  write_detecting_builtin(request.builtin_dir, "procfile", "Procfile", "Procfile");
  write_detecting_builtin(request.builtin_dir, "python", "requirements.txt", "Python");
  write_detecting_builtin(request.builtin_dir, "nodejs", "package.json", "Node.js");
  write(request.source_dir / "Procfile", "web: python app.py\n");
  write(request.source_dir / "requirements.txt", "");

  auto result = run_buildpacks(request);
  REQUIRE(result);
  CHECK(result->buildpacks == std::vector<std::string>{"python"});
  CHECK(read(result->slug_dir / "ran") == "python\n");
  CHECK(fixture.lines.front() == "-----> Python app detected");
  CHECK(result->slug_dir == request.install_dir);
  CHECK(result->process_order == std::vector<std::string>{"web"});
  // The rejected candidates' copies are gone.
  size_t copies = 0;
  for ([[maybe_unused]] const auto& entry :
       fs::directory_iterator(request.work_dir / "buildpacks")) {
    ++copies;
  }
  CHECK(copies == 1);
}

TEST_CASE("a Procfile alone gets the procfile buildpack") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  write_detecting_builtin(fixture.request.builtin_dir, "procfile", "Procfile", "Procfile");
  write_detecting_builtin(fixture.request.builtin_dir, "python", "requirements.txt", "Python");
  write(fixture.request.source_dir / "Procfile", "web: ./run\n");
  auto result = run_buildpacks(fixture.request);
  REQUIRE(result);
  CHECK(result->buildpacks == std::vector<std::string>{"procfile"});
  CHECK(fixture.lines.front() == "-----> Procfile app detected");
}

TEST_CASE("an app no built-in detects is refused with the list tried") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  write_detecting_builtin(fixture.request.builtin_dir, "procfile", "Procfile", "Procfile");
  write_detecting_builtin(fixture.request.builtin_dir, "static", "index.html", "Static");
  auto result = run_buildpacks(fixture.request);
  REQUIRE(!result);
  CHECK(result.error().message() ==
        "no buildpack detected this app (tried static, procfile); name one with BUILDPACK_URL, "
        ".buildpacks or app.json");
}

TEST_CASE("BUILDPACK_URL wins over .buildpacks, which wins over app.json") {
  ScopedTempDir tmp;
  auto build_with = [&tmp](const std::string& name, const std::map<std::string, std::string>& env,
                           bool buildpacks_file) {
    fs::path root = tmp.path() / name;
    BuildFixture fixture(root);
    for (const auto& bp : {"one", "two", "three"}) {
      write_buildpack(fixture.request.builtin_dir / bp, "exit 1",
                      std::string("echo ") + bp + " >> \"$1/ran\"");
    }
    write(fixture.request.source_dir / "app.json", R"({"buildpacks":[{"url":"three"}]})");
    if (buildpacks_file) {
      write(fixture.request.source_dir / ".buildpacks", "two\none\n");
    }
    fixture.request.env = env;
    auto result = run_buildpacks(fixture.request);
    REQUIRE(result);
    return read(result->slug_dir / "ran");
  };
  CHECK(build_with("env", {{"BUILDPACK_URL", "one"}}, true) == "one\n");
  // Explicit buildpacks run although their detect refuses the app.
  CHECK(build_with("file", {}, true) == "two\none\n");
  CHECK(build_with("json", {}, false) == "three\n");
}

TEST_CASE("explicit buildpacks are named by detect when they have one") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  write_buildpack(tmp.path() / "bps" / "named", "echo Fancy Stack", "true");
  write_buildpack(tmp.path() / "bps" / "bare", "", "true");
  write(fixture.request.source_dir / ".buildpacks",
        (tmp.path() / "bps" / "named").string() + "\n" + (tmp.path() / "bps" / "bare").string());
  auto result = run_buildpacks(fixture.request);
  REQUIRE(result);
  CHECK(fixture.lines[0] == "-----> Fancy Stack app detected");
  CHECK(fixture.lines[1] ==
        fmt::format("-----> {} app detected", (tmp.path() / "bps" / "bare").string()));
  CHECK(result->buildpacks == std::vector<std::string>{(tmp.path() / "bps" / "named").string(),
                                                       (tmp.path() / "bps" / "bare").string()});
}

TEST_CASE("an export file reaches the later buildpacks") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  auto& builtin = fixture.request.builtin_dir;
  write_buildpack(builtin / "first", "",
                  "bp=$(cd \"$(dirname \"$0\")/..\" && pwd)\n"
                  "echo 'export FROM_FIRST=\"one\"' > \"$bp/export\"\n"
                  "echo \"first sees ${FROM_FIRST:-nothing}\" >> \"$1/log\"");
  write_buildpack(builtin / "second", "",
                  "bp=$(cd \"$(dirname \"$0\")/..\" && pwd)\n"
                  "echo 'export PATH=\"/second/bin:$PATH\"' > \"$bp/export\"\n"
                  "echo \"second sees $FROM_FIRST\" >> \"$1/log\"");
  write_buildpack(builtin / "third", "", "echo \"third sees $FROM_FIRST $PATH\" >> \"$1/log\"");
  write(fixture.request.source_dir / ".buildpacks", "first\nsecond\nthird\n");
  auto result = run_buildpacks(fixture.request);
  REQUIRE(result);
  CHECK(read(result->slug_dir / "log") ==
        "first sees nothing\n"
        "second sees one\n"
        "third sees one /second/bin:/usr/local/bin:/usr/bin:/bin\n");
}

TEST_CASE("releases merge and the Procfile overrides their process types") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  auto& builtin = fixture.request.builtin_dir;
  write_buildpack(builtin / "node", "", "true",
                  "cat <<'YAML'\n"
                  "---\n"
                  "default_process_types:\n"
                  "  web: node server.js\n"
                  "  worker: node worker.js\n"
                  "config_vars:\n"
                  "  NODE_ENV: production\n"
                  "depends:\n"
                  "  - nodejs\n"
                  "YAML");
  write_buildpack(builtin / "py", "", "true",
                  "echo 'release notes on stderr' >&2\n"
                  "printf 'default_process_types:\\n  clock: python clock.py\\n"
                  "  web: python web.py\\nconfig_vars:\\n  PYTHONUNBUFFERED: \"1\"\\n"
                  "depends: [python3, nodejs]\\n'");
  write(fixture.request.source_dir / ".buildpacks", "node\npy\n");
  write(fixture.request.source_dir / "Procfile",
        "# main\nweb: ./bin/web --port $PORT\nrelease: ./migrate\n");
  auto result = run_buildpacks(fixture.request);
  REQUIRE(result);
  CHECK(result->process_order == std::vector<std::string>{"web", "release", "clock", "worker"});
  CHECK(result->process_types.at("web") == "./bin/web --port $PORT");
  CHECK(result->process_types.at("clock") == "python clock.py");
  CHECK(result->process_types.at("worker") == "node worker.js");
  CHECK(result->config_vars ==
        std::map<std::string, std::string>{{"NODE_ENV", "production"}, {"PYTHONUNBUFFERED", "1"}});
  CHECK(result->depends == std::vector<std::string>{"nodejs", "python3"});
  CHECK(has_line(fixture.lines, "       release notes on stderr"));
  CHECK(has_line(fixture.lines, "       Procfile declares types -> web, release"));
  CHECK(has_line(fixture.lines, "       Default types for buildpack -> clock, worker"));
}

TEST_CASE("a Procfile the build leaves broken fails the build") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  write_buildpack(fixture.request.builtin_dir / "bp", "",
                  "printf 'web: ok\\nnot a line\\n' > \"$1/Procfile\"");
  fixture.request.env = {{"BUILDPACK_URL", "bp"}};
  auto result = run_buildpacks(fixture.request);
  REQUIRE(!result);
  CHECK(result.error().message() == "Procfile line 2: expected 'name: command', got 'not a line'");
}

TEST_CASE("compile gets ENV_DIR, CACHE_DIR and a clean environment") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  write_buildpack(fixture.request.builtin_dir / "bp", "",
                  "cd \"$3\"\n"
                  "for f in *; do echo \"$f=$(cat \"$f\")\"; done > \"$1/envdir\"\n"
                  "echo \"$2\" > \"$1/cachedir\"\n"
                  "env | cut -d= -f1 | sort > \"$1/environ\"\n"
                  "echo \"$HOME $STACK $LANG $SOURCE_VERSION\" > \"$1/vars\"\n"
                  "touch \"$HOME/written\"");
  fixture.request.env = {{"BUILDPACK_URL", "bp"}, {"SECRET", "s3cr3t"}, {"URL", "a=b c"}};
  fixture.request.source_version = "0123abcd";
  ::setenv("APTSHIP_TEST_LEAK", "1", 1);
  auto result = run_buildpacks(fixture.request);
  ::unsetenv("APTSHIP_TEST_LEAK");
  REQUIRE(result);
  CHECK(read(result->slug_dir / "envdir") == "BUILDPACK_URL=bp\nSECRET=s3cr3t\nURL=a=b c\n");
  CHECK(read(result->slug_dir / "cachedir") ==
        fs::absolute(fixture.request.cache_dir).string() + "\n");
  // Only what bash itself adds besides ours; config vars stay in ENV_DIR.
  CHECK(read(result->slug_dir / "environ") ==
        "HOME\nLANG\nOLDPWD\nPATH\nPWD\nSHLVL\nSOURCE_VERSION\nSTACK\n_\n");
  CHECK(
      read(result->slug_dir / "vars") ==
      fmt::format("{} debian-12 C.UTF-8 0123abcd\n", (fixture.request.work_dir / "home").string()));
  CHECK(fs::exists(fixture.request.work_dir / "home" / "written"));
}

TEST_CASE("the cache dir is kept between builds") {
  ScopedTempDir tmp;
  auto build = [&tmp](const std::string& name) {
    BuildFixture fixture(tmp.path() / name);
    fixture.request.cache_dir = tmp.path() / "shared-cache";
    write_buildpack(fixture.request.builtin_dir / "bp", "",
                    "n=$(cat \"$2/count\" 2>/dev/null || echo 0)\n"
                    "echo $((n + 1)) > \"$2/count\"\n"
                    "cp \"$2/count\" \"$1/count\"");
    fixture.request.env = {{"BUILDPACK_URL", "bp"}};
    auto result = run_buildpacks(fixture.request);
    REQUIRE(result);
    return read(result->slug_dir / "count");
  };
  CHECK(build("one") == "1\n");
  CHECK(build("two") == "2\n");
}

TEST_CASE("build output is streamed in order and formatted") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  write_buildpack(fixture.request.builtin_dir / "bp", "echo Demo",
                  "echo '-----> Installing things'\n"
                  "echo '       already indented'\n"
                  "echo 'tool output'\n"
                  "echo 'a warning' >&2\n"
                  "printf 'no newline'");
  fixture.request.env = {{"BUILDPACK_URL", "bp"}};
  auto result = run_buildpacks(fixture.request);
  REQUIRE(result);
  std::vector<std::string> expected = {"-----> Demo app detected",
                                       "-----> Installing things",
                                       "       already indented",
                                       "       tool output",
                                       "       a warning",
                                       "       no newline",
                                       "-----> Discovering process types",
                                       "       No process types declared"};
  CHECK(fixture.lines == expected);
}

TEST_CASE("a failing compile names the buildpack and step after its output") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  write_buildpack(fixture.request.builtin_dir / "python", "echo Python",
                  "echo 'Installing requirements'\necho 'no matching distribution' >&2\nexit 3");
  fixture.request.env = {{"BUILDPACK_URL", "python"}};
  auto result = run_buildpacks(fixture.request);
  REQUIRE(!result);
  CHECK(result.error().message() == "buildpack python: bin/compile exited with status 3");
  CHECK(fixture.lines == std::vector<std::string>{"-----> Python app detected",
                                                  "       Installing requirements",
                                                  "       no matching distribution"});
}

TEST_CASE("a buildpack without bin/compile or a failing release is refused") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  write_buildpack(fixture.request.builtin_dir / "empty", "true", "");
  fixture.request.env = {{"BUILDPACK_URL", "empty"}};
  auto missing = run_buildpacks(fixture.request);
  REQUIRE(!missing);
  CHECK(missing.error().message() == "buildpack empty: bin/compile is missing");

  BuildFixture second(tmp.path() / "second");
  write_buildpack(second.request.builtin_dir / "bp", "", "true",
                  "echo 'default_process_types: [x]'");
  second.request.env = {{"BUILDPACK_URL", "bp"}};
  auto bad_release = run_buildpacks(second.request);
  REQUIRE(!bad_release);
  CHECK(bad_release.error().message() ==
        "buildpack bp: bin/release: default_process_types is not a map");
}

TEST_CASE("a build over its time limit is killed with everything it started") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  std::string marker = fmt::format("aptship-timeout-marker-{}", ::getpid());
  write_buildpack(fixture.request.builtin_dir / "slow", "",
                  "echo started\n"
                  "bash -c 'sleep 1000; true' " +
                      marker +
                      " &\n"
                      "sleep 1000");
  fixture.request.env = {{"BUILDPACK_URL", "slow"}};
  fixture.request.timeout = std::chrono::seconds(1);
  auto result = run_buildpacks(fixture.request);
  REQUIRE(!result);
  CHECK(result.error().message() == "build timed out after 1 s (in buildpack slow: bin/compile)");
  CHECK(has_line(fixture.lines, "       started"));
  CHECK(live_processes_with(marker).empty());
}

TEST_CASE("background jobs a step leaves behind end with it") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  std::string marker = fmt::format("aptship-leftover-marker-{}", ::getpid());
  // The job keeps the step's stdout open: left alone, it would hold the
  // build until the timeout.
  write_buildpack(fixture.request.builtin_dir / "bp", "",
                  "bash -c 'sleep 1000; true' " + marker + " &\necho compiled");
  fixture.request.env = {{"BUILDPACK_URL", "bp"}};
  fixture.request.timeout = std::chrono::seconds(600);
  auto result = run_buildpacks(fixture.request);
  REQUIRE(result);
  CHECK(has_line(fixture.lines, "       compiled"));
  CHECK(live_processes_with(marker).empty());
}

TEST_CASE("rejected candidates stay quiet during detection") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  write_buildpack(fixture.request.builtin_dir / "python", "echo 'no requirements.txt' >&2\nexit 1",
                  "true");
  write_detecting_builtin(fixture.request.builtin_dir, "procfile", "Procfile", "Procfile");
  write(fixture.request.source_dir / "Procfile", "web: x\n");
  auto result = run_buildpacks(fixture.request);
  REQUIRE(result);
  CHECK(fixture.lines.front() == "-----> Procfile app detected");
  CHECK(fixture.text().find("requirements") == std::string::npos);
}

TEST_CASE("a git buildpack is fetched at its #ref and reused from the cache") {
  ScopedTempDir tmp;
  GitRepo repo(tmp.path() / "bp-repo");
  write(repo.dir() / "bin" / "detect", "#!/bin/sh\necho Git\n", 0755);
  write(repo.dir() / "bin" / "compile", "#!/bin/sh\necho one > \"$1/version\"\n", 0755);
  repo.commit_all("one");
  repo.tag("v1");
  write(repo.dir() / "bin" / "compile", "#!/bin/sh\necho two > \"$1/version\"\n", 0755);
  std::string two = repo.commit_all("two");

  auto build = [&](const std::string& name, const std::string& spec) {
    BuildFixture fixture(tmp.path() / name);
    fixture.request.clone_cache = tmp.path() / "clones";
    write(fixture.request.source_dir / ".buildpacks", spec + "\n");
    auto result = run_buildpacks(fixture.request);
    REQUIRE(result);
    CHECK(result->buildpacks == std::vector<std::string>{spec});
    CHECK(fixture.lines[0] == "-----> Fetching buildpack " + spec);
    CHECK(fixture.lines[1] == "-----> Git app detected");
    return read(result->slug_dir / "version");
  };
  CHECK(build("tag", repo.url() + "#v1") == "one\n");
  CHECK(build("head", repo.url()) == "two\n");
  CHECK(build("commit", repo.url() + "#" + two) == "two\n");
  size_t clones = 0;
  for (const auto& entry : fs::directory_iterator(tmp.path() / "clones")) {
    clones += entry.path().extension() == ".git" ? 1 : 0;
  }
  CHECK(clones == 1);

  BuildFixture broken(tmp.path() / "broken");
  std::string bad_url = "file://" + (tmp.path() / "missing.git").string();
  broken.request.env = {{"BUILDPACK_URL", bad_url}};
  auto failed = run_buildpacks(broken.request);
  REQUIRE(!failed);
  CHECK(failed.error().message().starts_with("cloning buildpack " + bad_url + ": "));
}

TEST_CASE("a git buildpack that cannot be fetched is named without its password") {
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  // Nothing listens on port 1: the connection is refused at once.
  fixture.request.env = {{"BUILDPACK_URL", "https://me:s3cret@127.0.0.1:1/bp.git"}};
  auto result = run_buildpacks(fixture.request);
  REQUIRE(!result);
  CHECK(result.error().message().starts_with(
      "cloning buildpack https://me:***@127.0.0.1:1/bp.git: "));
  CHECK(result.error().message().find("s3cret") == std::string::npos);
  CHECK(fixture.text().find("s3cret") == std::string::npos);
}

TEST_CASE("as root the steps run as the build user") {
  if (::geteuid() != 0) {
    WARN("needs root");
    return;
  }
  ScopedTempDir tmp;
  REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
  BuildFixture fixture(tmp.path());
  write_buildpack(fixture.request.builtin_dir / "bp", "id -u",
                  "echo \"$(id -u):$(id -g):$(id -G)\" > \"$1/who\"\n"
                  "echo cached > \"$2/entry\"\n"
                  "touch \"$HOME/home-file\"\n"
                  "bp=$(cd \"$(dirname \"$0\")/..\" && pwd)\n"
                  "echo 'export X=1' > \"$bp/export\"\n"
                  "cat \"$3/SECRET\" > \"$1/secret\"");
  fixture.request.env = {{"BUILDPACK_URL", "bp"}, {"SECRET", "s"}};
  fixture.request.run_as = std::pair<uid_t, gid_t>(65534, 65534);
  auto result = run_buildpacks(fixture.request);
  REQUIRE(result);
  CHECK(fixture.lines.front() == "-----> 65534 app detected");
  CHECK(read(result->slug_dir / "who") == "65534:65534:65534\n");
  CHECK(read(result->slug_dir / "secret") == "s");
  CHECK(owner_of(result->slug_dir / "who") == 65534);
  CHECK(owner_of(fixture.request.cache_dir / "entry") == 65534);
  CHECK(owner_of(fixture.request.work_dir / "home" / "home-file") == 65534);
}

TEST_CASE("as root an isolated build sees its tree at the install path only") {
  if (::geteuid() != 0) {
    WARN("needs root");
    return;
  }
  ScopedTempDir tmp;
  REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
  BuildFixture fixture(tmp.path());
  std::string app = fmt::format("aptship-unit-{}", ::getpid());
  fs::path install = fs::path("/opt") / app;
  fs::remove_all(install);
  std::string marker = fmt::format("aptship-daemon-marker-{}", ::getpid());
  write_buildpack(fixture.request.builtin_dir / "bp", "echo Isolated",
                  "echo \"$(pwd) $1 $(id -u)\" > \"$1/where\"\n"
                  "printf '#!/bin/sh\\necho hi\\n' > \"$1/tool\"\n"
                  "setsid bash -c 'sleep 1000; true' " +
                      marker +
                      " </dev/null >/dev/null 2>&1 &\n"
                      "echo \"release at $1\"",
                  "echo \"default_process_types: {web: $1/tool}\"");
  fixture.request.app = app;
  fixture.request.install_dir = install;
  fixture.request.env = {{"BUILDPACK_URL", "bp"}};

  SECTION("as root") {}
  SECTION("as the build user") {
    fixture.request.run_as = std::pair<uid_t, gid_t>(65534, 65534);
  }
  fixture.request.isolation = Isolation::mount_namespace;
  auto result = run_buildpacks(fixture.request);
  REQUIRE(result);
  std::string uid = fixture.request.run_as ? "65534" : "0";
  CHECK(result->slug_dir == fixture.request.work_dir / "build");
  CHECK(read(result->slug_dir / "where") ==
        fmt::format("{} {} {}\n", install.string(), install.string(), uid));
  CHECK(result->process_types.at("web") == install.string() + "/tool");
  CHECK(has_line(fixture.lines, "       release at " + install.string()));
  // The host's view of the install path never changed.
  CHECK(fs::is_directory(install));
  CHECK(fs::is_empty(install));
  // What the build left running died with its namespace.
  CHECK(live_processes_with(marker).empty());
  fs::remove(install);
}

TEST_CASE("the real built-in procfile buildpack builds a Procfile app") {
  const char* source = std::getenv("APTSHIP_SOURCE_DIR");
  fs::path builtin = source != nullptr ? fs::path(source) / "buildpacks" : fs::path();
  if (builtin.empty() || !fs::exists(builtin / "procfile" / "bin" / "compile")) {
    WARN("the built-in buildpacks are not available here");
    return;
  }
  ScopedTempDir tmp;
  BuildFixture fixture(tmp.path());
  fixture.request.builtin_dir = builtin;
  write(fixture.request.source_dir / "Procfile", "web: ./server\n");
  write(fixture.request.source_dir / "server", "#!/bin/sh\necho hi\n", 0755);
  auto result = run_buildpacks(fixture.request);
  REQUIRE(result);
  CHECK(result->buildpacks == std::vector<std::string>{"procfile"});
  CHECK(result->process_order == std::vector<std::string>{"web"});
  CHECK(fs::exists(result->slug_dir / "server"));
}
