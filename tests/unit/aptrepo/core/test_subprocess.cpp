#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "testutil.hpp"

using aptship::Output;
using aptship::SubprocessOptions;
namespace fs = std::filesystem;

namespace {

// True once PID no longer runs: gone, or a zombie waiting for its new parent
// to reap it. Killing is asynchronous, so the check waits a bounded while.
bool process_gone(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    std::string stat;
    if (auto content = aptship::read_file(fmt::format("/proc/{}/stat", pid)); content) {
      stat = *content;
    }
    auto close_paren = stat.rfind(')');
    if (stat.empty() || (close_paren != std::string::npos && close_paren + 2 < stat.size() &&
                         stat[close_paren + 2] == 'Z')) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Processes whose command line has ARGUMENT as a whole argument.
std::vector<pid_t> processes_with_argument(const std::string& argument) {
  std::vector<pid_t> pids;
  std::string needle = std::string(1, '\0') + argument + std::string(1, '\0');
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    auto cmdline = aptship::read_file(entry.path() / "cmdline");
    if (cmdline && cmdline->find(needle) != std::string::npos) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

} // namespace

TEST_CASE("run captures stdout and stderr separately", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  auto r = aptship::run({"sh", "-c", "echo out; echo err >&2; printf 'no newline'"});
  REQUIRE(r);
  CHECK(r->exit_code == 0);
  CHECK(r->ok());
  CHECK_FALSE(r->timed_out);
  CHECK(r->out == "out\nno newline");
  CHECK(r->err == "err\n");
}

TEST_CASE("run reports exit codes as results", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  auto f = aptship::run({"false"});
  REQUIRE(f);
  CHECK(f->exit_code == 1);
  CHECK_FALSE(f->ok());

  auto r = aptship::run({"sh", "-c", "exit 42"});
  REQUIRE(r);
  CHECK(r->exit_code == 42);
}

TEST_CASE("death by a signal is 128 plus the signal number", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  auto term = aptship::run({"sh", "-c", "kill -TERM $$"});
  REQUIRE(term);
  CHECK(term->exit_code == 128 + SIGTERM);
  CHECK_FALSE(term->timed_out);

  auto kill = aptship::run({"sh", "-c", "kill -KILL $$"});
  REQUIRE(kill);
  CHECK(kill->exit_code == 128 + SIGKILL);
}

TEST_CASE("arguments are passed verbatim, never through a shell", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  auto r = aptship::run({"printf", "%s|", "a b", "$HOME", "'q'", "*", ""});
  REQUIRE(r);
  CHECK(r->out == "a b|$HOME|'q'|*||");
}

TEST_CASE("stdin is /dev/null unless input is given", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  auto none = aptship::run({"cat"});
  REQUIRE(none);
  CHECK(none->out.empty());
  CHECK(none->exit_code == 0);

  SubprocessOptions options;
  options.input = "line one\nline two\n";
  auto fed = aptship::run({"cat"}, options);
  REQUIRE(fed);
  CHECK(fed->out == "line one\nline two\n");

  options.input = "";
  auto empty = aptship::run({"cat"}, options);
  REQUIRE(empty);
  CHECK(empty->out.empty());
  CHECK(empty->exit_code == 0);
}

TEST_CASE("large input and output through cat do not deadlock", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  std::string input;
  input.reserve(3 * 1024 * 1024);
  for (int i = 0; input.size() < 3 * 1024 * 1024; ++i) {
    input += fmt::format("{:08}\n", i);
  }
  SubprocessOptions options;
  options.input = input;
  auto r = aptship::run({"cat"}, options);
  REQUIRE(r);
  CHECK(r->exit_code == 0);
  CHECK(r->out.size() == input.size());
  CHECK(r->out == input);

  // The same volume on stderr at the same time.
  auto both = aptship::run({"sh", "-c", "tee /dev/stderr"}, options);
  REQUIRE(both);
  CHECK(both->exit_code == 0);
  CHECK(both->out == input);
  CHECK(both->err == input);
}

TEST_CASE("a child that ignores its input does not kill the parent", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  SubprocessOptions options;
  options.input = std::string(4 * 1024 * 1024, 'x');
  auto r = aptship::run({"sh", "-c", "exec 0<&-; echo done"}, options);
  REQUIRE(r);
  CHECK(r->exit_code == 0);
  CHECK(r->out == "done\n");

  // SIGPIPE must not stay pending for this thread afterwards.
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  CHECK(sigismember(&pending, SIGPIPE) == 0);
}

TEST_CASE("env replaces the environment", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  ::setenv("APTSHIP_UNIT_PARENT", "parent", 1);
  auto inherited = aptship::run({"sh", "-c", "printf %s \"$APTSHIP_UNIT_PARENT\""});
  REQUIRE(inherited);
  CHECK(inherited->out == "parent");

  SubprocessOptions options;
  options.env = std::map<std::string, std::string>{{"FOO", "bar baz"}, {"EMPTY", ""}};
  auto r = aptship::run({"env"}, options);
  ::unsetenv("APTSHIP_UNIT_PARENT");
  REQUIRE(r);
  CHECK(r->out == "EMPTY=\nFOO=bar baz\n");
}

TEST_CASE("cwd sets the child's working directory", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  fs::create_directory("sub");
  SubprocessOptions options;
  options.cwd = dir.path() / "sub";
  auto r = aptship::run({"pwd", "-P"}, options);
  REQUIRE(r);
  CHECK(r->out == fs::canonical(dir.path() / "sub").string() + "\n");

  options.cwd = "sub";
  auto relative = aptship::run({"sh", "-c", "echo hi > here.txt"}, options);
  REQUIRE(relative);
  CHECK(relative->exit_code == 0);
  CHECK(aptship::test::read("sub/here.txt") == "hi\n");

  options.cwd = dir.path() / "missing";
  auto missing = aptship::run({"true"}, options);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message() == "running 'true': No such file or directory");
}

TEST_CASE("the child leads its own process group", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  auto r = aptship::run({"sh", "-c", "echo $$; ps -o pgid= -p $$"});
  REQUIRE(r);
  REQUIRE(r->exit_code == 0);
  auto newline = r->out.find('\n');
  REQUIRE(newline != std::string::npos);
  std::string pid = r->out.substr(0, newline);
  std::string pgid = r->out.substr(newline + 1);
  pgid.erase(0, pgid.find_first_not_of(' '));
  pgid.erase(pgid.find_last_not_of(" \n") + 1);
  CHECK(pid == pgid);
  CHECK(pgid != std::to_string(::getpgrp()));
}

TEST_CASE("streamed output arrives in order as it is produced", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  // The child waits on a FIFO after each line until the callback has seen
  // it, so the order is fixed without relying on timing. The test keeps the
  // FIFO open read-write throughout so that every line the callback writes
  // stays queued for the child's next read.
  REQUIRE(::mkfifo("gate", 0600) == 0);
  auto gate = aptship::Fd::open("gate", O_RDWR);
  REQUIRE(gate);
  std::vector<std::pair<bool, std::string>> chunks;
  SubprocessOptions options;
  options.output = Output::stream;
  options.on_output = [&](bool is_stderr, std::string_view chunk) {
    chunks.emplace_back(is_stderr, std::string(chunk));
    REQUIRE(gate->write_all("\n"));
  };
  auto r = aptship::run({"sh", "-c",
                         "exec 3< gate; echo one; read x <&3; echo two >&2; read x <&3; "
                         "echo three; read x <&3; echo end >&2"},
                        options);
  REQUIRE(r);
  CHECK(r->exit_code == 0);
  CHECK(r->out.empty());
  CHECK(r->err.empty());
  std::vector<std::pair<bool, std::string>> expected{
      {false, "one\n"}, {true, "two\n"}, {false, "three\n"}, {true, "end\n"}};
  CHECK(chunks == expected);
}

TEST_CASE("inherited output goes to the parent's descriptors", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  auto file = aptship::Fd::open("stdout.txt", O_WRONLY | O_CREAT | O_TRUNC);
  REQUIRE(file);
  int saved = ::dup(STDOUT_FILENO);
  REQUIRE(saved >= 0);
  std::fflush(stdout);
  REQUIRE(::dup2(file->get(), STDOUT_FILENO) == STDOUT_FILENO);
  SubprocessOptions options;
  options.output = Output::inherit;
  auto r = aptship::run({"echo", "to the parent"}, options);
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  REQUIRE(r);
  CHECK(r->exit_code == 0);
  CHECK(r->out.empty());
  CHECK(aptship::test::read("stdout.txt") == "to the parent\n");
}

TEST_CASE("a timeout kills the whole process group", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  SubprocessOptions options;
  options.timeout = std::chrono::milliseconds(200);
  // Both sleeps, the background one a grandchild, carry an argument unique
  // to this run so that any survivor can be found in /proc.
  std::string marker = fmt::format("1000.{}", ::getpid());
  auto r = aptship::run({"sh", "-c", fmt::format("sleep {0} & sleep {0}", marker)}, options);
  REQUIRE(r);
  CHECK(r->timed_out);
  CHECK_FALSE(r->ok());
  CHECK(r->exit_code == 128 + SIGKILL);
  for (pid_t pid : processes_with_argument(marker)) {
    CHECK(process_gone(pid));
  }
}

TEST_CASE("a timeout also applies when output is not piped", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  SubprocessOptions options;
  options.timeout = std::chrono::milliseconds(200);
  options.output = Output::inherit;
  auto r = aptship::run({"sleep", "100"}, options);
  REQUIRE(r);
  CHECK(r->timed_out);
  CHECK(r->exit_code == 128 + SIGKILL);
}

TEST_CASE("a child that finishes within its timeout is not marked", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  SubprocessOptions options;
  options.timeout = std::chrono::milliseconds(60000);
  auto r = aptship::run({"echo", "quick"}, options);
  REQUIRE(r);
  CHECK_FALSE(r->timed_out);
  CHECK(r->ok());
  CHECK(r->out == "quick\n");

  options.output = Output::inherit;
  auto inherited = aptship::run({"true"}, options);
  REQUIRE(inherited);
  CHECK(inherited->ok());
}

TEST_CASE("a program that cannot be started is an error", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  auto missing = aptship::run({"aptship-no-such-program"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message() ==
        "running 'aptship-no-such-program': No such file or directory");

  aptship::test::write("not-executable", "#!/bin/sh\n", 0644);
  auto denied = aptship::run({"./not-executable"});
  REQUIRE_FALSE(denied);
  CHECK(denied.error().message() == "running './not-executable': Permission denied");

  auto empty = aptship::run({});
  REQUIRE_FALSE(empty);
}

TEST_CASE("run_checked returns stdout or an error quoting stderr", "[subprocess]") {
  aptship::test::ScopedTempDir dir;
  auto ok = aptship::run_checked({"echo", "fine"});
  REQUIRE(ok);
  CHECK(*ok == "fine\n");

  auto failed = aptship::run_checked(
      {"sh", "-c", "echo first >&2; echo 'the real reason' >&2; echo >&2; exit 3"});
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message() == "'sh' exited with status 3: the real reason");

  auto silent = aptship::run_checked({"false"});
  REQUIRE_FALSE(silent);
  CHECK(silent.error().message() == "'false' exited with status 1");

  SubprocessOptions options;
  options.timeout = std::chrono::milliseconds(100);
  auto slow = aptship::run_checked({"sleep", "100"}, options);
  REQUIRE_FALSE(slow);
  CHECK(slow.error().message() == "'sleep' timed out after 100 ms");

  auto missing = aptship::run_checked({"aptship-no-such-program"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message() ==
        "running 'aptship-no-such-program': No such file or directory");
}
