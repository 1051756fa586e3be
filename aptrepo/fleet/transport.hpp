#pragma once

// How commands reach a host: an argv run there, with a timeout, returning
// its exit code and output. Commands are argv vectors end to end; the only
// place they become a shell string is remote_command(), for ssh.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/fleet/fleet_file.hpp"

namespace aptship::fleet {

struct RemoteResult {
  int exit_code = -1; // the command's exit status; 255 from ssh itself
  bool timed_out = false;
  std::string out;
  std::string err;

  [[nodiscard]] bool ok() const { return exit_code == 0 && !timed_out; }
  // The last non-empty line of stderr (else stdout), for messages.
  [[nodiscard]] std::string last_line() const;
};

class Transport {
public:
  virtual ~Transport() = default;
  // Runs ARGV on HOST. The error path is for failing to start the local
  // program; a remote failure is a result.
  [[nodiscard]] virtual Expected<RemoteResult> run(const HostSpec& host,
                                                   const std::vector<std::string>& argv,
                                                   std::chrono::milliseconds timeout) = 0;
  // The local argv that run() would execute, for --dry-run and messages.
  [[nodiscard]] virtual std::vector<std::string>
  local_argv(const HostSpec& host, const std::vector<std::string>& argv) const = 0;
};

// ARGV as one command line for a POSIX shell on the remote side (what ssh
// passes to the remote shell): each word quoted so that it arrives intact.
[[nodiscard]] std::string remote_command(const std::vector<std::string>& argv);

// ARGV for display: words joined by spaces, quoted where the shell would need it.
[[nodiscard]] std::string display_command(const std::vector<std::string>& argv);

// The system OpenSSH client in batch mode, strict host keys, a 10 s connect timeout, one master
// connection per host kept for 60 s under CONTROL_DIR.
class SshTransport final : public Transport {
public:
  SshTransport(std::string target_template, std::filesystem::path control_dir)
      : m_target(std::move(target_template)), m_control_dir(std::move(control_dir)) {}
  [[nodiscard]] Expected<RemoteResult> run(const HostSpec& host,
                                           const std::vector<std::string>& argv,
                                           std::chrono::milliseconds timeout) override;
  [[nodiscard]] std::vector<std::string>
  local_argv(const HostSpec& host, const std::vector<std::string>& argv) const override;

private:
  std::string m_target;
  std::filesystem::path m_control_dir;
};

// A local argv prefix per host ("chroot {root}", "ip netns exec {name}",
// "docker exec {name}") followed by the command's own argv.
class ExecTransport final : public Transport {
public:
  explicit ExecTransport(std::vector<std::string> prefix_template)
      : m_prefix(std::move(prefix_template)) {}
  [[nodiscard]] Expected<RemoteResult> run(const HostSpec& host,
                                           const std::vector<std::string>& argv,
                                           std::chrono::milliseconds timeout) override;
  [[nodiscard]] std::vector<std::string>
  local_argv(const HostSpec& host, const std::vector<std::string>& argv) const override;

private:
  std::vector<std::string> m_prefix;
};

} // namespace aptship::fleet
