#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "aptrepo/deb/deb_writer.hpp"
#include "builder/stage/stage.hpp"
#include "stage_testutil.hpp"
#include "testutil.hpp"

using aptship::SubprocessOptions;
using aptship::stage::AppSpec;
using aptship::stage::stage_app;
using aptship::test::run_ok;
using aptship::test::sample_spec;
using aptship::test::ScopedTempDir;

namespace {

namespace fs = std::filesystem;

// A small built app: a Procfile web server in Python, a .profile.d script
// and a symlink.
void make_slug(const fs::path& dir) {
  aptship::test::write(dir / "Procfile", "web: python3 server.py\n");
  aptship::test::write(dir / "server.py", "print('serving')\n");
  aptship::test::write(dir / "bin/start", "#!/bin/sh\nexec python3 server.py\n", 0755);
  aptship::test::write(dir / ".profile.d/app.sh", "export APP_READY=1\n");
  REQUIRE(symlink("bin/start", (dir / "start").c_str()) == 0);
}

// Every path under ROOT ("./a/b"), with its mode ("0644", "link").
std::map<std::string, std::string> listing(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    struct stat st {};
    REQUIRE(lstat(entry.path().c_str(), &st) == 0);
    const std::string rel = "./" + entry.path().lexically_relative(root).string();
    out[rel] = S_ISLNK(st.st_mode) ? "link" : fmt::format("{:04o}", st.st_mode & 07777);
  }
  return out;
}

// The names in DIR.
std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    out.insert(entry.path().filename().string());
  }
  return out;
}

aptship::deb::PackOptions xz_options() {
  aptship::deb::PackOptions options;
  options.compression = aptship::archive::Compression::xz;
  options.source_date_epoch = 1700000000;
  options.threads = 1;
  return options;
}

} // namespace

TEST_CASE("stage: the layout of an app package") {
  ScopedTempDir tmp;
  make_slug("slug");
  auto staged = stage_app(sample_spec(), "slug", "stage");
  INFO((staged ? "" : staged.error().message()));
  REQUIRE(staged);
  const std::map<std::string, std::string> expected = {
      {"./DEBIAN", "0755"},
      {"./DEBIAN/conffiles", "0644"},
      {"./DEBIAN/control", "0644"},
      {"./DEBIAN/postinst", "0755"},
      {"./DEBIAN/postrm", "0755"},
      {"./DEBIAN/prerm", "0755"},
      {"./etc", "0755"},
      {"./etc/hello", "0755"},
      {"./etc/hello/conf.d", "0755"},
      {"./etc/hello/env", "0644"},
      {"./lib", "0755"},
      {"./lib/systemd", "0755"},
      {"./lib/systemd/system", "0755"},
      {"./lib/systemd/system/hello-web.service", "0644"},
      {"./lib/systemd/system/hello-worker.service", "0644"},
      {"./lib/systemd/system/hello.target", "0644"},
      {"./opt", "0755"},
      {"./opt/hello", "0755"},
      {"./opt/hello/.profile.d", "0755"},
      {"./opt/hello/.profile.d/app.sh", "0644"},
      {"./opt/hello/Procfile", "0644"},
      {"./opt/hello/bin", "0755"},
      {"./opt/hello/bin/start", "0755"},
      {"./opt/hello/server.py", "0644"},
      {"./opt/hello/start", "link"},
      {"./usr", "0755"},
      {"./usr/bin", "0755"},
      {"./usr/bin/hello", "0755"},
      {"./usr/share", "0755"},
      {"./usr/share/doc", "0755"},
      {"./usr/share/doc/hello", "0755"},
      {"./usr/share/doc/hello/changelog.gz", "0644"},
      {"./usr/share/doc/hello/copyright", "0644"},
      {"./usr/share/lintian", "0755"},
      {"./usr/share/lintian/overrides", "0755"},
      {"./usr/share/lintian/overrides/hello", "0644"},
      {"./usr/share/man", "0755"},
      {"./usr/share/man/man1", "0755"},
      {"./usr/share/man/man1/hello.1.gz", "0644"},
  };
  const std::map<std::string, std::string> actual = listing("stage");
  for (const auto& [path, mode] : expected) {
    CHECK(path + " " + (actual.count(path) != 0 ? actual.at(path) : "missing") ==
          path + " " + mode);
  }
  for (const auto& [path, mode] : actual) {
    CHECK(path + " " + (expected.count(path) != 0 ? "expected" : "unexpected") ==
          path + " expected");
  }
  CHECK(mode_t(fs::status("stage").permissions()) == 0755);
  CHECK(aptship::test::read("stage/opt/hello/server.py") == "print('serving')\n");
  CHECK(aptship::test::read("stage/DEBIAN/conffiles") == "/etc/hello/env\n");
  CHECK_THAT(aptship::test::read("stage/etc/hello/env"),
             Catch::EndsWith("\nPORT=5000\n"
                             "GREETING=\"hello world\"\n"
                             "MODE=production\n"));
  // Nothing but the stage beside it.
  CHECK(names_in(".") == std::set<std::string>{"slug", "stage"});
}

TEST_CASE("stage: refusals leave nothing behind") {
  ScopedTempDir tmp;
  make_slug("slug");
  fs::create_directories("out");

  AppSpec bad = sample_spec();
  bad.processes = {{"web", "line\nbreak"}};
  auto result = stage_app(bad, "slug", "out/stage");
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::StartsWith("staging out/stage: app spec: "));

  result = stage_app(sample_spec(), "no-slug", "out/stage");
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::Contains("no-slug: No such file or directory"));

  REQUIRE(mkfifo("slug/pipe", 0600) == 0);
  result = stage_app(sample_spec(), "slug", "out/stage");
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::Contains("copying the app: slug/pipe: is a fifo"));
  CHECK(names_in("out").empty());
  fs::remove("slug/pipe");

  fs::create_directories("out/stage");
  result = stage_app(sample_spec(), "slug", "out/stage");
  REQUIRE_FALSE(result);
  CHECK(result.error().message() == "staging out/stage: it already exists");
  CHECK(names_in("out") == std::set<std::string>{"stage"});
  CHECK(names_in("out/stage").empty());
}

TEST_CASE("stage: dpkg-deb reads the packed stage") {
  ScopedTempDir tmp;
  make_slug("slug");
  REQUIRE(stage_app(sample_spec(), "slug", "stage"));
  auto packed = aptship::deb::pack("stage", "hello.deb", xz_options());
  INFO((packed ? "" : packed.error().message()));
  REQUIRE(packed);

  auto info = run_ok({"dpkg-deb", "--info", "hello.deb"});
  REQUIRE(info.ok());
  for (const char* expected :
       {" Package: hello\n", " Version: 1.2.0+b42.gabc1234\n", " Architecture: all\n",
        " Depends: adduser, python3 (>= 3.11)\n", " Installed-Size: ", " conffiles ", " postinst ",
        " prerm ", " postrm ", " md5sums "}) {
    CHECK_THAT(info.out, Catch::Contains(expected));
  }
  auto contents = run_ok({"dpkg-deb", "--contents", "hello.deb"});
  REQUIRE(contents.ok());
  for (const char* expected :
       {"-rwxr-xr-x root/root", "./usr/bin/hello\n", "./etc/hello/conf.d/\n",
        "./lib/systemd/system/hello-web.service\n", "./opt/hello/start -> bin/start\n"}) {
    CHECK_THAT(contents.out, Catch::Contains(expected));
  }
  CHECK_THAT(contents.out, !Catch::Contains("DEBIAN"));
}

TEST_CASE("stage: lintian finds no error and no warning") {
  if (!aptship::test::have("lintian")) {
    WARN("lintian is not installed: skipped");
    return;
  }
  ScopedTempDir tmp;
  make_slug("slug");
  REQUIRE(stage_app(sample_spec(), "slug", "stage"));
  REQUIRE(aptship::deb::pack("stage", "hello.deb", xz_options()));
  auto result = run_ok({"lintian", "--no-cfg", "--fail-on", "none", "--tag-display-limit", "0",
                        "--display-experimental", "--display-info", "--pedantic",
                        "--show-overrides", "hello.deb"});
  REQUIRE(result.ok());
  INFO("lintian's tags:\n" << result.out);
  // The one tag left: an informational note that the services have no
  // System V init script, which an app package does not need.
  // This package is not signed, so the override for the signature member
  // (which every package the pipeline builds has) goes unused here.
  const std::set<std::string> accepted = {
      "I: hello: package-supports-alternative-init-but-no-init.d-script",
      "I: hello: unused-override misplaced-extra-member-in-deb _gpgorigin *"};
  std::set<std::string> overridden;
  size_t start = 0;
  while (start < result.out.size()) {
    const size_t end = result.out.find('\n', start);
    const std::string line = result.out.substr(start, end - start);
    start = end == std::string::npos ? result.out.size() : end + 1;
    const std::string tag = line.substr(0, line.find(" ["));
    if (line.rfind("O: ", 0) == 0) {
      overridden.insert(tag);
    } else if (line.rfind("N: ", 0) != 0 && !line.empty()) {
      CHECK(accepted.count(tag) == 1);
    }
  }
  CHECK(overridden ==
        std::set<std::string>{
            "O: hello: dir-or-file-in-opt", "O: hello: copyright-without-copyright-notice",
            "O: hello: systemd-service-file-refers-to-unusual-wantedby-target hello.target"});
}

namespace {

// Installs, reconfigures, upgrades, removes and purges the package with
// the real dpkg in a throwaway copy of this system: an overlay of / in a
// private mount namespace, entered with chroot. systemd is made to look
// running, with deb-systemd-invoke and systemctl replaced by stubs that log.
// Prints KEY=VALUE lines for the test to check.
constexpr const char* k_dpkg_script = R"SH(
set -u
T=$1
R=$T/root
mkdir -p "$T/upper" "$T/work" "$R"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$R" || exit 77
mount --rbind /dev "$R/dev" || exit 77
mount -t proc proc "$R/proc" || exit 77
mkdir -p "$R/run/systemd/system" "$R/usr/local/sbin"
# Calls on the running manager are logged; systemctl --root (offline
# enabling, as deb-systemd-helper does it) is real.
cat >"$R/usr/local/sbin/systemctl" <<'STUB'
#!/bin/sh
case " $* " in
*" --root="*) exec /usr/bin/systemctl "$@" ;;
esac
echo "systemctl $*" >>/tmp/calls
STUB
cat >"$R/usr/local/sbin/deb-systemd-invoke" <<'STUB'
#!/bin/sh
echo "deb-systemd-invoke $*" >>/tmp/calls
STUB
chmod 0755 "$R/usr/local/sbin/systemctl" "$R/usr/local/sbin/deb-systemd-invoke"
# man-db's trigger would only cost time.
rm -f "$R/var/lib/man-db/auto-update"
# Another package of that name would make the test meaningless.
if chroot "$R" dpkg-query -W hello >/dev/null 2>&1; then
	exit 77
fi
in_root() {
	chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LC_ALL=C "$@"
}
calls() {
	printf '%s=' "$1"
	if [ -e "$R/tmp/calls" ]; then
		tr '\n' ';' <"$R/tmp/calls"
	fi
	echo
	rm -f "$R/tmp/calls"
}

in_root dpkg -i "$T/v1.deb" >"$T/dpkg.log" 2>&1
echo "install=$?"
calls install_calls
echo "passwd=$(in_root getent passwd hello | cut -d: -f6,7)"
echo "dirs=$(in_root stat -c '%n %U:%G %a' /var/lib/hello /var/log/hello /etc/hello/env | tr '\n' ';')"
echo "enabled=$(in_root sh -c 'ls -d /etc/systemd/system/multi-user.target.wants/hello.target;
	ls /etc/systemd/system/hello.target.wants/' | tr '\n' ';')"
in_root hello config:set GREETING='changed by "admin"' >/dev/null 2>&1
echo "set=$?"
echo "web=$(in_root hello run web 2>&1)"
echo "worker=$(in_root hello run worker 2>&1)"
in_root hello run sh -c 'echo data >/var/lib/hello/data'
echo "data=$(in_root stat -c '%U' /var/lib/hello/data)"
in_root DPKG_MAINTSCRIPT_PACKAGE=hello DPKG_MAINTSCRIPT_NAME=postinst \
	/var/lib/dpkg/info/hello.postinst configure 1.2.0+b1.gaaaaaaa >>"$T/dpkg.log" 2>&1
echo "reconfigure=$?"
rm -f "$R/tmp/calls"

in_root dpkg -i "$T/v2.deb" >>"$T/dpkg.log" 2>&1
echo "upgrade=$?"
calls upgrade_calls
echo "version=$(in_root dpkg-query -W -f '${Version}' hello)"
echo "kept=$(in_root hello config:get GREETING)"
echo "leftovers=$(in_root sh -c 'ls /etc/hello | tr "\n" " "')"

in_root dpkg -r hello >>"$T/dpkg.log" 2>&1
echo "remove=$?"
calls remove_calls
echo "after_remove=$(in_root sh -c 'ls -d /opt/hello /usr/bin/hello /etc/hello/env /var/lib/hello/data 2>/dev/null' | tr '\n' ';')"

in_root dpkg -P hello >>"$T/dpkg.log" 2>&1
echo "purge=$?"
calls purge_calls
echo "after_purge=$(in_root sh -c 'ls -d /etc/hello /var/lib/hello /var/log/hello /opt/hello \
	/etc/systemd/system/multi-user.target.wants/hello.target 2>/dev/null' | tr '\n' ';')"
echo "user_kept=$(in_root getent passwd hello | cut -d: -f1)"

in_root dpkg -i "$T/v2.deb" >>"$T/dpkg.log" 2>&1
echo "reinstall=$?"
echo "reinstalled=$(in_root hello run web 2>&1)"
)SH";

// The KEY=VALUE lines of TEXT.
std::map<std::string, std::string> key_values(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string line = text.substr(start, end - start);
    const size_t eq = line.find('=');
    if (eq != std::string::npos) {
      out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    start = end + 1;
  }
  return out;
}

} // namespace

TEST_CASE("stage: dpkg installs, upgrades, removes and purges the package") {
  if (geteuid() != 0 || !aptship::test::have("unshare") || !aptship::test::have("dpkg")) {
    WARN("needs root, unshare and dpkg: skipped");
    return;
  }
  ScopedTempDir tmp;
  make_slug("slug");
  AppSpec spec = sample_spec();
  spec.depends.clear();
  spec.processes = {{"web", "echo \"$(id -un) $PORT $GREETING ${APP_READY:-}\""},
                    {"worker", "echo \"worker $PORT\""}};
  spec.version = "1.2.0+b1.gaaaaaaa";
  REQUIRE(stage_app(spec, "slug", "stage1"));
  REQUIRE(aptship::deb::pack("stage1", "v1.deb", xz_options()));
  spec.version = "1.2.0+b2.gbbbbbbb";
  REQUIRE(stage_app(spec, "slug", "stage2"));
  REQUIRE(aptship::deb::pack("stage2", "v2.deb", xz_options()));
  aptship::test::write("dpkg.sh", k_dpkg_script);

  auto result = run_ok(
      {"unshare", "--mount", "--propagation", "private", "sh", "dpkg.sh", tmp.path().string()});
  if (result.exit_code == 77) {
    WARN("no overlay mount or a hello package already installed here: skipped\n" << result.err);
    return;
  }
  const std::string log = fs::exists("dpkg.log") ? aptship::test::read("dpkg.log") : "";
  INFO("script output:\n" << result.out << result.err << "\ndpkg's output:\n" << log);
  REQUIRE(result.ok());
  auto v = key_values(result.out);

  CHECK(v["install"] == "0");
  CHECK(v["install_calls"] == "systemctl --system daemon-reload;deb-systemd-invoke start "
                              "hello.target;");
  CHECK(v["passwd"] == "/var/lib/hello:/usr/sbin/nologin");
  CHECK(v["dirs"] == "/var/lib/hello hello:hello 750;/var/log/hello hello:hello 750;"
                     "/etc/hello/env root:hello 640;");
  CHECK(v["enabled"] == "/etc/systemd/system/multi-user.target.wants/hello.target;"
                        "hello-web.service;hello-worker.service;");
  CHECK(v["set"] == "0");
  CHECK(v["web"] == "hello 5000 changed by \"admin\" 1");
  CHECK(v["worker"] == "worker 5001");
  CHECK(v["data"] == "hello");
  CHECK(v["reconfigure"] == "0");

  CHECK(v["upgrade"] == "0");
  CHECK(v["upgrade_calls"] == "systemctl --system daemon-reload;deb-systemd-invoke restart "
                              "hello.target;");
  CHECK(v["version"] == "1.2.0+b2.gbbbbbbb");
  CHECK(v["kept"] == "changed by \"admin\"");
  CHECK(v["leftovers"] == "conf.d env ");

  CHECK(v["remove"] == "0");
  CHECK(v["remove_calls"] == "deb-systemd-invoke stop hello.target hello-web.service "
                             "hello-worker.service;systemctl --system daemon-reload;");
  CHECK(v["after_remove"] == "/etc/hello/env;/var/lib/hello/data;");

  CHECK(v["purge"] == "0");
  // deb-systemd-helper purge reloads the manager itself.
  CHECK(v["purge_calls"] == "systemctl daemon-reload;");
  CHECK(v["after_purge"].empty());
  CHECK(v["user_kept"] == "hello");

  CHECK(v["reinstall"] == "0");
  CHECK(v["reinstalled"] == "hello 5000 hello world 1");
}
