#pragma once

// Runs programs with posix_spawn from an argv vector (never through a
// shell), in their own process group, stdin from /dev/null unless fed.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship {

// Where a child's stdout and stderr go.
enum class Output {
  capture, // collected into Result::out / Result::err
  inherit, // the parent's own stdout/stderr
  stream,  // each chunk passed to Options::on_output as it arrives
};

struct SubprocessOptions {
  // Working directory; empty keeps the parent's.
  std::filesystem::path cwd;
  // Environment; empty means the parent's environment.
  std::optional<std::map<std::string, std::string>> env;
  // Bytes written to the child's stdin (which is /dev/null when absent).
  std::optional<std::string> input;
  Output output = Output::capture;
  // With Output::stream: called with (is_stderr, chunk) in arrival order.
  std::function<void(bool, std::string_view)> on_output;
  // Zero means no limit; on expiry the whole process group gets SIGKILL.
  std::chrono::milliseconds timeout{0};
};

struct SubprocessResult {
  int exit_code = -1; // exit status, or 128+signal when killed by a signal
  bool timed_out = false;
  std::string out; // captured stdout (Output::capture)
  std::string err; // captured stderr (Output::capture)

  // True when the child exited with status 0 and did not time out.
  [[nodiscard]] bool ok() const { return exit_code == 0 && !timed_out; }
};

// Runs ARGV (argv[0] looked up in PATH) and waits for it. The error path is
// for failures to start it; a non-zero exit is a result, not an error.
[[nodiscard]] Expected<SubprocessResult> run(const std::vector<std::string>& argv,
                                             const SubprocessOptions& options = {});

// Runs ARGV and returns its stdout; a non-zero exit becomes an error naming
// the program and quoting the last line of its stderr.
[[nodiscard]] Expected<std::string> run_checked(const std::vector<std::string>& argv,
                                                const SubprocessOptions& options = {});

} // namespace aptship
