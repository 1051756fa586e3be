#include <catch2/catch.hpp>

#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/fleet/health.hpp"
#include "fakes.hpp"

using namespace aptship;
using namespace aptship::fleet;
using namespace std::chrono_literals;

namespace {

// Answers SCRIPT[i] to the i-th probe (the last one repeats).
class ScriptedChecker final : public HealthChecker {
public:
  explicit ScriptedChecker(std::vector<int> script) : m_script(std::move(script)) {}
  int calls = 0;
  Expected<HttpAnswer> get(const std::string&, std::chrono::milliseconds) override {
    int status = m_script[std::min<size_t>(static_cast<size_t>(calls), m_script.size() - 1)];
    ++calls;
    if (status == 0) {
      return make_error("connect: Connection refused");
    }
    return HttpAnswer{status, status == 200 ? "hello v2" : "oops"};
  }

private:
  std::vector<int> m_script;
};

HealthSpec spec(int rise) {
  HealthSpec h;
  h.url = "http://{address}:{port}/";
  h.expect_status = 200;
  h.expect_body = "v2";
  h.rise = rise;
  h.interval = 500ms;
  h.timeout = 5s;
  return h;
}

} // namespace

TEST_CASE("health gate: rise consecutive passes", "[health]") {
  fakes::FakeClock clock;
  ScriptedChecker checker({0, 500, 200, 200, 0, 200, 200, 200});
  REQUIRE(health_gate(checker, clock, spec(3), "http://h/"));
  CHECK(checker.calls == 8); // the failure after two passes starts the count again
}

TEST_CASE("health gate: gives up after the timeout with the last reason", "[health]") {
  fakes::FakeClock clock;
  ScriptedChecker checker({500});
  auto gate = health_gate(checker, clock, spec(2), "http://h/");
  REQUIRE_FALSE(gate);
  CHECK(gate.error().message().find("status 500, expected 200") != std::string::npos);
  CHECK(checker.calls == 11); // at 0, 0.5 s, ... 5 s
}

TEST_CASE("health probe: status and body substring", "[health]") {
  HealthSpec h = spec(1);
  CHECK(probe_failure(HttpAnswer{200, "hello v2"}, h).empty());
  CHECK(probe_failure(HttpAnswer{200, "hello v1"}, h).find("does not contain 'v2'") !=
        std::string::npos);
  CHECK(probe_failure(HttpAnswer{503, "v2"}, h) == "status 503, expected 200");
  CHECK(probe_failure(make_error("refused"), h) == "refused");
}

TEST_CASE("HTTP responses: length, chunked, to EOF", "[health]") {
  auto a = parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  REQUIRE(a);
  CHECK(a->status == 200);
  CHECK(a->body == "hello");
  auto b = parse_http_response(
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  REQUIRE(b);
  CHECK(b->status == 201);
  CHECK(b->body == "abcde");
  auto c = parse_http_response("HTTP/1.0 503 Busy\r\n\r\nto the end");
  REQUIRE(c);
  CHECK(c->body == "to the end");
  CHECK_FALSE(parse_http_response("SSH-2.0-OpenSSH\r\n\r\n"));
  CHECK_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"));
  CHECK_FALSE(parse_http_response("HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("HTTP health checker: one GET over TCP", "[health]") {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(listener);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(listener.get(), 1) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  int port = ntohs(addr.sin_port);
  std::string request;
  std::thread server([&] {
    Fd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(client.get(), buffer, sizeof(buffer));
      if (n <= 0) {
        break;
      }
      request.append(buffer, static_cast<size_t>(n));
    }
    (void)client.write_all("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\n"
                           "hello v2");
  });
  HttpHealthChecker checker;
  auto answer = checker.get(fmt::format("http://127.0.0.1:{}/health?x=1", port), 5s);
  server.join();
  REQUIRE(answer);
  CHECK(answer->status == 200);
  CHECK(answer->body == "hello v2");
  CHECK(request.starts_with("GET /health?x=1 HTTP/1.1\r\n"));
  CHECK(request.find(fmt::format("Host: 127.0.0.1:{}\r\n", port)) != std::string::npos);
  CHECK(request.find("Connection: close\r\n") != std::string::npos);
  CHECK_FALSE(checker.get("https://127.0.0.1/", 1s));
}
