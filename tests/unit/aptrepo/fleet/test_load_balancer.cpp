#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <thread>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/fleet/load_balancer.hpp"
#include "testutil.hpp"

using namespace aptship;
using namespace aptship::fleet;

namespace {

// The head of HAProxy 2.6's `show stat` CSV, cut after the status column
// plus a few more, as the parser finds columns by name.
constexpr const char* k_show_stat =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,\n"
    "front,FRONTEND,,,3,5,262120,40,0,0,0,0,0,,,,,OPEN,,,,\n"
    "app,web1,0,0,2,4,,20,0,0,,0,,0,0,0,0,UP,1,1,0,\n"
    "app,web2,0,0,0,3,,20,0,0,,0,,0,0,0,0,DRAIN,1,1,0,\n"
    "app,web3,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,\n"
    "app,web4,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,1,0,\n"
    "app,web5,0,0,1,0,,0,0,0,,0,,0,0,0,0,UP 1/3,1,1,0,\n"
    "app,BACKEND,0,0,3,5,,40,0,0,0,0,,0,0,0,0,UP,4,4,0,\n"
    "other,web1,0,0,9,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,\n"
    "other,BACKEND,0,0,9,5,,40,0,0,0,0,,0,0,0,0,DOWN,0,0,0,\n"
    "\n";

// A runtime API double on a unix socket: one command per connection, the
// answer, then close — as HAProxy's non-interactive mode does.
class FakeRuntimeServer {
public:
  explicit FakeRuntimeServer(std::string path) : m_path(std::move(path)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", m_path.c_str());
    m_listen = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(m_listen);
    REQUIRE(::bind(m_listen.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(m_listen.get(), 8) == 0);
    m_thread = std::thread([this] { serve(); });
  }
  ~FakeRuntimeServer() {
    m_stop = true;
    ::shutdown(m_listen.get(), SHUT_RDWR);
    // Wake accept() with one last connection.
    (void)HaproxyRuntime(m_path).command("quit");
    m_thread.join();
  }
  std::vector<std::string> commands() {
    std::lock_guard lock(m_mutex);
    return m_commands;
  }

private:
  void serve() {
    while (!m_stop) {
      Fd client(::accept4(m_listen.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client) {
        return;
      }
      std::string line;
      char c = 0;
      while (::read(client.get(), &c, 1) == 1 && c != '\n') {
        line += c;
      }
      {
        std::lock_guard lock(m_mutex);
        m_commands.push_back(line);
      }
      std::string answer;
      if (line == "show stat") {
        answer = k_show_stat;
      } else if (line.starts_with("set server app/web") ||
                 line.starts_with("shutdown sessions server app/")) {
        answer = "\n";
      } else if (line.starts_with("set server app/")) {
        answer = "No such server.\n\n";
      } else if (line.starts_with("set server ")) {
        answer = "No such backend.\n\n";
      } else if (line.starts_with("echo ")) {
        answer = line.substr(5) + "\n";
      } else {
        answer = "Unknown command.\n";
      }
      (void)client.write_all(answer);
    }
  }

  std::string m_path;
  Fd m_listen;
  std::thread m_thread;
  std::atomic<bool> m_stop{false};
  std::mutex m_mutex;
  std::vector<std::string> m_commands;
};

const ServerStatus* find(const std::vector<ServerStatus>& servers, const std::string& name) {
  for (const auto& server : servers) {
    if (server.name == name) {
      return &server;
    }
  }
  return nullptr;
}

} // namespace

TEST_CASE("show stat: the servers of one backend", "[haproxy]") {
  auto servers = parse_show_stat(k_show_stat, "app");
  REQUIRE(servers);
  REQUIRE(servers->size() == 5);
  CHECK((*servers)[0].name == "web1");
  CHECK((*servers)[0].scur == 2);
  CHECK((*servers)[0].status == "UP");
  CHECK((*servers)[0].up());
  CHECK_FALSE((*servers)[1].up()); // DRAIN
  CHECK_FALSE((*servers)[2].up()); // MAINT
  CHECK((*servers)[3].up());       // no check
  CHECK((*servers)[4].up());       // UP 1/3: still UP, going down
  CHECK((*servers)[4].scur == 1);

  auto missing = parse_show_stat(k_show_stat, "nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message().find("No such backend 'nope'") != std::string::npos);
  CHECK_FALSE(parse_show_stat("Unknown command.\n", "app"));
  CHECK_FALSE(parse_show_stat("# pxname,svname,status\napp,BACKEND,UP\n", "app")); // no scur
}

TEST_CASE("runtime API client against a fake unix-socket server", "[haproxy]") {
  aptship::test::ScopedTempDir dir;
  std::string path = (dir.path() / "admin.sock").string();
  FakeRuntimeServer server(path);
  HaproxyRuntime lb(path);
  CHECK(lb.describe() == "haproxy " + path);

  auto servers = lb.servers("app");
  REQUIRE(servers);
  CHECK(servers->size() == 5);
  REQUIRE(lb.set_state("app", "web1", ServerState::drain));
  REQUIRE(lb.set_state("app", "web1", ServerState::maint));
  REQUIRE(lb.set_state("app", "web1", ServerState::ready));
  REQUIRE(lb.shutdown_sessions("app", "web2"));

  // The silent no-op of other tools is the bug to avoid: these must fail.
  auto no_server = lb.set_state("app", "nope", ServerState::drain);
  REQUIRE_FALSE(no_server);
  CHECK(no_server.error().message().find("No such server.") != std::string::npos);
  auto no_backend = lb.set_state("nope", "web1", ServerState::drain);
  REQUIRE_FALSE(no_backend);
  CHECK(no_backend.error().message().find("No such backend.") != std::string::npos);
  CHECK_FALSE(lb.servers("nope"));

  CHECK(server.commands() == std::vector<std::string>{
                                 "show stat",
                                 "set server app/web1 state drain",
                                 "set server app/web1 state maint",
                                 "set server app/web1 state ready",
                                 "shutdown sessions server app/web2",
                                 "set server app/nope state drain",
                                 "set server nope/web1 state drain",
                                 "show stat",
                             });
}

TEST_CASE("runtime API over the transport: socat on the load balancer's host", "[haproxy]") {
  if (!std::filesystem::exists("/usr/bin/socat")) {
    WARN("no /usr/bin/socat: skipped");
    return;
  }
  aptship::test::ScopedTempDir dir;
  std::string path = (dir.path() / "admin.sock").string();
  FakeRuntimeServer server(path);
  // The "host" is this machine, reached with no prefix: what runs there is
  // exactly the argv an ssh or chroot transport would run.
  ExecTransport transport({});
  HostSpec lb_host{"lb1", "192.0.2.10", 0, ""};
  HaproxyRuntime lb(
      std::make_unique<TransportChannel>(transport, lb_host, path, std::chrono::seconds(5)));
  CHECK(lb.describe() == "haproxy " + path + " on lb1");
  CHECK(lb.route("show stat") ==
        display_command(remote_runtime_argv(path, "show stat", std::chrono::seconds(5))));
  CHECK(HaproxyRuntime(path).route("show stat").empty());

  auto servers = lb.servers("app");
  REQUIRE(servers);
  CHECK(servers->size() == 5);
  REQUIRE(lb.set_state("app", "web1", ServerState::drain));
  auto no_server = lb.set_state("app", "nope", ServerState::maint);
  REQUIRE_FALSE(no_server);
  CHECK(no_server.error().message().find("No such server.") != std::string::npos);
  // Words a shell would act on arrive as they were sent.
  std::string tricky = R"(echo a  b "c" 'd' $HOME `id` $(id) ; | & \ * ~)";
  auto echoed = lb.command(tricky);
  REQUIRE(echoed);
  CHECK(*echoed == tricky.substr(5) + "\n");
  CHECK(server.commands() == std::vector<std::string>{"show stat",
                                                      "set server app/web1 state drain",
                                                      "set server app/nope state maint", tricky});

  SECTION("a socket that is not there names the host and socat's reason") {
    HaproxyRuntime absent(std::make_unique<TransportChannel>(
        transport, lb_host, (dir.path() / "none.sock").string(), std::chrono::seconds(5)));
    auto answer = absent.servers("app");
    REQUIRE_FALSE(answer);
    INFO(answer.error().message());
    CHECK(answer.error().message().find("socat on lb1 failed") != std::string::npos);
    CHECK(answer.error().message().find("No such file or directory") != std::string::npos);
  }
  SECTION("a host without socat says so") {
    // PATH without socat, then the same argv.
    ExecTransport bare(
        {"/usr/bin/env", "PATH=/nonexistent", "/bin/sh", "-c", R"(exec "/bin/$0" "$@")"});
    HaproxyRuntime no_socat(
        std::make_unique<TransportChannel>(bare, lb_host, path, std::chrono::seconds(5)));
    auto answer = no_socat.servers("app");
    REQUIRE_FALSE(answer);
    INFO(answer.error().message());
    CHECK(answer.error().message().find("socat is not installed on lb1") != std::string::npos);
  }
}

TEST_CASE("runtime API over the transport: the remote argv", "[haproxy]") {
  auto unix_argv =
      remote_runtime_argv("/run/haproxy/admin.sock", "show stat", std::chrono::seconds(10));
  REQUIRE(unix_argv.size() == 7);
  CHECK(unix_argv[0] == "sh");
  CHECK(unix_argv[4] == "show stat");
  CHECK(unix_argv[5] == "UNIX-CONNECT:/run/haproxy/admin.sock");
  CHECK(unix_argv[6] == "10");
  auto tcp_argv =
      remote_runtime_argv("tcp://127.0.0.1:9999", "show stat", std::chrono::milliseconds(500));
  CHECK(tcp_argv[5] == "TCP:127.0.0.1:9999");
  CHECK(tcp_argv[6] == "1");
}

TEST_CASE("runtime API client: an absent socket is an error", "[haproxy]") {
  aptship::test::ScopedTempDir dir;
  HaproxyRuntime unix_lb((dir.path() / "none.sock").string());
  CHECK_FALSE(unix_lb.servers("app"));
  HaproxyRuntime tcp_lb("tcp://127.0.0.1");
  auto bad = tcp_lb.servers("app");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("tcp://HOST:PORT") != std::string::npos);
}

TEST_CASE("runtime API client against a real haproxy", "[haproxy][real]") {
  if (!std::filesystem::exists("/usr/sbin/haproxy")) {
    WARN("no /usr/sbin/haproxy: skipped");
    return;
  }
  aptship::test::ScopedTempDir dir;
  std::string sock = (dir.path() / "admin.sock").string();
  std::string pidfile = (dir.path() / "haproxy.pid").string();
  aptship::test::write("haproxy.cfg", fmt::format(R"(global
  stats socket {} level admin
  pidfile {}
  daemon
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
backend app
  server web1 127.0.0.1:9 
  server web2 127.0.0.1:19
)",
                                                  sock, pidfile));
  auto started = aptship::run({"/usr/sbin/haproxy", "-f", "haproxy.cfg"});
  REQUIRE(started);
  INFO(started->err);
  REQUIRE(started->ok());
  ExecTransport transport({});
  bool remote = std::filesystem::exists("/usr/bin/socat") ? GENERATE(false, true) : false;
  INFO((remote ? "over the transport" : "on this machine"));
  HaproxyRuntime lb =
      remote ? HaproxyRuntime(std::make_unique<TransportChannel>(
                   transport, HostSpec{"lb", "127.0.0.1", 0, ""}, sock, std::chrono::seconds(5)))
             : HaproxyRuntime(sock);
  // The daemon has forked; wait for its socket to answer.
  Expected<std::vector<ServerStatus>> servers = make_error("not started");
  for (int i = 0; i < 100 && !servers; ++i) {
    servers = lb.servers("app");
    if (!servers) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  struct Stop {
    std::string pidfile;
    ~Stop() {
      auto text = aptship::read_file(pidfile);
      if (text) {
        ::kill(std::stoi(*text), SIGTERM);
      }
    }
  } stop{pidfile};
  REQUIRE(servers);
  REQUIRE(servers->size() == 2);
  CHECK(find(*servers, "web1") != nullptr);
  CHECK(find(*servers, "web1")->up()); // "no check"

  auto status_of = [&](const std::string& name) {
    auto now = lb.servers("app");
    REQUIRE(now);
    const ServerStatus* server = find(*now, name);
    REQUIRE(server != nullptr);
    return *server;
  };
  REQUIRE(lb.set_state("app", "web1", ServerState::drain));
  CHECK(status_of("web1").status == "DRAIN");
  CHECK_FALSE(status_of("web1").up());
  CHECK(status_of("web2").up());
  REQUIRE(lb.set_state("app", "web1", ServerState::maint));
  CHECK(status_of("web1").status == "MAINT");
  CHECK(status_of("web1").scur == 0);
  REQUIRE(lb.set_state("app", "web1", ServerState::ready));
  CHECK(status_of("web1").up());
  REQUIRE(lb.shutdown_sessions("app", "web1"));

  auto no_server = lb.set_state("app", "web9", ServerState::drain);
  REQUIRE_FALSE(no_server);
  INFO(no_server.error().message());
  CHECK(no_server.error().message().find("No such server") != std::string::npos);
  auto no_backend = lb.set_state("nope", "web1", ServerState::maint);
  REQUIRE_FALSE(no_backend);
  CHECK(no_backend.error().message().find("No such backend") != std::string::npos);
  CHECK_FALSE(lb.servers("nope"));
}
