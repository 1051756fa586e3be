#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "builder/receive/ssh_command.hpp"

using aptship::receive::GitService;
using aptship::receive::parse_ssh_command;

namespace {

struct Accepted {
  std::string command;
  GitService service;
  std::string app;
};

} // namespace

TEST_CASE("the commands git sends are accepted", "[ssh_command]") {
  const Accepted cases[] = {
      {"git-receive-pack 'hello.git'", GitService::receive_pack, "hello"},
      {"git-receive-pack '/hello.git'", GitService::receive_pack, "hello"},
      {"git-receive-pack 'hello'", GitService::receive_pack, "hello"},
      {"git-receive-pack '/hello'", GitService::receive_pack, "hello"},
      {"git-receive-pack hello.git", GitService::receive_pack, "hello"},
      {"git-receive-pack /hello.git", GitService::receive_pack, "hello"},
      {"git-receive-pack hello", GitService::receive_pack, "hello"},
      {"git-upload-pack 'hello.git'", GitService::upload_pack, "hello"},
      {"git-upload-pack '/my-app-2.git'", GitService::upload_pack, "my-app-2"},
      {"git receive-pack 'hello.git'", GitService::receive_pack, "hello"},
      {"git upload-pack '/hello.git'", GitService::upload_pack, "hello"},
      {"git-receive-pack   'hello.git'", GitService::receive_pack, "hello"},
      {"git-receive-pack '0app.git'", GitService::receive_pack, "0app"},
  };
  for (const Accepted& c : cases) {
    INFO(c.command);
    auto request = parse_ssh_command(c.command);
    REQUIRE(request);
    CHECK(request->service == c.service);
    CHECK(request->app == c.app);
  }
  CHECK(aptship::receive::git_subcommand(GitService::receive_pack) == "receive-pack");
  CHECK(aptship::receive::git_subcommand(GitService::upload_pack) == "upload-pack");
}

TEST_CASE("anything but git is refused as such", "[ssh_command]") {
  auto login = parse_ssh_command(std::nullopt);
  REQUIRE_FALSE(login);
  CHECK(login.error().message() == "this key may only push with git (got: an interactive login)");

  for (const std::string& command : std::vector<std::string>{
           "rm -rf /", "", "sh", "bash -i", "ls", "scp -t /tmp", "git-upload-archive 'hello.git'",
           "git-receive-pack", "git-receive-pack\t'hello.git'", " git-receive-pack 'hello.git'",
           "git-receive-packx 'hello.git'", "git receive-pack", "/usr/bin/git-receive-pack 'a.git'",
           "git-receive-pack;id 'a.git'", "echo git-receive-pack 'hello.git'",
           "git --upload-pack=sh 'hello.git'", "internal-sftp", "git receive-pack"}) {
    INFO(command);
    auto result = parse_ssh_command(command);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(),
               Catch::StartsWith("this key may only push with git (got: "));
  }
  auto shown = parse_ssh_command("rm -rf /");
  CHECK(shown.error().message() == "this key may only push with git (got: rm -rf /)");
}

TEST_CASE("injection attempts in the path are refused", "[ssh_command]") {
  for (const std::string& command : std::vector<std::string>{
           "git-receive-pack ''",
           "git-receive-pack '/'",
           "git-receive-pack '.git'",
           "git-receive-pack 'hello.git'; rm -rf /",
           "git-receive-pack 'hello.git';id",
           "git-receive-pack 'hello.git' && id",
           "git-receive-pack 'hello.git' 'other.git'",
           "git-receive-pack hello.git; id",
           "git-receive-pack 'hel'lo.git'",
           "git-receive-pack 'hello.git",
           "git-receive-pack hello.git'",
           "git-receive-pack '`id`.git'",
           "git-receive-pack '$(id).git'",
           "git-receive-pack '$HOME.git'",
           "git-receive-pack '../hello.git'",
           "git-receive-pack '/../../etc/passwd'",
           "git-receive-pack '..'",
           "git-receive-pack '/srv/git/hello.git'",
           "git-receive-pack 'a/b.git'",
           "git-receive-pack '~/hello.git'",
           "git-receive-pack '~root/hello.git'",
           "git-receive-pack 'hello world.git'",
           "git-receive-pack 'hello\n.git'",
           "git-receive-pack 'hello.git\nid'",
           "git-receive-pack hello.git\nid",
           "git-receive-pack '-hello.git'",
           "git-receive-pack '--upload-pack=id'",
           "git-receive-pack -c",
           "git-receive-pack 'Hello.git'",
           "git-receive-pack 'hello.git.git'",
           "git-receive-pack 'hello.git/'",
           "git-receive-pack '//hello.git'",
           "git-receive-pack 'h.git'",
           "git-receive-pack 'hello_world.git'",
           "git-receive-pack 'caf\xc3\xa9.git'",
           std::string("git-receive-pack 'hel\0lo.git'", 29),
           "git-upload-pack '|id'",
           "git-receive-pack " + std::string(200, 'a'),
       }) {
    INFO(command);
    auto result = parse_ssh_command(command);
    REQUIRE_FALSE(result);
    const std::string& message = result.error().message();
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find('\0') == std::string::npos);
    CHECK_THAT(message, Catch::Contains("repository") || Catch::Contains("app name"));
  }
}

TEST_CASE("refusals are one short line", "[ssh_command]") {
  auto result = parse_ssh_command("x" + std::string(5000, 'y') + "\n");
  REQUIRE_FALSE(result);
  CHECK(result.error().message().size() < 200);
  CHECK(result.error().message().find('\n') == std::string::npos);
}
