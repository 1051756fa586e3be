#include "aptrepo/fleet/load_balancer.hpp"

#include <charconv>
#include <map>

#include "aptrepo/core/text.hpp"
#include "aptrepo/fleet/socket.hpp"

namespace aptship::fleet {

namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

} // namespace

std::string_view to_string(ServerState state) {
  switch (state) {
  case ServerState::ready:
    return "ready";
  case ServerState::drain:
    return "drain";
  case ServerState::maint:
    return "maint";
  }
  return "?";
}

bool ServerStatus::up() const {
  return status == "UP" || status.starts_with("UP ") || status == "no check";
}

std::string set_state_command(const std::string& backend, const std::string& server,
                              ServerState state) {
  return fmt::format("set server {}/{} state {}", backend, server, to_string(state));
}

std::string shutdown_sessions_command(const std::string& backend, const std::string& server) {
  return fmt::format("shutdown sessions server {}/{}", backend, server);
}

Expected<std::vector<ServerStatus>> parse_show_stat(std::string_view csv,
                                                    const std::string& backend) {
  auto lines = split(csv, '\n');
  if (lines.empty() || !lines[0].starts_with("# ")) {
    return make_error("show stat: expected a CSV header starting with '# ', got '{}'",
                      printable(lines.empty() ? std::string_view() : lines[0].substr(0, 80)));
  }
  std::map<std::string, size_t, std::less<>> column;
  auto names = split(lines[0].substr(2), ',');
  for (size_t i = 0; i < names.size(); ++i) {
    column.emplace(std::string(names[i]), i);
  }
  for (std::string_view needed : {"pxname", "svname", "scur", "status"}) {
    if (column.find(needed) == column.end()) {
      return make_error("show stat: the header has no '{}' column", needed);
    }
  }
  size_t px = column.find("pxname")->second;
  size_t sv = column.find("svname")->second;
  size_t scur = column.find("scur")->second;
  size_t status = column.find("status")->second;
  size_t needed = std::max({px, sv, scur, status});
  bool backend_seen = false;
  std::vector<ServerStatus> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty() || lines[i].starts_with("#")) {
      continue;
    }
    auto fields = split(lines[i], ',');
    if (fields.size() <= needed) {
      return make_error("show stat: line {} has {} fields, fewer than the header says", i + 1,
                        fields.size());
    }
    if (fields[px] != backend) {
      continue;
    }
    if (fields[sv] == "BACKEND") {
      backend_seen = true;
      continue;
    }
    if (fields[sv] == "FRONTEND") {
      continue;
    }
    ServerStatus server;
    server.name = std::string(fields[sv]);
    std::string_view sessions = fields[scur];
    auto [ptr, ec] =
        std::from_chars(sessions.data(), sessions.data() + sessions.size(), server.scur);
    if (ec != std::errc() || ptr != sessions.data() + sessions.size()) {
      return make_error("show stat: {}/{} has scur '{}', not a number", backend, server.name,
                        printable(sessions));
    }
    server.status = std::string(fields[status]);
    out.push_back(std::move(server));
  }
  if (!backend_seen) {
    return make_error("No such backend '{}' in show stat", backend);
  }
  return out;
}

Expected<std::string> SocketChannel::exchange(std::string_view command) const {
  std::string line = fmt::format("{}\n", command);
  auto connect = [&]() -> Expected<Fd> {
    if (m_socket.starts_with("tcp://")) {
      std::string_view rest = std::string_view(m_socket).substr(6);
      size_t colon = rest.rfind(':');
      if (colon == std::string_view::npos) {
        return make_error("expected tcp://HOST:PORT");
      }
      std::string host(rest.substr(0, colon));
      if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
      }
      return connect_tcp(host, std::string(rest.substr(colon + 1)), m_timeout);
    }
    return connect_unix(m_socket, m_timeout);
  };
  TRY_ASSIGN(Fd fd, connect());
  return fleet::exchange(fd, line, m_timeout);
}

std::vector<std::string> remote_runtime_argv(const std::string& socket, std::string_view command,
                                             std::chrono::milliseconds timeout) {
  std::string address =
      socket.starts_with("tcp://") ? "TCP:" + socket.substr(6) : "UNIX-CONNECT:" + socket;
  // socat -t: how long to wait for the answer once the command is sent; -T:
  // the whole exchange's idle limit. Both end a hung socket.
  std::string seconds = std::to_string(std::max<int64_t>(1, timeout.count() / 1000));
  return {"sh",
          "-c",
          "printf '%s\\n' \"$1\" | exec socat -t \"$3\" -T \"$3\" - \"$2\"",
          "sh",
          std::string(command),
          address,
          seconds};
}

std::string TransportChannel::describe() const {
  return fmt::format("{} on {}", m_socket, m_host.name);
}

std::string TransportChannel::route(std::string_view command) const {
  return display_command(
      m_transport.local_argv(m_host, remote_runtime_argv(m_socket, command, m_timeout)));
}

Expected<std::string> TransportChannel::exchange(std::string_view command) const {
  std::vector<std::string> argv = remote_runtime_argv(m_socket, command, m_timeout);
  // The transport's own start-up (ssh's connection) comes on top of the exchange.
  TRY_ASSIGN(RemoteResult result,
             m_transport.run(m_host, argv, m_timeout + std::chrono::seconds(10)));
  if (result.timed_out) {
    return make_error("socat on {} timed out", m_host.name);
  }
  if (result.exit_code == 127) {
    return make_error("socat is not installed on {} ({})", m_host.name, result.last_line());
  }
  if (result.exit_code != 0) {
    return make_error("socat on {} failed with exit code {}: {}", m_host.name, result.exit_code,
                      result.last_line());
  }
  return std::move(result.out);
}

Expected<std::string> HaproxyRuntime::command(std::string_view command) const {
  auto answer = m_channel->exchange(command);
  if (!answer) {
    return tl::unexpected<Error>(
        answer.error().context(fmt::format("{}: {}", describe(), command)));
  }
  return answer;
}

Expected<void> HaproxyRuntime::admin(const std::string& command) const {
  TRY_ASSIGN(std::string answer, this->command(command));
  std::string_view text = trim(answer);
  if (!text.empty()) {
    // Success is silent; anything else ("No such server.", "Permission
    // denied", "Unknown command") is a failure, never a silent no-op.
    return make_error("{}: '{}' answered: {}", describe(), command, printable(text));
  }
  return {};
}

Expected<std::vector<ServerStatus>> HaproxyRuntime::servers(const std::string& backend) {
  TRY_ASSIGN(std::string answer, command("show stat"));
  auto parsed = parse_show_stat(answer, backend);
  if (!parsed) {
    return tl::unexpected<Error>(parsed.error().context(describe()));
  }
  return parsed;
}

Expected<void> HaproxyRuntime::set_state(const std::string& backend, const std::string& server,
                                         ServerState state) {
  return admin(set_state_command(backend, server, state));
}

Expected<void> HaproxyRuntime::shutdown_sessions(const std::string& backend,
                                                 const std::string& server) {
  return admin(shutdown_sessions_command(backend, server));
}

} // namespace aptship::fleet
