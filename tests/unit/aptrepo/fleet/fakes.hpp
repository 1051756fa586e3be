#pragma once

// Fakes of the rollout's I/O boundaries: hosts reached through a transport,
// load balancers, health checks and time. Every command they receive goes
// into one shared log, in order, so that a test can assert the exact
// sequence of load balancer and remote commands.

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "aptrepo/fleet/clock.hpp"
#include "aptrepo/fleet/health.hpp"
#include "aptrepo/fleet/load_balancer.hpp"
#include "aptrepo/fleet/transport.hpp"

namespace aptship::fleet::fakes {

class EventLog {
public:
  void add(std::string event) {
    std::lock_guard lock(m_mutex);
    m_events.push_back(std::move(event));
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(m_mutex);
    return m_events;
  }
  // The events that do not start with any of PREFIXES.
  std::vector<std::string> without(const std::vector<std::string>& prefixes) const {
    std::vector<std::string> out;
    for (const auto& event : events()) {
      bool drop = false;
      for (const auto& prefix : prefixes) {
        drop = drop || event.starts_with(prefix);
      }
      if (!drop) {
        out.push_back(event);
      }
    }
    return out;
  }

private:
  mutable std::mutex m_mutex;
  std::vector<std::string> m_events;
};

struct FakeHost {
  std::string installed; // "" when not installed
  std::vector<std::string> offered;
  bool reachable = true;
  std::set<std::string> install_fails; // versions whose install fails
};

// Hosts whose dpkg database is a version string; apt offers FakeHost::offered.
class FakeTransport final : public Transport {
public:
  FakeTransport(EventLog& log, std::string app) : m_log(log), m_app(std::move(app)) {}

  std::map<std::string, FakeHost> hosts;
  std::mutex mutex;

  std::string installed(const std::string& host) {
    std::lock_guard lock(mutex);
    return hosts[host].installed;
  }

  Expected<RemoteResult> run(const HostSpec& host, const std::vector<std::string>& argv,
                             std::chrono::milliseconds) override {
    m_log.add(host.name + ": " + display_command(argv));
    std::lock_guard lock(mutex);
    FakeHost& h = hosts[host.name];
    RemoteResult r;
    r.exit_code = 0;
    if (!h.reachable) {
      r.exit_code = 255;
      r.err = "ssh: connect to host: Connection refused\n";
      return r;
    }
    const std::string& program = argv.front();
    if (program == "apt-cache") {
      for (const auto& v : h.offered) {
        r.out += fmt::format(" {} | {} | http://repo stable/main amd64 Packages\n", m_app, v);
      }
    } else if (program == "dpkg-query") {
      if (h.installed.empty()) {
        r.exit_code = 1;
        r.err = "dpkg-query: no packages found matching " + m_app + "\n";
      } else {
        r.out = "ii " + h.installed;
      }
    } else if (program == "env") {
      std::string wanted = argv.back().substr(m_app.size() + 1);
      bool download = std::find(argv.begin(), argv.end(), "--download-only") != argv.end();
      bool offered = std::find(h.offered.begin(), h.offered.end(), wanted) != h.offered.end();
      if (!offered || (!download && h.install_fails.count(wanted) > 0)) {
        r.exit_code = 100;
        r.err = "E: Version '" + wanted + "' for '" + m_app + "' was not found\n";
      } else if (!download) {
        h.installed = wanted;
      }
    }
    return r;
  }
  std::vector<std::string> local_argv(const HostSpec& host,
                                      const std::vector<std::string>& argv) const override {
    std::vector<std::string> out = {"fake", host.name};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }

private:
  EventLog& m_log;
  std::string m_app;
};

struct FakeServer {
  int scur = 0;
  std::string status = "UP";
  bool sessions_stuck = false; // scur never drops by itself
};

// A backend whose sessions end one per poll once a server is drained.
class FakeLoadBalancer final : public LoadBalancer {
public:
  FakeLoadBalancer(EventLog& log, std::string name, std::string backend)
      : m_log(log), m_name(std::move(name)), m_backend(std::move(backend)) {}

  std::map<std::string, FakeServer> servers_by_name;
  std::mutex mutex;

  std::string describe() const override { return m_name; }

  Expected<std::vector<ServerStatus>> servers(const std::string& backend) override {
    std::lock_guard lock(mutex);
    if (backend != m_backend) {
      return make_error("No such backend '{}'", backend);
    }
    std::vector<ServerStatus> out;
    for (auto& [name, server] : servers_by_name) {
      out.push_back({name, server.scur, server.status});
      if (server.status != "UP" && server.scur > 0 && !server.sessions_stuck) {
        --server.scur;
      }
    }
    return out;
  }
  Expected<void> set_state(const std::string& backend, const std::string& server,
                           ServerState state) override {
    m_log.add(m_name + ": " + set_state_command(backend, server, state));
    std::lock_guard lock(mutex);
    auto it = servers_by_name.find(server);
    if (backend != m_backend || it == servers_by_name.end()) {
      return make_error("No such server.");
    }
    it->second.status = state == ServerState::ready   ? "UP"
                        : state == ServerState::drain ? "DRAIN"
                                                      : "MAINT";
    return {};
  }
  Expected<void> shutdown_sessions(const std::string& backend, const std::string& server) override {
    m_log.add(m_name + ": " + shutdown_sessions_command(backend, server));
    std::lock_guard lock(mutex);
    servers_by_name[server].scur = 0;
    return {};
  }

private:
  EventLog& m_log;
  std::string m_name;
  std::string m_backend;
};

// Answers 200 "hello VERSION" from the version the host runs, or 500 for
// the versions listed as broken.
class FakeHealth final : public HealthChecker {
public:
  FakeHealth(EventLog& log, FakeTransport& transport) : m_log(log), m_transport(transport) {}
  std::map<std::string, std::string> host_by_url;
  std::set<std::string> broken_versions;

  Expected<HttpAnswer> get(const std::string& url, std::chrono::milliseconds) override {
    m_log.add("health: GET " + url);
    std::string version = m_transport.installed(host_by_url.at(url));
    if (broken_versions.count(version) > 0) {
      return HttpAnswer{500, "broken"};
    }
    return HttpAnswer{200, "hello " + version};
  }

private:
  EventLog& m_log;
  FakeTransport& m_transport;
};

// Time that only moves when someone sleeps.
class FakeClock final : public Clock {
public:
  std::chrono::steady_clock::time_point now() override {
    std::lock_guard lock(m_mutex);
    return m_now;
  }
  void sleep_for(std::chrono::milliseconds duration) override {
    std::lock_guard lock(m_mutex);
    m_now += duration;
  }

private:
  std::mutex m_mutex;
  std::chrono::steady_clock::time_point m_now{};
};

} // namespace aptship::fleet::fakes
