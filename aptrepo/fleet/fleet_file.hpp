#pragma once

// FLEET.toml, the inventory `fleet-upgrade --fleet` reads (DESIGN.md, "Fleet
// file"): the hosts, how commands reach them, the load balancers, the health
// check and the rollout policy.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship::fleet {

enum class TransportKind { ssh, exec };

struct HostSpec {
  std::string name;    // the server's name in the load balancers' backend
  std::string address; // where the host is reached (ssh target, health URL)
  int port = 0;        // the app's port, for the health URL
  std::string root;    // for exec templates such as ["chroot", "{root}"]
};

struct TransportSpec {
  TransportKind kind = TransportKind::ssh;
  // exec: the argv prefix, with {name} {address} {root} {port} substituted.
  std::vector<std::string> command;
  // ssh: the destination given to ssh, substituted like command.
  std::string target = "{address}";
};

struct HealthSpec {
  std::string url; // with {name} {address} {root} {port} substituted per host
  int expect_status = 200;
  std::string expect_body; // substring; empty means any body
  int rise = 3;            // consecutive passes needed
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds timeout{60'000};
};

// One entry of [rollout].batches: a host count or a percentage of the hosts.
struct BatchSize {
  enum class Unit { hosts, percent };
  int value = 1;
  Unit unit = Unit::hosts;
};

struct RolloutSpec {
  std::vector<BatchSize> batches{{1, BatchSize::Unit::hosts}, {100, BatchSize::Unit::percent}};
  int max_failed_hosts = 0;
  std::chrono::milliseconds drain_timeout{30'000};
  int min_healthy = 1; // servers that must stay UP in every backend
  bool shutdown_sessions_on_timeout = false;
  // false: each host is changed while it stays in service (no drain, no
  // maint), so the requests it holds when the app restarts fail. Only for apps
  // that restart without dropping a connection, and for showing that a load
  // test does see the failures draining prevents.
  bool drain = true;
};

struct LoadBalancerSpec {
  std::string kind = "haproxy";
  std::string socket; // a unix socket path or tcp://HOST:PORT
  std::string backend;
  // Set when the socket is on the load balancer's own machine: commands reach
  // it by running socat there over the fleet's transport. Only name, address
  // and root are used.
  std::optional<HostSpec> host;
};

struct FleetFile {
  std::string app;
  std::vector<std::string> units; // default {APP.target}
  TransportSpec transport;
  std::vector<std::string> restart_command; // empty: systemctl restart UNITS
  HealthSpec health;
  RolloutSpec rollout;
  std::vector<LoadBalancerSpec> load_balancers;
  std::vector<HostSpec> hosts;
};

// Parses a fleet file from TEXT; SOURCE names it in messages. Every problem
// is reported in one error, each with its key path ("hosts[2].port: must be
// 1..65535"); unknown keys are problems too.
[[nodiscard]] Expected<FleetFile> parse_fleet_file(std::string_view text, std::string_view source);

// Reads and parses the fleet file at PATH.
[[nodiscard]] Expected<FleetFile> load_fleet_file(const std::filesystem::path& path);

// Parses "500ms", "30s", "2m" (a non-negative integer and a unit).
[[nodiscard]] Expected<std::chrono::milliseconds> parse_duration(std::string_view text);

// A duration as the output shows it: "500ms", "30s", "1.5s", "2m".
[[nodiscard]] std::string format_duration(std::chrono::milliseconds duration);

// TEMPLATE with {name} {address} {root} {port} replaced by HOST's values;
// any other text, braces included, is kept as is.
[[nodiscard]] std::string substitute(std::string_view text, const HostSpec& host);

} // namespace aptship::fleet
