#pragma once

// The HTTP/1.1 server for a published repository tree and a small JSON API,
// on Boost.Beast/Asio: a fixed pool of threads serving many connections.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship::serve {

// A request the static tree does not answer, passed to the application.
struct AppRequest {
  std::string path;                         // decoded path, e.g. "/api/v1/packages"
  std::map<std::string, std::string> query; // decoded query parameters
  std::string host;                         // the Host header ("" if absent)
};

struct AppResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Answers AppRequests for paths under the prefixes it was registered for;
// returns nothing to let the server answer 404. Called on the server's
// threads, several at once: it must be thread-safe. An exception it throws
// becomes a 500 and an error log line.
using AppHandler = std::function<std::optional<AppResponse>(const AppRequest&)>;

struct ServeOptions {
  std::string listen = "127.0.0.1:8080"; // ADDR:PORT; port 0 picks a free port
  std::filesystem::path root;            // the published tree
  // Paths (exact, or prefixes ending in "/") answered by APP instead of files.
  std::vector<std::string> app_paths = {"/api/", "/aptship.sources"};
  AppHandler app;
  // Client addresses (exact IPs) whose X-Forwarded-For / PROXY protocol
  // headers are believed for logging.
  std::vector<std::string> trusted_proxies;
  unsigned threads = 0; // 0 = one per core
  size_t max_header_bytes = 16 * 1024;
  std::chrono::seconds idle_timeout{60};    // keep-alive connection with no request
  std::chrono::seconds request_timeout{30}; // whole request head must arrive in this
  bool access_log = true;                   // one line per request on stderr via aptship::log
  // Also receives each access log line ("CLIENT METHOD TARGET STATUS BYTES
  // DURATION"), whatever access_log says; called on the server's threads.
  std::function<void(std::string_view line)> access_log_hook;
};

class Server {
public:
  // Binds and starts serving on background threads.
  [[nodiscard]] static Expected<std::unique_ptr<Server>> start(ServeOptions options);
  virtual ~Server() = default;
  // The bound port (useful with port 0).
  [[nodiscard]] virtual uint16_t port() const = 0;
  // Stops accepting, closes connections, joins the threads; idempotent.
  // Not to be called from a server thread (the application handler).
  virtual void stop() = 0;
  // Blocks until stop() is called or SIGINT/SIGTERM arrives.
  virtual void wait() = 0;
};

} // namespace aptship::serve
