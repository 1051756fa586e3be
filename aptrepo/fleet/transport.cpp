#include "aptrepo/fleet/transport.hpp"

#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/core/text.hpp"

namespace aptship::fleet {

namespace {

std::string last_nonempty_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  size_t newline = text.rfind('\n');
  return printable(newline == std::string_view::npos ? text : text.substr(newline + 1));
}

Expected<RemoteResult> run_local(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout) {
  SubprocessOptions options;
  options.timeout = timeout;
  TRY_ASSIGN(SubprocessResult result, aptship::run(argv, options));
  RemoteResult out;
  out.exit_code = result.exit_code;
  out.timed_out = result.timed_out;
  out.out = std::move(result.out);
  out.err = std::move(result.err);
  return out;
}

} // namespace

std::string RemoteResult::last_line() const {
  std::string line = last_nonempty_line(err);
  return line.empty() ? last_nonempty_line(out) : line;
}

std::string remote_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& word : argv) {
    if (!out.empty()) {
      out += ' ';
    }
    // An empty word must stay a word; shell_quote gives ''.
    out += word.empty() ? shell_quote(word) : shell_word(word);
  }
  return out;
}

std::string display_command(const std::vector<std::string>& argv) {
  return remote_command(argv);
}

std::vector<std::string> SshTransport::local_argv(const HostSpec& host,
                                                  const std::vector<std::string>& argv) const {
  return {"ssh",
          "-o",
          "BatchMode=yes",
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          "ControlMaster=auto",
          "-o",
          "ControlPath=" + (m_control_dir / "%C").string(),
          "-o",
          "ControlPersist=60",
          "-o",
          "ConnectTimeout=10",
          substitute(m_target, host),
          "--",
          remote_command(argv)};
}

Expected<RemoteResult> SshTransport::run(const HostSpec& host, const std::vector<std::string>& argv,
                                         std::chrono::milliseconds timeout) {
  std::error_code ec;
  std::filesystem::create_directories(m_control_dir, ec);
  if (ec) {
    return make_error("creating {}: {}", m_control_dir.string(), ec.message());
  }
  return run_local(local_argv(host, argv), timeout);
}

std::vector<std::string> ExecTransport::local_argv(const HostSpec& host,
                                                   const std::vector<std::string>& argv) const {
  std::vector<std::string> out;
  out.reserve(m_prefix.size() + argv.size());
  for (const auto& word : m_prefix) {
    out.push_back(substitute(word, host));
  }
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

Expected<RemoteResult> ExecTransport::run(const HostSpec& host,
                                          const std::vector<std::string>& argv,
                                          std::chrono::milliseconds timeout) {
  return run_local(local_argv(host, argv), timeout);
}

} // namespace aptship::fleet
