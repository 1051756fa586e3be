#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "builder/stage/scripts.hpp"
#include "stage_testutil.hpp"
#include "testutil.hpp"

using aptship::SubprocessOptions;
using aptship::SubprocessResult;
using aptship::stage::MaintainerScripts;
using aptship::stage::render_maintainer_scripts;
using aptship::test::run_ok;
using aptship::test::sample_spec;
using aptship::test::ScopedTempDir;

namespace {

namespace fs = std::filesystem;

// Every program the scripts call, as a stub that logs its arguments; the
// scripts run with only these on PATH, so that nothing touches the host.
// getent finds the account when STUB_USER_EXISTS is set; was-enabled
// fails for the units in STUB_DISABLED.
void make_stubs() {
  const std::string log = (fs::current_path() / "calls").string();
  for (const char* name : {"addgroup", "adduser", "mkdir", "chown", "chmod", "rm", "systemctl",
                           "deb-systemd-invoke", "deb-systemd-helper", "getent"}) {
    std::string body = "#!/bin/sh\nprintf '%s\\n' \"${0##*/} $*\" >>'" + log + "'\n";
    if (std::string(name) == "getent") {
      body += "[ -n \"${STUB_USER_EXISTS:-}\" ]\n";
    }
    if (std::string(name) == "deb-systemd-helper") {
      body += "if [ \"$1\" = --quiet ] && [ \"$2\" = was-enabled ]; then\n"
              "  case \" ${STUB_DISABLED:-} \" in *\" $3 \"*) exit 1 ;; esac\n"
              "fi\n";
    }
    aptship::test::write(fs::path("stubs") / name, body, 0755);
  }
}

// Runs SCRIPT with ARGS; when SYSTEMD is set, the script sees a running
// systemd (its /run/systemd/system test is pointed at a directory here).
SubprocessResult run_script(const std::string& script, const std::vector<std::string>& args,
                            bool systemd, std::map<std::string, std::string> env = {}) {
  std::string text = script;
  const std::string marker = "/run/systemd/system";
  const std::string fake = (fs::current_path() / (systemd ? "run-systemd" : "no-systemd")).string();
  fs::create_directories("run-systemd");
  for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at)) {
    text.replace(at, marker.size(), fake);
    at += fake.size();
  }
  aptship::test::write("script", text, 0755);
  fs::remove("calls");
  std::vector<std::string> argv = {"/bin/sh", "./script"};
  argv.insert(argv.end(), args.begin(), args.end());
  env["PATH"] = (fs::current_path() / "stubs").string();
  SubprocessOptions options;
  options.env = env;
  return run_ok(argv, options);
}

std::string calls() {
  return fs::exists("calls") ? aptship::test::read("calls") : "";
}

} // namespace

TEST_CASE("scripts: POSIX sh with set -e") {
  ScopedTempDir tmp;
  const MaintainerScripts scripts = render_maintainer_scripts(sample_spec());
  for (const auto& [name, text] : {std::pair{"postinst", scripts.postinst},
                                   {"prerm", scripts.prerm},
                                   {"postrm", scripts.postrm}}) {
    INFO(name << ":\n" << text);
    CHECK_THAT(text, Catch::StartsWith("#!/bin/sh\n"));
    CHECK_THAT(text, Catch::Contains("\nset -e\n"));
    aptship::test::write(name, text, 0755);
    auto dash = run_ok({"dash", "-n", name});
    CHECK(dash.ok());
    CHECK(dash.err.empty());
    if (aptship::test::have("shellcheck")) {
      auto check = run_ok({"shellcheck", "--shell=sh", "--severity=info", name});
      INFO(check.out);
      CHECK(check.ok());
    }
  }
}

TEST_CASE("scripts: first configure creates the account and directories, enables, starts") {
  ScopedTempDir tmp;
  make_stubs();
  const MaintainerScripts scripts = render_maintainer_scripts(sample_spec());
  auto result = run_script(scripts.postinst, {"configure", ""}, true);
  INFO(result.err);
  REQUIRE(result.ok());
  CHECK(calls() ==
        "getent group hello\n"
        "addgroup --system --quiet hello\n"
        "getent passwd hello\n"
        "adduser --system --quiet --ingroup hello --home /var/lib/hello --no-create-home "
        "--shell /usr/sbin/nologin hello\n"
        "mkdir -p /var/lib/hello\n"
        "chown hello:hello /var/lib/hello\n"
        "chmod 0750 /var/lib/hello\n"
        "mkdir -p /var/log/hello\n"
        "chown hello:hello /var/log/hello\n"
        "chmod 0750 /var/log/hello\n"
        "deb-systemd-helper --quiet was-enabled hello.target\n"
        "deb-systemd-helper enable hello.target\n"
        "deb-systemd-helper --quiet was-enabled hello-web.service\n"
        "deb-systemd-helper enable hello-web.service\n"
        "deb-systemd-helper --quiet was-enabled hello-worker.service\n"
        "deb-systemd-helper enable hello-worker.service\n"
        "systemctl --system daemon-reload\n"
        "deb-systemd-invoke start hello.target\n");
}

TEST_CASE("scripts: an upgrade keeps the account and a disabled unit, and restarts") {
  ScopedTempDir tmp;
  make_stubs();
  const MaintainerScripts scripts = render_maintainer_scripts(sample_spec());
  auto result = run_script(scripts.postinst, {"configure", "1.0"}, true,
                           {{"STUB_USER_EXISTS", "1"}, {"STUB_DISABLED", "hello-worker.service"}});
  INFO(result.err);
  REQUIRE(result.ok());
  const std::string log = calls();
  CHECK_THAT(log, !Catch::Contains("adduser") && !Catch::Contains("addgroup"));
  CHECK_THAT(log, Catch::Contains("deb-systemd-helper enable hello-web.service\n"));
  CHECK_THAT(log, Catch::Contains("deb-systemd-helper update-state hello-worker.service\n"));
  CHECK_THAT(log, Catch::EndsWith("deb-systemd-invoke restart hello.target\n"));
}

TEST_CASE("scripts: without systemd running, units are enabled but nothing starts") {
  ScopedTempDir tmp;
  make_stubs();
  const MaintainerScripts scripts = render_maintainer_scripts(sample_spec());
  auto result = run_script(scripts.postinst, {"configure", ""}, false);
  REQUIRE(result.ok());
  CHECK_THAT(calls(), Catch::Contains("deb-systemd-helper enable hello.target") &&
                          !Catch::Contains("systemctl") && !Catch::Contains("invoke"));
  // Without init-system-helpers at all, configure still succeeds.
  fs::remove("stubs/deb-systemd-helper");
  fs::remove("stubs/deb-systemd-invoke");
  result = run_script(scripts.postinst, {"configure", ""}, true);
  REQUIRE(result.ok());
  CHECK_THAT(calls(), Catch::EndsWith("systemctl --system daemon-reload\n"));
}

TEST_CASE("scripts: other postinst actions and DPKG_ROOT") {
  ScopedTempDir tmp;
  make_stubs();
  const MaintainerScripts scripts = render_maintainer_scripts(sample_spec());
  auto result = run_script(scripts.postinst, {"abort-upgrade", "1.0"}, true);
  REQUIRE(result.ok());
  CHECK_THAT(calls(), !Catch::Contains("adduser") &&
                          Catch::EndsWith("deb-systemd-invoke restart hello.target\n"));
  result = run_script(scripts.postinst, {"triggered", "x"}, true);
  REQUIRE(result.ok());
  CHECK(calls().empty());
  result = run_script(scripts.postinst, {"configure", ""}, true, {{"DPKG_ROOT", "/srv/root"}});
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.err, Catch::Contains("hello: installing without chroot (DPKG_ROOT)"));
  CHECK(calls().empty());
}

TEST_CASE("scripts: prerm stops every unit on remove only") {
  ScopedTempDir tmp;
  make_stubs();
  const MaintainerScripts scripts = render_maintainer_scripts(sample_spec());
  auto result = run_script(scripts.prerm, {"remove"}, true);
  REQUIRE(result.ok());
  CHECK(calls() == "deb-systemd-invoke stop hello.target hello-web.service hello-worker.service\n");
  for (const char* action : {"upgrade", "deconfigure", "failed-upgrade"}) {
    result = run_script(scripts.prerm, {action, "2.0"}, true);
    REQUIRE(result.ok());
    CHECK(calls().empty());
  }
  result = run_script(scripts.prerm, {"remove"}, false);
  REQUIRE(result.ok());
  CHECK(calls().empty());
}

TEST_CASE("scripts: postrm reloads on remove and deletes the app's files on purge") {
  ScopedTempDir tmp;
  make_stubs();
  const MaintainerScripts scripts = render_maintainer_scripts(sample_spec());
  auto result = run_script(scripts.postrm, {"remove"}, true);
  REQUIRE(result.ok());
  CHECK(calls() == "systemctl --system daemon-reload\n");
  result = run_script(scripts.postrm, {"remove"}, false);
  REQUIRE(result.ok());
  CHECK(calls().empty());
  result = run_script(scripts.postrm, {"purge"}, false, {{"DPKG_ROOT", "/srv/r"}});
  REQUIRE(result.ok());
  CHECK(calls() == "deb-systemd-helper purge hello.target hello-web.service hello-worker.service\n"
                   "rm -rf /srv/r/etc/hello /srv/r/var/lib/hello /srv/r/var/log/hello "
                   "/srv/r/opt/hello\n");
  for (const char* action : {"upgrade", "failed-upgrade", "abort-install", "disappear"}) {
    result = run_script(scripts.postrm, {action, "2.0"}, true);
    REQUIRE(result.ok());
    CHECK(calls().empty());
  }
}
