#pragma once

// The load balancer as the rollout sees it: the servers of a backend with
// their sessions and status, and the admin state of one server. HaproxyRuntime
// speaks HAProxy's runtime API; tests use a fake.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship::fleet {

// The admin states the rollout sets (`set server B/S state ...`).
enum class ServerState { ready, drain, maint };

// The word HAProxy's runtime API uses for STATE.
[[nodiscard]] std::string_view to_string(ServerState state);

struct ServerStatus {
  std::string name;
  int scur = 0; // current sessions
  std::string
      status; // as `show stat` says: "UP", "DOWN", "MAINT", "DRAIN", "no check", "UP 1/3"...

  // True when the server takes new traffic: UP (even while going down) or
  // without health checks, and neither drained nor in maintenance.
  [[nodiscard]] bool up() const;
};

class LoadBalancer {
public:
  virtual ~LoadBalancer() = default;
  // How the output names this load balancer ("haproxy /run/haproxy/admin.sock").
  [[nodiscard]] virtual std::string describe() const = 0;
  // The servers of BACKEND; an unknown backend is an error.
  [[nodiscard]] virtual Expected<std::vector<ServerStatus>> servers(const std::string& backend) = 0;
  // Sets the admin state of BACKEND/SERVER; an unknown backend or server is an error.
  [[nodiscard]] virtual Expected<void> set_state(const std::string& backend,
                                                 const std::string& server, ServerState state) = 0;
  // Closes every session of BACKEND/SERVER.
  [[nodiscard]] virtual Expected<void> shutdown_sessions(const std::string& backend,
                                                         const std::string& server) = 0;
};

// The runtime API command that sets STATE ("set server B/S state drain").
[[nodiscard]] std::string set_state_command(const std::string& backend, const std::string& server,
                                            ServerState state);
// The runtime API command that closes the sessions of BACKEND/SERVER.
[[nodiscard]] std::string shutdown_sessions_command(const std::string& backend,
                                                    const std::string& server);

// The servers of BACKEND in the CSV of `show stat` (columns found by the
// header's names); an error when BACKEND has no row or the header lacks a column.
[[nodiscard]] Expected<std::vector<ServerStatus>> parse_show_stat(std::string_view csv,
                                                                  const std::string& backend);

// HAProxy's runtime API on a stats socket at level admin: a unix path or
// tcp://HOST:PORT, one command per connection, the answer read to EOF.
class HaproxyRuntime final : public LoadBalancer {
public:
  explicit HaproxyRuntime(std::string socket,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : m_socket(std::move(socket)), m_timeout(timeout) {}

  [[nodiscard]] std::string describe() const override { return "haproxy " + m_socket; }
  [[nodiscard]] Expected<std::vector<ServerStatus>> servers(const std::string& backend) override;
  [[nodiscard]] Expected<void> set_state(const std::string& backend, const std::string& server,
                                         ServerState state) override;
  [[nodiscard]] Expected<void> shutdown_sessions(const std::string& backend,
                                                 const std::string& server) override;

  // Sends COMMAND and returns the whole answer.
  [[nodiscard]] Expected<std::string> command(std::string_view command) const;

private:
  // Sends an admin COMMAND whose success is an empty answer.
  [[nodiscard]] Expected<void> admin(const std::string& command) const;
  std::string m_socket;
  std::chrono::milliseconds m_timeout;
};

} // namespace aptship::fleet
