#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "builder/stage/units.hpp"
#include "builder/stage/wrapper.hpp"
#include "stage_testutil.hpp"
#include "testutil.hpp"

using aptship::stage::render_units;
using aptship::stage::UnitFile;
using aptship::test::sample_spec;
using aptship::test::ScopedTempDir;

namespace {

// The values of KEY in TEXT's lines "KEY=VALUE", in order.
std::vector<std::string> values(const std::string& text, const std::string& key) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string line = text.substr(start, end - start);
    if (line.rfind(key + "=", 0) == 0) {
      out.push_back(line.substr(key.size() + 1));
    }
    start = end + 1;
  }
  return out;
}

using Values = std::vector<std::string>;

} // namespace

TEST_CASE("units: a target wanted by multi-user.target, then one service per process") {
  const std::vector<UnitFile> units = render_units(sample_spec());
  REQUIRE(units.size() == 3);
  CHECK(units[0].name == "hello.target");
  CHECK(units[1].name == "hello-web.service");
  CHECK(units[2].name == "hello-worker.service");
  CHECK(values(units[0].text, "WantedBy") == Values{"multi-user.target"});
  CHECK(values(units[0].text, "Documentation") == Values{"man:hello(1)"});
}

TEST_CASE("units: services run the command as the app user, hardened, in the target") {
  const std::vector<UnitFile> units = render_units(sample_spec());
  for (size_t i = 1; i < units.size(); ++i) {
    const std::string& text = units[i].text;
    INFO(units[i].name << ":\n" << text);
    CHECK(values(text, "User") == Values{"hello"});
    CHECK(values(text, "Group") == Values{"hello"});
    CHECK(values(text, "WorkingDirectory") == Values{"/opt/hello"});
    CHECK(values(text, "EnvironmentFile") == Values{"/etc/hello/env", "-/etc/hello/conf.d/*.env"});
    CHECK(values(text, "Restart") == Values{"on-failure"});
    CHECK(values(text, "NoNewPrivileges") == Values{"yes"});
    CHECK(values(text, "PrivateTmp") == Values{"yes"});
    CHECK(values(text, "ProtectSystem") == Values{"strict"});
    CHECK(values(text, "ReadWritePaths") == Values{"-/var/lib/hello -/var/log/hello"});
    CHECK(values(text, "StandardOutput") == Values{"journal"});
    CHECK(values(text, "PartOf") == Values{"hello.target"});
    CHECK(values(text, "WantedBy") == Values{"hello.target"});
  }
  CHECK(values(units[1].text, "ExecStart") == Values{"/usr/bin/hello run web"});
  CHECK(values(units[2].text, "ExecStart") == Values{"/usr/bin/hello run worker"});
  CHECK_THAT(units[1].text, Catch::Contains("# PORT is the one set in /etc/hello/env.\n"));
  CHECK_THAT(units[2].text, Catch::Contains("# PORT is the one set in /etc/hello/env plus 1.\n"));
}

TEST_CASE("units: a custom user and an app without processes") {
  auto spec = sample_spec();
  spec.user = "svc";
  spec.processes = {{"clock", "x"}};
  std::vector<UnitFile> units = render_units(spec);
  REQUIRE(units.size() == 2);
  CHECK(values(units[1].text, "User") == Values{"svc"});
  CHECK_THAT(units[1].text, Catch::Contains("plus 1."));
  spec.processes.clear();
  units = render_units(spec);
  REQUIRE(units.size() == 1);
  CHECK(units[0].name == "hello.target");
}

TEST_CASE("units: systemd-analyze verify finds nothing wrong") {
  if (!aptship::test::have("systemd-analyze") ||
      !std::filesystem::exists("/usr/lib/systemd/system/multi-user.target")) {
    WARN("systemd-analyze or systemd's units are not installed: skipped");
    return;
  }
  ScopedTempDir tmp;
  const auto spec = sample_spec();
  std::vector<std::string> argv = {"systemd-analyze", "verify", "--man=no",
                                   "--root=" + tmp.path().string()};
  for (const UnitFile& unit : render_units(spec)) {
    aptship::test::write("lib/systemd/system/" + unit.name, unit.text);
    argv.push_back(tmp.path() / "lib/systemd/system" / unit.name);
  }
  aptship::test::write("usr/bin/hello", aptship::stage::render_wrapper(spec), 0755);
  // The units the app's refer to (multi-user.target, network.target...)
  // come from the system's own, copied into the root verify reads.
  std::filesystem::create_directories(tmp.path() / "usr/lib/systemd");
  std::filesystem::copy("/usr/lib/systemd/system", tmp.path() / "usr/lib/systemd/system",
                        std::filesystem::copy_options::recursive |
                            std::filesystem::copy_options::copy_symlinks);
  auto result = aptship::test::run_ok(argv);
  INFO(result.out << result.err);
  CHECK(result.ok());
  CHECK(result.err.empty());
}
