#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/serve/server.hpp"
#include "testutil.hpp"

namespace fs = std::filesystem;
using aptship::serve::AppRequest;
using aptship::serve::AppResponse;
using aptship::serve::ServeOptions;
using aptship::serve::Server;

namespace {

// A server on 127.0.0.1 with a fresh root (./root of the case's temporary
// directory) and every access log line collected.
class TestServer {
public:
  explicit TestServer(ServeOptions options = {}) {
    options.listen = "127.0.0.1:0";
    if (options.root.empty()) {
      options.root = fs::current_path() / "root";
    }
    fs::create_directories(options.root);
    options.threads = options.threads == 0 ? 2 : options.threads;
    options.access_log = false;
    options.access_log_hook = [this](std::string_view line) {
      std::lock_guard lock(m_mutex);
      m_log.emplace_back(line);
    };
    auto started = Server::start(std::move(options));
    if (!started) {
      FAIL(started.error().message());
    }
    m_server = std::move(*started);
  }

  [[nodiscard]] uint16_t port() const { return m_server->port(); }
  [[nodiscard]] std::string url(std::string_view path) const {
    return fmt::format("http://127.0.0.1:{}{}", port(), path);
  }
  // The access log once it has at least COUNT lines: a line is written
  // after the last byte is sent, so it may trail the client a little.
  [[nodiscard]] std::vector<std::string> log(size_t count = 0) {
    for (int i = 0; i < 1000; ++i) {
      {
        std::lock_guard lock(m_mutex);
        if (m_log.size() >= count) {
          return m_log;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lock(m_mutex);
    return m_log;
  }
  Server& server() { return *m_server; }

private:
  std::mutex m_mutex;
  std::vector<std::string> m_log;
  std::unique_ptr<Server> m_server;
};

struct HttpResult {
  int status = 0;
  std::string head;
  std::string body;
  std::string err; // curl's stderr
};

// The value of header NAME in HEAD (case-insensitive name), or "".
std::string header(const std::string& head, std::string_view name) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    if (head.size() - pos > name.size() && head[pos + name.size()] == ':' &&
        strncasecmp(head.data() + pos, name.data(), name.size()) == 0) {
      size_t start = pos + name.size() + 1;
      while (start < head.size() && head[start] == ' ') {
        ++start;
      }
      return head.substr(start, head.find("\r\n", start) - start);
    }
  }
  return {};
}

// Splits "HTTP/1.1 200 OK\r\n...\r\n\r\nBODY".
HttpResult split_response(const std::string& text) {
  HttpResult result;
  size_t end = text.find("\r\n\r\n");
  result.head = text.substr(0, end == std::string::npos ? text.size() : end + 2);
  result.body = end == std::string::npos ? "" : text.substr(end + 4);
  if (result.head.size() > 12) {
    result.status = std::atoi(result.head.substr(9, 3).c_str());
  }
  return result;
}

// Runs curl with ARGS and the URL, returning the last response it received.
HttpResult curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"curl", "-sS", "-i", "--max-time", "30"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = aptship::run(argv);
  REQUIRE(result);
  INFO(result->err);
  REQUIRE(result->exit_code == 0);
  HttpResult out = split_response(result->out);
  out.err = result->err;
  return out;
}

// A plain TCP client for requests curl would not send.
class RawClient {
public:
  explicit RawClient(uint16_t port) : m_fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(m_fd);
    timeval timeout{20, 0};
    setsockopt(m_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(m_fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(m_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  }

  // False once the server has closed the connection.
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(m_fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response: the head, then Content-Length bytes unless HEAD_ONLY.
  HttpResult response(bool head_only = false) {
    while (m_pending.find("\r\n\r\n") == std::string::npos) {
      if (!fill()) {
        break;
      }
    }
    HttpResult result = split_response(m_pending);
    size_t head_end = m_pending.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      m_pending.clear();
      return result;
    }
    size_t length = head_only || result.status == 304
                        ? 0
                        : std::stoul("0" + header(result.head, "Content-Length"));
    while (m_pending.size() < head_end + 4 + length && fill()) {
    }
    result.body = m_pending.substr(head_end + 4, length);
    m_pending.erase(0, std::min(m_pending.size(), head_end + 4 + length));
    return result;
  }

  // True when the server closes the connection (end of file or reset)
  // before the 20 s receive timeout; any bytes before that are dropped.
  bool closed_by_server() {
    char buffer[4096];
    for (;;) {
      ssize_t n = recv(m_fd.get(), buffer, sizeof(buffer), 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) {
        return true;
      }
      if (n < 0) {
        return false;
      }
    }
  }

private:
  bool fill() {
    char buffer[65536];
    ssize_t n = recv(m_fd.get(), buffer, sizeof(buffer), 0);
    if (n <= 0) {
      return false;
    }
    m_pending.append(buffer, static_cast<size_t>(n));
    return true;
  }

  aptship::Fd m_fd;
  std::string m_pending;
};

HttpResult raw_get(uint16_t port, std::string_view target) {
  RawClient client(port);
  REQUIRE(client.send(fmt::format("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", target)));
  return client.response();
}

} // namespace

TEST_CASE("serve: GET and HEAD of a file", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  std::string content(3400, 'p');
  aptship::test::write("root/dists/stable/main/binary-amd64/Packages", content);
  TestServer server;
  HttpResult get = curl({server.url("/dists/stable/main/binary-amd64/Packages")});
  CHECK(get.status == 200);
  CHECK(get.body == content);
  CHECK(header(get.head, "Content-Length") == "3400");
  CHECK(header(get.head, "Content-Type") == "text/plain; charset=utf-8");
  CHECK_FALSE(header(get.head, "ETag").empty());
  CHECK_FALSE(header(get.head, "Last-Modified").empty());
  CHECK(header(get.head, "Accept-Ranges") == "bytes");

  HttpResult head = curl({"-I", server.url("/dists/stable/main/binary-amd64/Packages")});
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(header(head.head, "Content-Length") == "3400");
  CHECK(header(head.head, "ETag") == header(get.head, "ETag"));

  HttpResult missing = curl({server.url("/dists/unstable/InRelease")});
  CHECK(missing.status == 404);
}

TEST_CASE("serve: a large file arrives whole", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  std::string content;
  for (int i = 0; content.size() < 3 * 1024 * 1024; ++i) {
    content += fmt::format("{:08x}", i);
  }
  aptship::test::write("root/pool/big.deb", content);
  TestServer server;
  auto get = aptship::run({"curl", "-sS", "--max-time", "30", "-o", "big.out", "-D", "head.out",
                           server.url("/pool/big.deb")});
  REQUIRE(get);
  REQUIRE(get->exit_code == 0);
  CHECK(aptship::test::read("big.out") == content);
  std::string head = aptship::test::read("head.out");
  CHECK(header(head, "Content-Type") == "application/vnd.debian.binary-package");
  CHECK(header(head, "Content-Length") == std::to_string(content.size()));
  CHECK(server.log(1).back().find(fmt::format(" 200 {} ", content.size())) != std::string::npos);
}

TEST_CASE("serve: keep-alive reuses one connection", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/a", "first");
  aptship::test::write("root/b", "second");
  TestServer server;
  auto result = aptship::run({"curl", "-sS", "-v", "--max-time", "30", "-o", "a.out",
                              server.url("/a"), "-o", "b.out", server.url("/b")});
  REQUIRE(result);
  REQUIRE(result->exit_code == 0);
  CHECK(result->err.find("Re-using existing connection") != std::string::npos);
  CHECK(aptship::test::read("a.out") == "first");
  CHECK(aptship::test::read("b.out") == "second");

  SECTION("HTTP/1.0 with Connection: keep-alive stays open") {
    RawClient client(server.port());
    REQUIRE(client.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    HttpResult first = client.response();
    CHECK(first.body == "first");
    CHECK(header(first.head, "Connection") == "keep-alive");
    REQUIRE(client.send("GET /b HTTP/1.0\r\n\r\n"));
    HttpResult second = client.response();
    CHECK(second.body == "second");
    CHECK(header(second.head, "Connection") == "close");
    CHECK(client.closed_by_server());
  }
  SECTION("pipelined requests are answered in order") {
    RawClient client(server.port());
    REQUIRE(client.send("GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n"
                        "Connection: close\r\n\r\n"));
    CHECK(client.response().body == "first");
    HttpResult head = client.response(true);
    CHECK(header(head.head, "Content-Length") == "6");
    CHECK(client.response().body == "second");
    CHECK(client.closed_by_server());
  }
}

TEST_CASE("serve: Range requests", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/pool/x.deb", "0123456789abcdef");
  TestServer server;
  std::string url = server.url("/pool/x.deb");
  HttpResult part = curl({"-r", "2-5", url});
  CHECK(part.status == 206);
  CHECK(part.body == "2345");
  CHECK(header(part.head, "Content-Range") == "bytes 2-5/16");
  CHECK(header(part.head, "Content-Length") == "4");
  CHECK(curl({"-r", "10-", url}).body == "abcdef");
  CHECK(curl({"-r", "-3", url}).body == "def");
  HttpResult refused = curl({"-r", "16-20", url});
  CHECK(refused.status == 416);
  CHECK(header(refused.head, "Content-Range") == "bytes */16");
  HttpResult several = curl({"-r", "0-1,4-5", url});
  CHECK(several.status == 200);
  CHECK(several.body == "0123456789abcdef");
  std::string etag = header(part.head, "ETag");
  CHECK(curl({"-r", "0-0", "-H", "If-Range: " + etag, url}).status == 206);
  CHECK(curl({"-r", "0-0", "-H", "If-Range: \"old\"", url}).status == 200);
}

TEST_CASE("serve: conditional requests answer 304", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/dists/stable/InRelease", "signed\n");
  TestServer server;
  std::string url = server.url("/dists/stable/InRelease");
  HttpResult first = curl({url});
  std::string etag = header(first.head, "ETag");
  std::string modified = header(first.head, "Last-Modified");
  HttpResult by_date = curl({"-H", "If-Modified-Since: " + modified, url});
  CHECK(by_date.status == 304);
  CHECK(by_date.body.empty());
  CHECK(header(by_date.head, "ETag") == etag);
  CHECK(curl({"-H", "If-None-Match: " + etag, url}).status == 304);
  CHECK(curl({"-H", "If-None-Match: \"other\"", url}).status == 200);
  CHECK(curl({"-H", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT", url}).status == 200);
}

TEST_CASE("serve: content types by name", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  std::vector<std::pair<std::string, std::string>> cases = {
      {"pool/a_1_all.deb", "application/vnd.debian.binary-package"},
      {"Packages.gz", "application/gzip"},
      {"Packages.xz", "application/x-xz"},
      {"Packages.zst", "application/zstd"},
      {"Release.gpg", "application/pgp-signature"},
      {"InRelease", "text/plain; charset=utf-8"},
      {"Release", "text/plain; charset=utf-8"},
      {"Packages", "text/plain; charset=utf-8"},
      {"status.json", "application/json"},
      {"repo.sources", "text/plain; charset=utf-8"},
      {"index.html", "text/html; charset=utf-8"},
      {"by-hash/SHA256/0abc", "application/octet-stream"},
  };
  for (const auto& [name, type] : cases) {
    aptship::test::write("root/" + name, "x");
  }
  TestServer server;
  for (const auto& [name, type] : cases) {
    INFO(name);
    CHECK(header(curl({"-I", server.url("/" + name)}).head, "Content-Type") == type);
  }
}

TEST_CASE("serve: other methods get 405", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/file", "x");
  TestServer server;
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    INFO(method);
    HttpResult result = curl({"-X", method, server.url("/file")});
    CHECK(result.status == 405);
    CHECK(header(result.head, "Allow") == "GET, HEAD");
  }
  HttpResult with_body = curl({"--data", "payload", server.url("/file")});
  CHECK(with_body.status == 405);
  CHECK(header(with_body.head, "Connection") == "close");

  RawClient client(server.port());
  REQUIRE(client.send("GET /file HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"));
  CHECK(client.response().status == 400);
  CHECK(client.closed_by_server());
}

TEST_CASE("serve: no path leaves the tree", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("secret", "outside\n");
  aptship::test::write("root/.gen/stable/7/Release", "generation 7\n");
  aptship::test::write("root/pool/file", "inside\n");
  fs::create_directories("root/dists");
  fs::create_symlink("../.gen/stable/7", "root/dists/stable");
  fs::create_symlink(fs::absolute("root/.gen/stable/7"), "root/dists/absolute");
  fs::create_symlink("../secret", "root/escape");
  fs::create_symlink(fs::absolute("secret"), "root/pool/escape");
  fs::create_symlink("/etc", "root/etc");
  TestServer server;
  uint16_t port = server.port();

  CHECK(raw_get(port, "/pool/file").body == "inside\n");
  CHECK(raw_get(port, "/dists/stable/Release").body == "generation 7\n");
  CHECK(raw_get(port, "/dists/absolute/Release").body == "generation 7\n");
  for (std::string_view target :
       {"/../secret", "/pool/../../secret", "/%2e%2e/secret", "/pool/%2E%2E/%2e%2e/secret",
        "/pool%2f..%2f..%2fsecret", "/pool/file%00.deb", "/pool\\..\\..\\secret",
        "/pool/%5c../secret", "/./pool/file"}) {
    INFO(target);
    CHECK(raw_get(port, target).status == 400);
  }
  for (std::string_view target :
       {"/escape", "/pool/escape", "/etc/passwd", "/.gen/stable/7/Release", "/dists/.hidden",
        "/%2egen/stable/7/Release"}) {
    INFO(target);
    CHECK(raw_get(port, target).status == 404);
  }
  // curl agrees once told to keep the dot segments.
  CHECK(curl({"--path-as-is", server.url("/dists/../../secret")}).status == 400);
  for (const auto& line : server.log()) {
    CHECK(line.find("outside") == std::string::npos);
  }
}

TEST_CASE("serve: directories are listed with a slash, redirected without", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/pool/main/<b>&.deb", "x");
  aptship::test::write("root/.gen/hidden", "x");
  TestServer server;
  HttpResult redirect = curl({server.url("/pool/main")});
  CHECK(redirect.status == 301);
  CHECK(header(redirect.head, "Location") == "/pool/main/");
  HttpResult listing = curl({server.url("/pool/main/")});
  CHECK(listing.status == 200);
  CHECK(header(listing.head, "Content-Type") == "text/html; charset=utf-8");
  CHECK(listing.body.find("&lt;b&gt;&amp;.deb") != std::string::npos);
  CHECK(listing.body.find("<b>") == std::string::npos);
  HttpResult root = curl({server.url("/")});
  CHECK(root.status == 200);
  CHECK(root.body.find("pool/") != std::string::npos);
  CHECK(root.body.find(".gen") == std::string::npos);
}

TEST_CASE("serve: request head size and syntax limits", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  ServeOptions options;
  options.max_header_bytes = 4096;
  TestServer server(options);
  {
    RawClient client(server.port());
    client.send("GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
    CHECK(client.response().status == 431);
    CHECK(client.closed_by_server());
  }
  {
    RawClient client(server.port());
    client.send("GET / HTTP/1.1\r\nX-Big: " + std::string(3000, 'a') +
                "\r\nX-More: " + std::string(3000, 'b') + "\r\n\r\n");
    CHECK(client.response().status == 431);
  }
  HttpResult curl_big = curl({"-H", "X-Big: " + std::string(8000, 'c'), server.url("/")});
  CHECK(curl_big.status == 431);
  {
    RawClient client(server.port());
    client.send("NOT HTTP AT ALL\r\n\r\n");
    CHECK(client.response().status == 400);
    CHECK(client.closed_by_server());
  }
  {
    RawClient client(server.port());
    client.send("GET / HTTP/2.0\r\n\r\n");
    CHECK(client.response().status == 505);
  }
  {
    RawClient client(server.port());
    client.send("GET / HTTP/1.1\r\nBad Header\r\n\r\n");
    CHECK(client.response().status == 400);
  }
}

TEST_CASE("serve: a slow client is cut after request_timeout", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  ServeOptions options;
  options.request_timeout = std::chrono::seconds(1);
  TestServer server(options);
  RawClient client(server.port());
  REQUIRE(client.send("GET / HTTP/1.1\r\nX-Slow: "));
  // One byte every 100 ms would take 60 s to finish the head; the server
  // must close long before that, which makes a send fail.
  bool cut = false;
  for (int i = 0; i < 600 && !cut; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cut = !client.send("a");
  }
  CHECK((cut || client.closed_by_server()));
}

TEST_CASE("serve: an idle keep-alive connection is closed after idle_timeout", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/file", "x");
  ServeOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  TestServer server(options);
  RawClient client(server.port());
  REQUIRE(client.send("GET /file HTTP/1.1\r\n\r\n"));
  CHECK(client.response().body == "x");
  // The receive timeout is 20 s: an end of file before it is the server's.
  CHECK(client.closed_by_server());
}

TEST_CASE("serve: application paths go to the handler", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  std::mutex mutex;
  std::vector<AppRequest> seen;
  ServeOptions options;
  options.app = [&](const AppRequest& request) -> std::optional<AppResponse> {
    std::lock_guard lock(mutex);
    seen.push_back(request);
    if (request.path == "/api/v1/packages") {
      return AppResponse{200, "application/json",
                         "{\"suite\":\"" + request.query.at("suite") + "\"}"};
    }
    if (request.path == "/aptship.sources") {
      return AppResponse{200, "text/plain; charset=utf-8", "Types: deb\n"};
    }
    return std::nullopt;
  };
  TestServer server(options);
  HttpResult packages =
      curl({"-H", "Host: repo.example", server.url("/api/v1/packages?suite=stable%2Dx&q=a+b")});
  CHECK(packages.status == 200);
  CHECK(header(packages.head, "Content-Type") == "application/json");
  CHECK(packages.body == "{\"suite\":\"stable-x\"}");
  CHECK(curl({server.url("/aptship.sources")}).body == "Types: deb\n");
  CHECK(curl({server.url("/api/v1/unknown")}).status == 404);
  CHECK(curl({"-X", "POST", server.url("/api/v1/packages?suite=s")}).status == 405);
  std::lock_guard lock(mutex);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].path == "/api/v1/packages");
  CHECK(seen[0].query.at("suite") == "stable-x");
  CHECK(seen[0].query.at("q") == "a b");
  CHECK(seen[0].host == "repo.example");
}

TEST_CASE("serve: the access log believes proxies only when trusted", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/file", "x");
  SECTION("untrusted peer: X-Forwarded-For and PROXY are ignored or refused") {
    TestServer server;
    curl({"-H", "X-Forwarded-For: 203.0.113.7", server.url("/file")});
    auto log = server.log(1);
    REQUIRE(log.size() == 1);
    CHECK(log[0].rfind("127.0.0.1 GET /file 200 1 ", 0) == 0);
    RawClient client(server.port());
    client.send("PROXY TCP4 198.51.100.1 192.0.2.1 40000 80\r\nGET /file HTTP/1.1\r\n\r\n");
    CHECK(client.response().status == 400);
  }
  SECTION("trusted peer: the last X-Forwarded-For entry and the PROXY source") {
    ServeOptions options;
    options.trusted_proxies = {"127.0.0.1"};
    TestServer server(options);
    curl({"-H", "X-Forwarded-For: 10.9.9.9, 203.0.113.7", server.url("/file")});
    {
      RawClient client(server.port());
      client.send("PROXY TCP4 198.51.100.1 192.0.2.1 40000 80\r\nGET /file HTTP/1.1\r\n\r\n");
      CHECK(client.response().body == "x");
      client.send("GET /file HTTP/1.1\r\nX-Forwarded-For: 2001:db8::5\r\n\r\n");
      CHECK(client.response().body == "x");
    }
    {
      RawClient client(server.port());
      client.send("PROXY TCP4 bogus 192.0.2.1 40000 80\r\nGET /file HTTP/1.1\r\n\r\n");
      CHECK(client.response().status == 400);
    }
    auto log = server.log(4);
    REQUIRE(log.size() == 4);
    // A line is written after its response is sent, so the client may already
    // be on its next connection: lines are matched by content, not position.
    auto logged = [&log](std::string_view prefix) {
      return std::any_of(log.begin(), log.end(),
                         [prefix](const std::string& line) { return line.rfind(prefix, 0) == 0; });
    };
    CHECK(logged("203.0.113.7 GET /file 200 1 "));
    CHECK(logged("198.51.100.1 GET /file 200 1 "));
    CHECK(logged("2001:db8::5 GET /file 200 1 "));
    CHECK(logged("127.0.0.1 - - 400 "));
  }
}

TEST_CASE("serve: a file replaced by rename is served fresh", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/dists/stable/InRelease", "generation one\n");
  TestServer server;
  std::string url = server.url("/dists/stable/InRelease");
  HttpResult first = curl({url});
  CHECK(first.body == "generation one\n");
  // Same size and the same modification time: only the content changed.
  aptship::test::write("root/dists/stable/.InRelease.new", "generation two\n");
  struct stat old_stat {};
  REQUIRE(stat("root/dists/stable/InRelease", &old_stat) == 0);
  timespec times[2] = {old_stat.st_mtim, old_stat.st_mtim};
  REQUIRE(utimensat(AT_FDCWD, "root/dists/stable/.InRelease.new", times, 0) == 0);
  fs::rename("root/dists/stable/.InRelease.new", "root/dists/stable/InRelease");
  HttpResult second = curl({url});
  CHECK(second.body == "generation two\n");
  CHECK(header(second.head, "ETag") != header(first.head, "ETag"));
  CHECK(curl({"-H", "If-None-Match: " + header(first.head, "ETag"), url}).status == 200);
}

TEST_CASE("serve: 100 concurrent connections are all answered", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/Packages", std::string(3400, 'z'));
  TestServer server;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 100; ++i) {
    clients.push_back(std::make_unique<RawClient>(server.port()));
  }
  for (auto& client : clients) {
    REQUIRE(client->send("GET /Packages HTTP/1.1\r\n\r\n"));
  }
  int answered = 0;
  for (auto& client : clients) {
    HttpResult result = client->response();
    if (result.status == 200 && result.body.size() == 3400) {
      ++answered;
    }
  }
  CHECK(answered == 100);
}

TEST_CASE("serve: stop() ends wait()", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  TestServer server;
  RawClient open_connection(server.port());
  std::thread waiter([&] { server.server().wait(); });
  server.server().stop();
  waiter.join();
  CHECK(open_connection.closed_by_server());
  server.server().stop(); // idempotent
}

TEST_CASE("serve: SIGTERM ends wait()", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  fs::create_directories("root");
  int ready[2];
  int returned[2];
  REQUIRE(pipe(ready) == 0);
  REQUIRE(pipe(returned) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Until wait() takes SIGTERM over, the signal must not kill the child.
    signal(SIGTERM, SIG_IGN);
    ServeOptions options;
    options.listen = "127.0.0.1:0";
    options.root = "root";
    options.threads = 1;
    auto server = Server::start(options);
    if (!server) {
      _exit(2);
    }
    char byte = 'r';
    (void)!write(ready[1], &byte, 1);
    (*server)->wait();
    (void)!write(returned[1], &byte, 1);
    _exit(0);
  }
  close(ready[1]);
  close(returned[1]);
  char byte = 0;
  REQUIRE(read(ready[0], &byte, 1) == 1);
  // Signals sent before wait() installs its handler are ignored; keep
  // sending until one arrives after it (bounded at 20 s).
  bool exited = false;
  int status = 0;
  for (int i = 0; i < 400 && !exited; ++i) {
    kill(pid, SIGTERM);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    exited = waitpid(pid, &status, WNOHANG) == pid;
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  CHECK(exited);
  // A later SIGTERM may hit the child after wait() gave the signal back;
  // what matters is that wait() returned.
  CHECK(read(returned[0], &byte, 1) == 1);
  close(ready[0]);
  close(returned[0]);
}

TEST_CASE("serve: start() reports bad options", "[serve][server]") {
  aptship::test::ScopedTempDir tmp;
  fs::create_directories("root");
  auto bad = [](ServeOptions options) {
    auto started = Server::start(std::move(options));
    REQUIRE_FALSE(started);
    return started.error().message();
  };
  ServeOptions options;
  options.root = "root";
  options.listen = "127.0.0.1";
  CHECK(bad(options).find("ADDR:PORT") != std::string::npos);
  options.listen = "127.0.0.1:99999";
  CHECK(bad(options).find("port") != std::string::npos);
  options.listen = "example.com:80";
  CHECK(bad(options).find("not an IP address") != std::string::npos);
  options.listen = "127.0.0.1:0";
  options.trusted_proxies = {"proxy.example"};
  CHECK(bad(options).find("trusted proxy") != std::string::npos);
  options.trusted_proxies.clear();
  options.root = "missing";
  CHECK(bad(options).find("missing") != std::string::npos);

  // A port in use cannot be bound twice.
  options.root = "root";
  auto first = Server::start(options);
  REQUIRE(first);
  options.listen = fmt::format("127.0.0.1:{}", (*first)->port());
  CHECK(bad(options).find("bind") != std::string::npos);
}
