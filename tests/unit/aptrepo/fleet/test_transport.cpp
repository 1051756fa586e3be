#include <catch2/catch.hpp>

#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/fleet/transport.hpp"

using namespace aptship;
using namespace aptship::fleet;
using namespace std::chrono_literals;

TEST_CASE("remote_command: every word reaches the remote shell intact", "[transport]") {
  std::vector<std::string> argv = {"printf", "%s\\n",   "plain", "two words",     "it's",
                                   "$HOME",  "`id`; x", "",      "-f=${Version}", "a\"b*"};
  // What ssh does on the far side: hand the string to a POSIX shell.
  auto result = aptship::run({"sh", "-c", remote_command(argv)});
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(result->out == "plain\ntwo words\nit's\n$HOME\n`id`; x\n\n-f=${Version}\na\"b*\n");
  CHECK(remote_command({"apt-get", "install", "hello=1.0-1"}) == "apt-get install hello=1.0-1");
}

TEST_CASE("exec transport: the prefix template, then the argv", "[transport]") {
  HostSpec host{"web1", "127.0.1.1", 8000, "/srv/hosts/web1"};
  ExecTransport transport({"env", "HOST_NAME={name}", "HOST_ROOT={root}"});
  CHECK(transport.local_argv(host, {"true"}) ==
        std::vector<std::string>{"env", "HOST_NAME=web1", "HOST_ROOT=/srv/hosts/web1", "true"});
  auto result = transport.run(host, {"sh", "-c", "echo $HOST_NAME $HOST_ROOT; exit 3"}, 10s);
  REQUIRE(result);
  CHECK(result->exit_code == 3);
  CHECK(result->out == "web1 /srv/hosts/web1\n");
  CHECK_FALSE(result->ok());

  ExecTransport chroot({"chroot", "{root}"});
  CHECK(chroot.local_argv(host, {"dpkg-query", "-W", "hello"}) ==
        std::vector<std::string>{"chroot", "/srv/hosts/web1", "dpkg-query", "-W", "hello"});
}

TEST_CASE("ssh transport: batch mode, strict host keys, a shared master, quoted argv",
          "[transport]") {
  HostSpec host{"web1", "10.0.0.1", 8000, ""};
  SshTransport transport("deploy@{address}", "/run/aptship-ssh");
  CHECK(transport.local_argv(host, {"dpkg-query", "-W", "-f=${Version}", "hello"}) ==
        std::vector<std::string>{"ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                                 "-o", "ControlMaster=auto", "-o",
                                 "ControlPath=/run/aptship-ssh/%C", "-o", "ControlPersist=60", "-o",
                                 "ConnectTimeout=10", "deploy@10.0.0.1", "--",
                                 "dpkg-query -W '-f=${Version}' hello"});
}

TEST_CASE("remote result: the last line for messages", "[transport]") {
  RemoteResult result;
  result.err = "W: one\nE: two\n\n";
  CHECK(result.last_line() == "E: two");
  result.err.clear();
  result.out = "only stdout\n";
  CHECK(result.last_line() == "only stdout");
}
