#pragma once

// The health gate: an HTTP GET on the host itself (not through the load
// balancer) that must pass RISE times in a row before the host takes
// traffic again.

#include <chrono>
#include <string>

#include "aptrepo/core/error.hpp"
#include "aptrepo/fleet/clock.hpp"
#include "aptrepo/fleet/fleet_file.hpp"

namespace aptship::fleet {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

class HealthChecker {
public:
  virtual ~HealthChecker() = default;
  // One GET of URL within TIMEOUT; a failure to connect or a malformed
  // answer is an error.
  [[nodiscard]] virtual Expected<HttpAnswer> get(const std::string& url,
                                                 std::chrono::milliseconds timeout) = 0;
};

// A blocking HTTP/1.1 client: one GET with Connection: close, plain http://
// only, the body read to EOF (chunked bodies are decoded).
class HttpHealthChecker final : public HealthChecker {
public:
  [[nodiscard]] Expected<HttpAnswer> get(const std::string& url,
                                         std::chrono::milliseconds timeout) override;
};

// Parses an HTTP/1.x response (status line, headers, body to EOF or
// Content-Length, chunked decoded).
[[nodiscard]] Expected<HttpAnswer> parse_http_response(std::string_view response);

// Why the probe ANSWER (or its error) fails SPEC; empty when it passes.
[[nodiscard]] std::string probe_failure(const Expected<HttpAnswer>& answer, const HealthSpec& spec);

// Probes URL every SPEC.interval until SPEC.rise consecutive passes, or fails
// with the last reason once SPEC.timeout has passed.
[[nodiscard]] Expected<void> health_gate(HealthChecker& checker, Clock& clock,
                                         const HealthSpec& spec, const std::string& url);

} // namespace aptship::fleet
