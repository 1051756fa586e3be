#include <catch2/catch.hpp>

#include <filesystem>

#include "aptrepo/fleet/commands.hpp"
#include "aptrepo/fleet/lock.hpp"
#include "aptrepo/fleet/rollout.hpp"
#include "fakes.hpp"
#include "testutil.hpp"

using namespace aptship;
using namespace aptship::fleet;
using namespace std::chrono_literals;
using Events = std::vector<std::string>;

namespace {

// A fleet of fake hosts web1..webN on 1.0 (apt offers 1.0, 2.0, 3.0) behind
// one fake load balancer, every server UP.
struct World {
  fakes::EventLog log;
  FleetFile fleet;
  fakes::FakeTransport transport{log, "hello"};
  fakes::FakeLoadBalancer lb{log, "lb0", "app"};
  fakes::FakeHealth health{log, transport};
  fakes::FakeClock clock;
  std::vector<std::string> output;
  RolloutOptions options;

  explicit World(int host_count) {
    fleet.app = "hello";
    fleet.units = {"hello.target"};
    fleet.health.url = "http://{address}:{port}/";
    fleet.health.expect_body = "hello";
    fleet.health.rise = 1;
    fleet.health.interval = 100ms;
    fleet.health.timeout = 1s;
    fleet.rollout.batches = {{1, BatchSize::Unit::hosts}};
    fleet.rollout.drain_timeout = 1s;
    fleet.load_balancers = {{"haproxy", "/fake.sock", "app", std::nullopt}};
    for (int i = 1; i <= host_count; ++i) {
      HostSpec host{fmt::format("web{}", i), fmt::format("10.0.0.{}", i), 8000, ""};
      fleet.hosts.push_back(host);
      transport.hosts[host.name] = {"1.0", {"1.0", "2.0", "3.0"}, true, {}};
      lb.servers_by_name[host.name] = {};
      health.host_by_url[fmt::format("http://10.0.0.{}:8000/", i)] = host.name;
    }
    options.state_dir = "state";
    options.poll_interval = 100ms;
  }

  RolloutReport run() {
    RolloutDeps deps{transport, {&lb}, health, clock, [this](std::string_view line) {
                       output.emplace_back(line);
                     }};
    return run_rollout(fleet, options, deps);
  }

  bool printed(std::string_view text) const {
    for (const auto& line : output) {
      if (line.find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  std::string all_output() const {
    std::string out;
    for (const auto& line : output) {
      out += line + "\n";
    }
    return out;
  }
};

const std::string k_query = "dpkg-query -W '-f=${db:Status-Abbrev}${Version}' hello";

std::string install(const std::string& version, bool download = false) {
  return display_command(
      install_argv("hello", version, download ? DownloadOnly::yes : DownloadOnly::no));
}

// The commands of one host's upgrade, in order.
Events host_sequence(const std::string& host, int n, const std::string& version) {
  return {
      "lb0: set server app/" + host + " state drain",
      "lb0: set server app/" + host + " state maint",
      host + ": " + install(version),
      host + ": systemctl restart hello.target",
      host + ": systemctl is-active --quiet hello.target",
      host + ": " + k_query,
      fmt::format("health: GET http://10.0.0.{}:8000/", n),
      "lb0: set server app/" + host + " state ready",
  };
}

bool contains(const Events& events, const std::string& event) {
  return std::find(events.begin(), events.end(), event) != events.end();
}

} // namespace

TEST_CASE("rollout: preflight, then each host drained, changed, gated and readied in order",
          "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(2);
  world.lb.servers_by_name["web1"].scur = 3; // sessions that end while it drains
  world.options.version = "2.0";
  RolloutReport report = world.run();
  INFO(world.all_output());
  REQUIRE(report.outcome == Outcome::done);

  Events expected = {
      "web1: true",
      "web2: true",
      "web1: apt-get update -q",
      "web2: apt-get update -q",
      "web1: " + k_query,
      "web1: apt-cache madison hello",
      "web2: " + k_query,
      "web2: apt-cache madison hello",
      "web1: " + install("2.0", true),
      "web2: " + install("2.0", true),
  };
  for (const auto& e : host_sequence("web1", 1, "2.0")) {
    expected.push_back(e);
  }
  for (const auto& e : host_sequence("web2", 2, "2.0")) {
    expected.push_back(e);
  }
  CHECK(world.log.events() == expected);
  CHECK(world.transport.installed("web1") == "2.0");
  CHECK(world.transport.installed("web2") == "2.0");
  CHECK(world.lb.servers_by_name["web1"].status == "UP");
  REQUIRE(report.hosts.size() == 2);
  CHECK(report.hosts[0].from == "1.0");
  CHECK(report.hosts[0].to == "2.0");
  CHECK(report.hosts[0].result == "upgraded");
  CHECK(world.printed("web1: drained: 0 sessions after"));
  CHECK(world.printed("batch 2/2 done: 2 of 2 hosts processed, 0 failed"));
  std::string table = format_report_table(report);
  CHECK(table.starts_with("HOST"));
  CHECK(table.find("web2  1.0  2.0") != std::string::npos);

  auto journal = read_journal("state/hello.journal");
  REQUIRE(journal);
  CHECK(journal->ended);
  CHECK(journal->result == "done");
  CHECK(journal->hosts.at("web2").state == "done");
  CHECK(aptship::test::read("state/hello.lock").empty());
  CHECK(exit_code(report.outcome) == 0);
}

TEST_CASE("rollout: with drain = false hosts change in service, never drained nor in maint",
          "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(2);
  world.fleet.rollout.drain = false;
  world.options.version = "2.0";
  RolloutReport report = world.run();
  INFO(world.all_output());
  REQUIRE(report.outcome == Outcome::done);
  Events expected;
  for (const auto& [host, n] : {std::pair{"web1", 1}, {"web2", 2}}) {
    for (const auto& e : host_sequence(host, n, "2.0")) {
      if (e.find(" state ") == std::string::npos) {
        expected.push_back(e);
      }
    }
  }
  // After the preflight's ten commands (as in the first case), no load balancer command.
  Events events = world.log.events();
  REQUIRE(events.size() >= 10);
  CHECK(Events(events.begin() + 10, events.end()) == expected);
  CHECK(world.transport.installed("web1") == "2.0");
  CHECK(world.transport.installed("web2") == "2.0");
  CHECK(world.printed("web1: rollout.drain = false: changed in service"));
  CHECK(world.printed("web2: UP on every load balancer"));
  CHECK(report.hosts[1].result == "upgraded");
  auto journal = read_journal("state/hello.journal");
  REQUIRE(journal);
  CHECK(journal->hosts.at("web1").state == "done");
}

TEST_CASE("rollout: --dry-run with drain = false prints no load balancer command", "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(1);
  world.fleet.rollout.drain = false;
  world.fleet.rollout.min_healthy = 0;
  world.options.version = "2.0";
  world.options.dry_run = DryRun::yes;
  RolloutReport report = world.run();
  INFO(world.all_output());
  REQUIRE(report.outcome == Outcome::done);
  CHECK(world.printed("web1:   no drain and no maint (rollout.drain = false)"));
  CHECK_FALSE(world.printed("state drain"));
  CHECK_FALSE(world.printed("state maint"));
  CHECK_FALSE(world.printed("state ready"));
  CHECK(world.printed("web1:   wait until it is UP on every load balancer"));
  CHECK(world.transport.installed("web1") == "1.0");
}

TEST_CASE("rollout: the default version is the newest apt offers on the first host", "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(1);
  world.fleet.rollout.min_healthy = 0;
  RolloutReport report = world.run();
  INFO(world.all_output());
  REQUIRE(report.outcome == Outcome::done);
  CHECK(world.transport.installed("web1") == "3.0");
  CHECK(world.printed("target version 3.0"));
}

TEST_CASE("rollout: a drain that times out fails the host unchanged, back in service",
          "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(2);
  world.lb.servers_by_name["web1"].scur = 5;
  world.lb.servers_by_name["web1"].sessions_stuck = true;
  world.options.version = "2.0";
  RolloutReport report = world.run();
  INFO(world.all_output());
  CHECK(report.outcome == Outcome::failed);
  CHECK(exit_code(report.outcome) == 1);
  auto events = world.log.without({"web1: true", "web2: true", "web1: apt", "web2: apt",
                                   "web1: dpkg", "web2: dpkg", "web1: env", "web2: env"});
  CHECK(events ==
        Events{"lb0: set server app/web1 state drain", "lb0: set server app/web1 state ready"});
  CHECK_FALSE(contains(world.log.events(), "web1: " + install("2.0")));
  CHECK(world.transport.installed("web1") == "1.0");
  CHECK(world.lb.servers_by_name["web1"].status == "UP");
  CHECK(report.hosts[0].result == "failed to drain, unchanged");
  CHECK(report.hosts[1].result == "not reached");
  CHECK(world.printed("5 sessions still open after drain_timeout 1s"));
}

TEST_CASE("rollout: sessions left after the drain timeout are shut down when configured",
          "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(2);
  world.fleet.rollout.shutdown_sessions_on_timeout = true;
  world.lb.servers_by_name["web1"].scur = 5;
  world.lb.servers_by_name["web1"].sessions_stuck = true;
  world.options.version = "2.0";
  RolloutReport report = world.run();
  INFO(world.all_output());
  REQUIRE(report.outcome == Outcome::done);
  auto events = world.log.events();
  auto shutdown = std::find(events.begin(), events.end(), "lb0: shutdown sessions server app/web1");
  auto maint = std::find(events.begin(), events.end(), "lb0: set server app/web1 state maint");
  REQUIRE(shutdown != events.end());
  CHECK(shutdown < maint);
  CHECK(world.transport.installed("web1") == "2.0");
}

TEST_CASE("rollout: a host failing its health gate goes back to its previous version and the "
          "rollout stops",
          "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(3);
  world.fleet.rollout.min_healthy = 1;
  world.health.broken_versions = {"3.0"};
  world.options.version = "3.0";
  RolloutReport report = world.run();
  INFO(world.all_output());
  CHECK(report.outcome == Outcome::failed);

  auto events = world.log.without({"web1: true", "web2: true", "web3: true", "web1: apt",
                                   "web2: apt", "web3: apt", "web2: dpkg", "web3: dpkg",
                                   "web2: env", "web3: env", "health: "});
  // Preflight's dpkg-query and download of web1 come first.
  Events expected = {
      "web1: " + k_query,
      "web1: " + install("3.0", true),
      "lb0: set server app/web1 state drain",
      "lb0: set server app/web1 state maint",
      "web1: " + install("3.0"),
      "web1: systemctl restart hello.target",
      "web1: systemctl is-active --quiet hello.target",
      "web1: " + k_query,
      // The way back: the same care.
      "lb0: set server app/web1 state maint",
      "web1: " + install("1.0"),
      "web1: systemctl restart hello.target",
      "web1: systemctl is-active --quiet hello.target",
      "web1: " + k_query,
      "lb0: set server app/web1 state ready",
  };
  CHECK(events == expected);
  CHECK(world.transport.installed("web1") == "1.0");
  CHECK(world.transport.installed("web2") == "1.0");
  CHECK(world.transport.installed("web3") == "1.0");
  CHECK(world.lb.servers_by_name["web1"].status == "UP");
  CHECK(report.hosts[0].result == "failed, restored 1.0");
  CHECK(report.hosts[1].result == "not reached");
  CHECK(world.printed("web1: FAILED: health check http://10.0.0.1:8000/ did not pass"));
  auto journal = read_journal("state/hello.journal");
  REQUIRE(journal);
  CHECK(journal->result == "failed");
  CHECK(journal->hosts.at("web1").state == "restored");
}

TEST_CASE("rollout: a host that cannot go back either is left in maintenance, loudly",
          "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(2);
  world.health.broken_versions = {"3.0", "1.0"};
  world.options.version = "3.0";
  RolloutReport report = world.run();
  INFO(world.all_output());
  CHECK(report.outcome == Outcome::failed);
  CHECK(world.lb.servers_by_name["web1"].status == "MAINT");
  CHECK(report.hosts[0].result == "FAILED, LEFT IN MAINT");
  CHECK(world.printed("web1: LEFT IN MAINTENANCE"));
  auto journal = read_journal("state/hello.journal");
  REQUIRE(journal);
  CHECK(journal->hosts.at("web1").state == "left_maint");
}

TEST_CASE("rollout: --dry-run prints every command and changes nothing", "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(2);
  world.options.version = "2.0";
  world.options.dry_run = DryRun::yes;
  RolloutReport report = world.run();
  INFO(world.all_output());
  REQUIRE(report.outcome == Outcome::done);
  // Only read-only queries reached the hosts; nothing reached the load balancer.
  for (const auto& event : world.log.events()) {
    INFO(event);
    CHECK((event.ends_with(": true") || event.find("dpkg-query") != std::string::npos ||
           event.find("madison") != std::string::npos));
  }
  CHECK(world.transport.installed("web1") == "1.0");
  CHECK(world.lb.servers_by_name["web1"].status == "UP");
  CHECK_FALSE(std::filesystem::exists("state"));
  CHECK(world.printed("web1:   lb0: set server app/web1 state drain"));
  CHECK(world.printed("web1:   lb0: set server app/web1 state maint"));
  CHECK(world.printed("web1:   run: fake web1 " + install("2.0")));
  CHECK(world.printed("web2:   run: fake web2 systemctl restart hello.target"));
  CHECK(world.printed("web2:   health: GET http://10.0.0.2:8000/ expecting status 200"));
  CHECK(world.printed("web2:   lb0: set server app/web2 state ready"));
  CHECK(world.printed("dry run: not running on each host: apt-get update -q"));
  CHECK(world.printed("dry run: nothing was changed"));
  CHECK(report.hosts[0].result == "planned");
}

TEST_CASE("rollout: --resume reports the hosts left out of service and skips the done ones",
          "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(3);
  aptship::test::write(
      "state/hello.journal",
      R"({"run":"r1","event":"start","app":"hello","mode":"upgrade","version":"2.0","resume":false,)"
      R"("hosts":{"web1":{"from":"1.0","to":"2.0"},"web2":{"from":"1.0","to":"2.0"},)"
      R"("web3":{"from":"1.0","to":"2.0"}}})"
      "\n"
      R"({"run":"r1","event":"step","host":"web1","state":"drain"})"
      "\n"
      R"({"run":"r1","event":"step","host":"web1","state":"done"})"
      "\n"
      R"({"run":"r1","event":"step","host":"web2","state":"drain"})"
      "\n"
      R"({"run":"r1","event":"step","host":"web2","state":"maint"})"
      "\n");
  world.transport.hosts["web1"].installed = "2.0";
  world.lb.servers_by_name["web2"].status = "MAINT";
  world.options.resume = ResumeRun::yes;
  RolloutReport report = world.run();
  INFO(world.all_output());
  REQUIRE(report.outcome == Outcome::done);
  CHECK(world.printed("resuming rollout r1 of hello; hosts it left out of service: web2 (maint)"));
  auto events = world.log.events();
  CHECK_FALSE(contains(events, "lb0: set server app/web1 state drain"));
  CHECK(contains(events, "lb0: set server app/web2 state drain"));
  CHECK(contains(events, "lb0: set server app/web3 state drain"));
  CHECK(world.transport.installed("web2") == "2.0");
  CHECK(world.transport.installed("web3") == "2.0");
  CHECK(report.hosts[0].result == "skipped");
  CHECK(report.hosts[1].result == "upgraded");
  auto journal = read_journal("state/hello.journal");
  REQUIRE(journal);
  CHECK(journal->ended);
  CHECK(journal->hosts.at("web1").from == "1.0");

  // Nothing left to resume.
  World again(3);
  again.options.resume = ResumeRun::yes;
  CHECK(again.run().outcome == Outcome::usage);
}

TEST_CASE("rollout: --resume takes the host left in maint first, whatever min_healthy leaves",
          "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(3);
  // Three servers, at least two UP: the killed run took web3 out, so two
  // are UP; finishing web3 costs nothing and must come before the others.
  world.fleet.rollout.min_healthy = 2;
  world.fleet.rollout.batches = {{1, BatchSize::Unit::hosts}, {100, BatchSize::Unit::percent}};
  aptship::test::write(
      "state/hello.journal",
      R"({"run":"r1","event":"start","app":"hello","mode":"upgrade","version":"2.0","resume":false,)"
      R"("hosts":{"web1":{"from":"1.0","to":"2.0"},"web2":{"from":"1.0","to":"2.0"},)"
      R"("web3":{"from":"1.0","to":"2.0"}}})"
      "\n"
      R"({"run":"r1","event":"step","host":"web3","state":"drain"})"
      "\n"
      R"({"run":"r1","event":"step","host":"web3","state":"maint"})"
      "\n");
  world.transport.hosts["web3"].installed = "2.0";
  world.lb.servers_by_name["web3"].status = "MAINT";
  world.options.resume = ResumeRun::yes;
  RolloutReport report = world.run();
  INFO(world.all_output());
  REQUIRE(report.outcome == Outcome::done);
  CHECK(world.printed("hosts it left out of service: web3 (maint)"));
  CHECK(world.printed("batch 1/2: web3"));
  CHECK(world.printed("at most 1 at a time (min_healthy 2)"));
  Events drains;
  for (const auto& event : world.log.events()) {
    if (event.ends_with(" state drain")) {
      drains.push_back(event);
    }
  }
  CHECK(drains == Events{"lb0: set server app/web3 state drain",
                         "lb0: set server app/web1 state drain",
                         "lb0: set server app/web2 state drain"});
  for (const char* host : {"web1", "web2", "web3"}) {
    CHECK(world.transport.installed(host) == "2.0");
    CHECK(world.lb.servers_by_name[host].status == "UP");
  }
}

TEST_CASE("rollout: a server down before the rollout takes no capacity", "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(3);
  world.fleet.rollout.min_healthy = 2;
  world.lb.servers_by_name["web2"].status = "DOWN";
  world.options.version = "2.0";
  RolloutReport report = world.run();
  INFO(world.all_output());
  REQUIRE(report.outcome == Outcome::done);
  CHECK(world.printed("batch 1/3: web2"));
  for (const char* host : {"web1", "web2", "web3"}) {
    CHECK(world.transport.installed(host) == "2.0");
  }
}

TEST_CASE("rollout: --rollback puts every host back on its journaled version", "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(2);
  world.options.version = "2.0";
  REQUIRE(world.run().outcome == Outcome::done);
  REQUIRE(world.transport.installed("web2") == "2.0");

  world.options.version.clear();
  world.options.mode = RolloutMode::rollback;
  RolloutReport report = world.run();
  INFO(world.all_output());
  REQUIRE(report.outcome == Outcome::done);
  CHECK(world.transport.installed("web1") == "1.0");
  CHECK(world.transport.installed("web2") == "1.0");
  CHECK(report.hosts[0].from == "2.0");
  CHECK(report.hosts[0].to == "1.0");
  CHECK(report.hosts[0].result == "rolled back");
}

TEST_CASE("rollout: another rollout holding the lock is refused before anything runs",
          "[rollout]") {
  aptship::test::ScopedTempDir dir;
  auto held = RolloutLock::try_acquire("state/hello.lock");
  REQUIRE(held);
  REQUIRE(held->lock);
  World world(2);
  world.options.version = "2.0";
  RolloutReport report = world.run();
  CHECK(report.outcome == Outcome::locked);
  CHECK(exit_code(report.outcome) == 4);
  CHECK(report.message.find(fmt::format("pid {}", ::getpid())) != std::string::npos);
  CHECK(world.log.events().empty());
}

TEST_CASE("rollout: preflight problems stop everything with nothing changed", "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(3);
  world.lb.servers_by_name.erase("web2");
  world.transport.hosts["web3"].reachable = false;
  world.options.version = "2.0";
  RolloutReport report = world.run();
  INFO(world.all_output());
  CHECK(report.outcome == Outcome::preflight_failed);
  CHECK(exit_code(report.outcome) == 3);
  CHECK(report.message.find("lb0: backend app has no server web2") != std::string::npos);
  CHECK(report.message.find("web3: not reachable") != std::string::npos);
  for (const auto& event : world.log.events()) {
    CHECK(event.find("set server") == std::string::npos);
    CHECK(event.find("apt-get") == std::string::npos);
  }

  World missing(2);
  missing.options.version = "9.0";
  auto none = missing.run();
  CHECK(none.outcome == Outcome::preflight_failed);
  CHECK(none.message.find("web1: apt offers no hello=9.0 (offers: 1.0, 2.0, 3.0)") !=
        std::string::npos);

  World full(2);
  full.fleet.rollout.min_healthy = 2;
  full.options.version = "2.0";
  auto no_room = full.run();
  CHECK(no_room.outcome == Outcome::preflight_failed);
  CHECK(no_room.message.find("min_healthy is 2") != std::string::npos);
}

TEST_CASE("rollout: hosts of a batch go in parallel as far as min_healthy allows", "[rollout]") {
  aptship::test::ScopedTempDir dir;
  World world(4);
  world.fleet.rollout.batches = {{100, BatchSize::Unit::percent}};
  world.fleet.rollout.min_healthy = 2;
  world.options.version = "2.0";
  RolloutReport report = world.run();
  INFO(world.all_output());
  REQUIRE(report.outcome == Outcome::done);
  CHECK(world.printed("at most 2 at a time"));
  for (int i = 1; i <= 4; ++i) {
    CHECK(world.transport.installed(fmt::format("web{}", i)) == "2.0");
  }
}

TEST_CASE("commands: madison and dpkg-query answers", "[rollout]") {
  auto versions = parse_madison(" hello |   2.0-1 | http://deb/ stable/main amd64 Packages\n"
                                " hello | 1:0.9-1 | http://deb/ stable/main amd64 Packages\n"
                                " hello |  10.0-1 | http://deb/ stable/main amd64 Packages\n");
  CHECK(versions == std::vector<std::string>{"2.0-1", "1:0.9-1", "10.0-1"});
  CHECK(newest_version(versions).value() == "1:0.9-1");
  CHECK(newest_version({"2.0-1", "10.0-1"}).value() == "10.0-1");
  CHECK_FALSE(newest_version({}));
  CHECK(parse_installed("ii 2.0-1", 0).installed);
  CHECK(parse_installed("ii 2.0-1", 0).version == "2.0-1");
  CHECK_FALSE(parse_installed("iF 2.0-1", 0).installed);
  CHECK_FALSE(parse_installed("", 1).installed);
}
