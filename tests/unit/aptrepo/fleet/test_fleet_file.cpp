#include <catch2/catch.hpp>

#include "aptrepo/fleet/fleet_file.hpp"
#include "testutil.hpp"

using namespace aptship;
using namespace aptship::fleet;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_good = R"(
app = "hello"
units = ["hello.target", "hello-worker.service"]

[transport]
kind = "exec"
command = ["chroot", "{root}"]

[restart]
command = ["/usr/local/bin/supervise", "restart", "hello"]

[health]
url = "http://{address}:{port}/health"
expect_status = 204
expect_body = "ok"
rise = 2
interval = "250ms"
timeout = "2m"

[rollout]
batches = [1, "50%", "100%"]
max_failed_hosts = 1
drain_timeout = "45s"
min_healthy = 2
shutdown_sessions_on_timeout = true
drain = false

[[load_balancers]]
kind = "haproxy"
socket = "/run/haproxy/admin.sock"
backend = "app"

[[load_balancers]]
socket = "tcp://127.0.0.1:9999"
backend = "app2"

[[load_balancers]]
socket = "/run/haproxy/admin.sock"
backend = "app"
host = { name = "lb1", address = "10.0.0.5", root = "/srv/hosts/lb1" }

[[hosts]]
name = "web1"
address = "127.0.1.1"
port = 8000
root = "/srv/hosts/web1"

[[hosts]]
name = "web2"
address = "127.0.1.2"
port = 8000
root = "/srv/hosts/web2"
)";

} // namespace

TEST_CASE("fleet file: every field of a good file", "[fleet_file]") {
  auto fleet = parse_fleet_file(k_good, "FLEET.toml");
  REQUIRE(fleet);
  CHECK(fleet->app == "hello");
  CHECK(fleet->units == std::vector<std::string>{"hello.target", "hello-worker.service"});
  CHECK(fleet->transport.kind == TransportKind::exec);
  CHECK(fleet->transport.command == std::vector<std::string>{"chroot", "{root}"});
  CHECK(fleet->restart_command.size() == 3);
  CHECK(fleet->health.url == "http://{address}:{port}/health");
  CHECK(fleet->health.expect_status == 204);
  CHECK(fleet->health.expect_body == "ok");
  CHECK(fleet->health.rise == 2);
  CHECK(fleet->health.interval == 250ms);
  CHECK(fleet->health.timeout == 120s);
  REQUIRE(fleet->rollout.batches.size() == 3);
  CHECK(fleet->rollout.batches[0].value == 1);
  CHECK(fleet->rollout.batches[0].unit == BatchSize::Unit::hosts);
  CHECK(fleet->rollout.batches[1].value == 50);
  CHECK(fleet->rollout.batches[1].unit == BatchSize::Unit::percent);
  CHECK(fleet->rollout.max_failed_hosts == 1);
  CHECK(fleet->rollout.drain_timeout == 45s);
  CHECK(fleet->rollout.min_healthy == 2);
  CHECK(fleet->rollout.shutdown_sessions_on_timeout);
  CHECK_FALSE(fleet->rollout.drain);
  REQUIRE(fleet->load_balancers.size() == 3);
  CHECK_FALSE(fleet->load_balancers[0].host);
  CHECK(fleet->load_balancers[1].socket == "tcp://127.0.0.1:9999");
  CHECK(fleet->load_balancers[1].backend == "app2");
  REQUIRE(fleet->load_balancers[2].host);
  CHECK(fleet->load_balancers[2].host->name == "lb1");
  CHECK(fleet->load_balancers[2].host->address == "10.0.0.5");
  CHECK(fleet->load_balancers[2].host->root == "/srv/hosts/lb1");
  REQUIRE(fleet->hosts.size() == 2);
  CHECK(fleet->hosts[1].name == "web2");
  CHECK(fleet->hosts[1].address == "127.0.1.2");
  CHECK(fleet->hosts[1].port == 8000);
  CHECK(fleet->hosts[1].root == "/srv/hosts/web2");
  CHECK(substitute("chroot {root} {name}:{port} {other}", fleet->hosts[0]) ==
        "chroot /srv/hosts/web1 web1:8000 {other}");
}

TEST_CASE("fleet file: defaults of a minimal file", "[fleet_file]") {
  auto fleet = parse_fleet_file(R"(
app = "hello"
[health]
url = "http://{address}:{port}/"
[[hosts]]
name = "web1"
address = "10.0.0.1"
port = 80
)",
                                "min.toml");
  REQUIRE(fleet);
  CHECK(fleet->units == std::vector<std::string>{"hello.target"});
  CHECK(fleet->transport.kind == TransportKind::ssh);
  CHECK(fleet->transport.target == "{address}");
  CHECK(fleet->restart_command.empty());
  CHECK(fleet->health.expect_status == 200);
  CHECK(fleet->rollout.max_failed_hosts == 0);
  CHECK(fleet->rollout.min_healthy == 1);
  CHECK_FALSE(fleet->rollout.shutdown_sessions_on_timeout);
  CHECK(fleet->rollout.drain);
  CHECK(fleet->rollout.batches.size() == 2);
}

TEST_CASE("fleet file: every problem reported at once with its key path", "[fleet_file]") {
  auto fleet = parse_fleet_file(R"(
units = []
[transport]
kind = "telnet"
[health]
url = "https://x/"
rise = 0
interval = "5h"
[rollout]
batches = [0, "150%", "x"]
drain_timeout = 30
min_healthy = -1
shutdown_sessions_on_timeout = "yes"
drain = "no"
[[load_balancers]]
kind = "nginx"
[[hosts]]
name = "web1"
address = "a"
port = 8000
[[hosts]]
name = "web1"
port = 0
[[hosts]]
name = "web3"
address = "c"
port = 70000
)",
                                "bad.toml");
  REQUIRE_FALSE(fleet);
  const std::string& message = fleet.error().message();
  INFO(message);
  CHECK(message.starts_with("bad.toml: "));
  for (const char* expected : {
           "app: required",
           "units: must not be empty",
           "transport.kind: must be \"ssh\" or \"exec\"",
           "health.url: must start with http://",
           "health.rise: must be 1..1000",
           "health.interval: '5h' is not a duration",
           "rollout.batches[0]: must be 1..1000000",
           "rollout.batches[1]: expected a host count or a percentage",
           "rollout.batches[2]: expected a host count or a percentage",
           "rollout.drain_timeout: expected a string",
           "rollout.min_healthy: must be 0..1000000",
           "rollout.shutdown_sessions_on_timeout: expected true or false",
           "rollout.drain: expected true or false",
           "load_balancers[0].kind: must be \"haproxy\"",
           "load_balancers[0].socket: required",
           "load_balancers[0].backend: required",
           "hosts[1].name: \"web1\" is used by another host",
           "hosts[1].address: required",
           "hosts[1].port: must be 1..65535",
           "hosts[2].port: must be 1..65535",
       }) {
    CHECK(message.find(expected) != std::string::npos);
  }
}

TEST_CASE("fleet file: unknown keys are errors at any depth", "[fleet_file]") {
  auto fleet = parse_fleet_file(R"(
app = "hello"
colour = "blue"
[health]
url = "http://{address}/"
expect_stauts = 200
[rollout]
batch = [1]
[[hosts]]
name = "web1"
address = "a"
port = 1
rot = "/srv"
)",
                                "typo.toml");
  REQUIRE_FALSE(fleet);
  const std::string& message = fleet.error().message();
  INFO(message);
  CHECK(message.find("colour: unknown key") != std::string::npos);
  CHECK(message.find("health.expect_stauts: unknown key") != std::string::npos);
  CHECK(message.find("rollout.batch: unknown key") != std::string::npos);
  CHECK(message.find("hosts[0].rot: unknown key") != std::string::npos);
}

TEST_CASE("fleet file: exec transport needs what its template uses", "[fleet_file]") {
  auto fleet = parse_fleet_file(R"(
app = "hello"
[transport]
kind = "exec"
command = ["chroot", "{root}"]
[health]
url = "http://{address}/"
[[hosts]]
name = "web1"
address = "a"
port = 1
)",
                                "exec.toml");
  REQUIRE_FALSE(fleet);
  CHECK(fleet.error().message().find("hosts[0].root: required by transport.command's {root}") !=
        std::string::npos);
}

TEST_CASE("fleet file: a load balancer reached on its own host", "[fleet_file]") {
  constexpr const char* k_head = R"(
app = "hello"
[health]
url = "http://{address}/"
[[hosts]]
name = "web1"
address = "a"
port = 1
root = "/srv/web1"
)";
  SECTION("an address alone names the host too") {
    auto fleet = parse_fleet_file(std::string(k_head) + R"(
[[load_balancers]]
socket = "/run/haproxy/admin.sock"
backend = "app"
host = "lb.example"
)",
                                  "lb.toml");
    REQUIRE(fleet);
    REQUIRE(fleet->load_balancers[0].host);
    CHECK(fleet->load_balancers[0].host->name == "lb.example");
    CHECK(fleet->load_balancers[0].host->address == "lb.example");
  }
  SECTION("every problem of the host entry is reported") {
    auto fleet = parse_fleet_file(std::string(k_head) + R"(
[transport]
kind = "exec"
command = ["chroot", "{root}"]
[[load_balancers]]
socket = "/run/haproxy/admin,sock"
backend = "app"
host = { address = "lb", rot = "/x" }
[[load_balancers]]
socket = "/run/haproxy/admin.sock"
backend = "app"
host = 7
[[load_balancers]]
socket = "/run/haproxy/admin.sock"
backend = "app"
host = {}
)",
                                  "lb.toml");
    REQUIRE_FALSE(fleet);
    const std::string& message = fleet.error().message();
    INFO(message);
    CHECK(message.find("load_balancers[0].host.rot: unknown key") != std::string::npos);
    CHECK(message.find("load_balancers[0].host.root: required by transport.command's {root}") !=
          std::string::npos);
    CHECK(message.find("load_balancers[0].socket: a socket reached over the transport") !=
          std::string::npos);
    CHECK(message.find("load_balancers[1].host: expected \"ADDRESS\" or a table") !=
          std::string::npos);
    CHECK(message.find("load_balancers[2].host: needs a name or an address") != std::string::npos);
  }
}

TEST_CASE("fleet file: TOML syntax errors name the line", "[fleet_file]") {
  auto fleet = parse_fleet_file("app = \n", "syntax.toml");
  REQUIRE_FALSE(fleet);
  CHECK(fleet.error().message().starts_with("syntax.toml:1:"));
}

TEST_CASE("fleet file: load from a path", "[fleet_file]") {
  aptship::test::ScopedTempDir dir;
  aptship::test::write("FLEET.toml", k_good);
  auto fleet = load_fleet_file("FLEET.toml");
  REQUIRE(fleet);
  CHECK(fleet->hosts.size() == 2);
  CHECK_FALSE(load_fleet_file("missing.toml"));
}

TEST_CASE("durations", "[fleet_file]") {
  CHECK(parse_duration("500ms").value() == 500ms);
  CHECK(parse_duration("30s").value() == 30s);
  CHECK(parse_duration("2m").value() == 120s);
  CHECK(parse_duration("0s").value() == 0ms);
  CHECK_FALSE(parse_duration("5"));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration("1.5s"));
  CHECK(format_duration(500ms) == "500ms");
  CHECK(format_duration(30s) == "30s");
  CHECK(format_duration(120s) == "2m");
  CHECK(format_duration(1500ms) == "1.5s");
}
