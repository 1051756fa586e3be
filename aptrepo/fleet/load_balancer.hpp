#pragma once

// The load balancer as the rollout sees it: the servers of a backend with
// their sessions and status, and the admin state of one server. HaproxyRuntime
// speaks HAProxy's runtime API, on this machine or on the load balancer's
// own through the transport; tests use a fake.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/fleet/fleet_file.hpp"
#include "aptrepo/fleet/transport.hpp"

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
  // For --dry-run: the local command line that sends COMMAND, or "" when it
  // goes over a socket this process opens.
  [[nodiscard]] virtual std::string route(std::string_view /*command*/) const { return {}; }
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

// How runtime API commands reach a stats socket: one command sent per
// connection, the whole answer (read to EOF) returned.
class RuntimeChannel {
public:
  virtual ~RuntimeChannel() = default;
  // The socket as messages name it.
  [[nodiscard]] virtual std::string describe() const = 0;
  // Sends COMMAND and returns the answer; failing to reach the socket is an error.
  [[nodiscard]] virtual Expected<std::string> exchange(std::string_view command) const = 0;
  // The local command line that sends COMMAND, or "" for a socket opened here.
  [[nodiscard]] virtual std::string route(std::string_view /*command*/) const { return {}; }
};

// A socket this machine connects to: a unix path or tcp://HOST:PORT.
class SocketChannel final : public RuntimeChannel {
public:
  SocketChannel(std::string socket, std::chrono::milliseconds timeout)
      : m_socket(std::move(socket)), m_timeout(timeout) {}
  [[nodiscard]] std::string describe() const override { return m_socket; }
  [[nodiscard]] Expected<std::string> exchange(std::string_view command) const override;

private:
  std::string m_socket;
  std::chrono::milliseconds m_timeout;
};

// A socket on HOST (a unix path or tcp://HOST:PORT as seen there), reached by
// running socat on HOST over TRANSPORT, which must outlive the channel.
class TransportChannel final : public RuntimeChannel {
public:
  TransportChannel(Transport& transport, HostSpec host, std::string socket,
                   std::chrono::milliseconds timeout)
      : m_transport(transport), m_host(std::move(host)), m_socket(std::move(socket)),
        m_timeout(timeout) {}
  [[nodiscard]] std::string describe() const override;
  [[nodiscard]] Expected<std::string> exchange(std::string_view command) const override;
  [[nodiscard]] std::string route(std::string_view command) const override;

private:
  Transport& m_transport;
  HostSpec m_host;
  std::string m_socket;
  std::chrono::milliseconds m_timeout;
};

// The argv run on the load balancer's host to send COMMAND to SOCKET: the
// command and the socket are positional parameters of a fixed script, never
// parsed by a shell.
[[nodiscard]] std::vector<std::string> remote_runtime_argv(const std::string& socket,
                                                           std::string_view command,
                                                           std::chrono::milliseconds timeout);

// HAProxy's runtime API on a stats socket at level admin, through CHANNEL.
class HaproxyRuntime final : public LoadBalancer {
public:
  // A socket on this machine: a unix path or tcp://HOST:PORT.
  explicit HaproxyRuntime(std::string socket,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : m_channel(std::make_unique<SocketChannel>(std::move(socket), timeout)) {}
  explicit HaproxyRuntime(std::unique_ptr<RuntimeChannel> channel)
      : m_channel(std::move(channel)) {}

  [[nodiscard]] std::string describe() const override { return "haproxy " + m_channel->describe(); }
  [[nodiscard]] Expected<std::vector<ServerStatus>> servers(const std::string& backend) override;
  [[nodiscard]] Expected<void> set_state(const std::string& backend, const std::string& server,
                                         ServerState state) override;
  [[nodiscard]] Expected<void> shutdown_sessions(const std::string& backend,
                                                 const std::string& server) override;
  [[nodiscard]] std::string route(std::string_view command) const override {
    return m_channel->route(command);
  }

  // Sends COMMAND and returns the whole answer.
  [[nodiscard]] Expected<std::string> command(std::string_view command) const;

private:
  // Sends an admin COMMAND whose success is an empty answer.
  [[nodiscard]] Expected<void> admin(const std::string& command) const;
  std::unique_ptr<RuntimeChannel> m_channel;
};

} // namespace aptship::fleet
