#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/core/subprocess.hpp"
#include "builder/receive/authorized_keys.hpp"
#include "testutil.hpp"

namespace fs = std::filesystem;
using aptship::receive::Admin;
using aptship::receive::merge_authorized_keys;
using aptship::receive::PushKey;
using aptship::receive::ReceiveCommand;

namespace {

PushKey make_key(const std::string& name, const std::string& blob) {
  return PushKey{name, {"ssh-ed25519", blob, "ignored comment"}, "SHA256:x", Admin::no, {}};
}

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

const ReceiveCommand k_command{"/usr/bin/aptship", "/var/lib/aptship"};

} // namespace

TEST_CASE("the line forces aptship receive and forbids everything else", "[authorized_keys]") {
  auto line = aptship::receive::authorized_keys_line(k_command, make_key("alice", "AAAA"));
  REQUIRE(line);
  CHECK(*line == "command=\"/usr/bin/aptship --data /var/lib/aptship receive --key alice\","
                 "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty,no-user-rc "
                 "ssh-ed25519 AAAA alice");
}

TEST_CASE("paths are made absolute and quoted for the shell", "[authorized_keys]") {
  aptship::test::ScopedTempDir tmp;
  const fs::path binary = tmp.path() / "my tools/aptship";
  aptship::test::write(binary, "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done\n", 0755);
  ReceiveCommand command{binary, "data/../data dir"};
  auto forced = aptship::receive::forced_command(command, "bob");
  REQUIRE(forced);
  CHECK(*forced == "'" + binary.string() + "' --data '" + tmp.path().string() +
                       "/data dir' receive --key bob");
  // sshd hands the command to the login shell: it must reach aptship as
  // exactly these arguments.
  auto out = aptship::run_checked({"sh", "-c", *forced});
  REQUIRE(out);
  CHECK(*out == "[--data][" + tmp.path().string() + "/data dir][receive][--key][bob]");
}

TEST_CASE("paths sshd could misread are refused", "[authorized_keys]") {
  for (const char* bad : {"/a\"b", "/a\\b", "/a\nb"}) {
    INFO(bad);
    CHECK_FALSE(aptship::receive::forced_command({bad, "/data"}, "k"));
    CHECK_FALSE(aptship::receive::forced_command({"/usr/bin/aptship", bad}, "k"));
  }
  CHECK_FALSE(aptship::receive::forced_command(k_command, "bad name"));
}

TEST_CASE("merging keeps other lines and replaces only this data dir's", "[authorized_keys]") {
  const std::string existing =
      "# my own keys\n"
      "ssh-ed25519 USER1 admin@laptop\n"
      "command=\"/old/path/aptship --data /var/lib/aptship receive --key gone\",no-pty "
      "ssh-ed25519 GONE gone\n"
      "\n"
      "command=\"/usr/bin/aptship --data /srv/other receive --key x\",no-pty ssh-ed25519 OTHER x\n"
      "command=\"/usr/bin/backup\" ssh-ed25519 BACKUP backup\n"
      "no-pty,command=\"/usr/bin/aptship --data /var/lib/aptship receive --key y\" "
      "ssh-ed25519 OPTFIRST y";
  auto merged = merge_authorized_keys(
      existing, {make_key("alice", "AAAA"), make_key("bob", "BBBB")}, k_command);
  REQUIRE(merged);
  CHECK(
      *merged ==
      "# my own keys\n"
      "ssh-ed25519 USER1 admin@laptop\n"
      "\n"
      "command=\"/usr/bin/aptship --data /srv/other receive --key x\",no-pty ssh-ed25519 OTHER x\n"
      "command=\"/usr/bin/backup\" ssh-ed25519 BACKUP backup\n"
      "no-pty,command=\"/usr/bin/aptship --data /var/lib/aptship receive --key y\" "
      "ssh-ed25519 OPTFIRST y\n"
      "command=\"/usr/bin/aptship --data /var/lib/aptship receive --key alice\","
      "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty,no-user-rc "
      "ssh-ed25519 AAAA alice\n"
      "command=\"/usr/bin/aptship --data /var/lib/aptship receive --key bob\","
      "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty,no-user-rc "
      "ssh-ed25519 BBBB bob\n");
  // Merging again changes nothing; removing every key leaves the others.
  auto again = merge_authorized_keys(*merged, {make_key("alice", "AAAA"), make_key("bob", "BBBB")},
                                     k_command);
  REQUIRE(again);
  CHECK(*again == *merged);
  auto none = merge_authorized_keys(*merged, {}, k_command);
  REQUIRE(none);
  CHECK_THAT(*none, !Catch::Contains("receive --key alice"));
  CHECK_THAT(*none, Catch::Contains("ssh-ed25519 USER1 admin@laptop\n"));
  CHECK(merge_authorized_keys("", {}, k_command).value().empty());
}

TEST_CASE("is_managed_line looks only at the forced command", "[authorized_keys]") {
  using aptship::receive::is_managed_line;
  CHECK(is_managed_line(
      "command=\"/x/aptship --data /var/lib/aptship receive --key a\",no-pty ssh-ed25519 K a",
      k_command));
  CHECK(is_managed_line(
      "  command=\"/x/aptship --data /var/lib/aptship receive --key a\" ssh-ed25519 K a",
      k_command));
  // The marker in the comment or another option does not count.
  CHECK_FALSE(is_managed_line("ssh-ed25519 K --data /var/lib/aptship receive --key a", k_command));
  CHECK_FALSE(is_managed_line("command=\"/bin/true\",environment=\"X= --data /var/lib/aptship "
                              "receive --key \" ssh-ed25519 K",
                              k_command));
  CHECK_FALSE(
      is_managed_line("command=\"unterminated --data /var/lib/aptship receive --key a", k_command));
  CHECK_FALSE(is_managed_line(
      "command=\"/x/aptship --data /var/lib/aptship2 receive --key a\" ssh-ed25519 K", k_command));
  CHECK_FALSE(is_managed_line("", k_command));
}

TEST_CASE("write_authorized_keys creates a private file and keeps other lines",
          "[authorized_keys]") {
  aptship::test::ScopedTempDir tmp;
  ::umask(022);
  const fs::path file = tmp.path() / "home/.ssh/authorized_keys";
  fs::create_directories(tmp.path() / "home");
  REQUIRE(aptship::receive::write_authorized_keys(file, {make_key("alice", "AAAA")}, k_command));
  CHECK(mode_of(tmp.path() / "home/.ssh") == 0700);
  CHECK(mode_of(file) == 0600);
  CHECK_THAT(aptship::test::read(file), Catch::EndsWith("ssh-ed25519 AAAA alice\n"));

  // A user's own line survives; the file stays 0600 even if it was not.
  aptship::test::write(file, "ssh-rsa MINE me\n" + aptship::test::read(file), 0644);
  REQUIRE(aptship::receive::write_authorized_keys(file, {make_key("bob", "BBBB")}, k_command));
  CHECK(aptship::test::read(file) ==
        "ssh-rsa MINE me\n" +
            aptship::receive::authorized_keys_line(k_command, make_key("bob", "BBBB")).value() +
            "\n");
  CHECK(mode_of(file) == 0600);
  // No temporary file left beside it.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path() / "home/.ssh")) {
    ++entries;
  }
  CHECK(entries == 1);
  if (::geteuid() == 0) {
    struct stat dir {};
    struct stat st {};
    REQUIRE(::stat((tmp.path() / "home/.ssh").c_str(), &dir) == 0);
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK(st.st_uid == dir.st_uid);
  }
}

TEST_CASE("as root, the file and new directories belong to the home's owner", "[authorized_keys]") {
  if (::geteuid() != 0) {
    SUCCEED("needs root to chown");
    return;
  }
  aptship::test::ScopedTempDir tmp;
  fs::create_directories(tmp.path() / "home");
  REQUIRE(::chown((tmp.path() / "home").c_str(), 4242, 4343) == 0);
  const fs::path file = tmp.path() / "home/.ssh/authorized_keys";
  REQUIRE(aptship::receive::write_authorized_keys(file, {make_key("alice", "AAAA")}, k_command));
  struct stat st {};
  REQUIRE(::stat((tmp.path() / "home/.ssh").c_str(), &st) == 0);
  CHECK(st.st_uid == 4242);
  CHECK(st.st_gid == 4343);
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK(st.st_uid == 4242);
  CHECK(st.st_gid == 4343);
}

TEST_CASE("resolve_authorized_keys: option, environment, recorded, home", "[authorized_keys]") {
  aptship::test::ScopedTempDir tmp;
  using aptship::receive::resolve_authorized_keys;
  ::unsetenv("APTSHIP_AUTHORIZED_KEYS");
  const std::optional<fs::path> recorded = fs::path("/recorded/authorized_keys");
  CHECK(resolve_authorized_keys("rel/ak", recorded, tmp.path()).value() == tmp.path() / "rel/ak");
  ::setenv("APTSHIP_AUTHORIZED_KEYS", "/env/ak", 1);
  CHECK(resolve_authorized_keys("", recorded, tmp.path()).value() == "/env/ak");
  ::unsetenv("APTSHIP_AUTHORIZED_KEYS");
  CHECK(resolve_authorized_keys("", recorded, tmp.path()).value() == "/recorded/authorized_keys");
  auto home = resolve_authorized_keys("", std::nullopt, tmp.path());
  REQUIRE(home);
  CHECK(home->filename() == "authorized_keys");
  CHECK(home->parent_path().filename() == ".ssh");
}
