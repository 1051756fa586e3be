#pragma once

// Blocking stream sockets with deadlines, for the load balancers' runtime
// API and the health checks: connect, send a request, read to EOF.

#include <chrono>
#include <string>
#include <string_view>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"

namespace aptship::fleet {

// Connects to the unix socket at PATH, giving up after TIMEOUT.
[[nodiscard]] Expected<Fd> connect_unix(const std::string& path, std::chrono::milliseconds timeout);

// Connects to HOST:PORT over TCP (names resolved with getaddrinfo), giving up
// after TIMEOUT.
[[nodiscard]] Expected<Fd> connect_tcp(const std::string& host, const std::string& port,
                                       std::chrono::milliseconds timeout);

// Sends all of DATA and then reads until the peer closes, both within TIMEOUT.
[[nodiscard]] Expected<std::string> exchange(const Fd& fd, std::string_view data,
                                             std::chrono::milliseconds timeout);

} // namespace aptship::fleet
