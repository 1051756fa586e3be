#include "aptrepo/fleet/socket.hpp"

#include <cerrno>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace aptship::fleet {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits for EVENTS on FD until DEADLINE; false on timeout.
Expected<bool> wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return errno_error("poll", errno);
    }
    return n > 0;
  }
}

// Connects the non-blocking socket FD to ADDR within DEADLINE.
Expected<void> connect_with_deadline(int fd, const sockaddr* addr, socklen_t len,
                                     Clock::time_point deadline) {
  if (::connect(fd, addr, len) == 0) {
    return {};
  }
  if (errno != EINPROGRESS && errno != EAGAIN) {
    return errno_error("connect", errno);
  }
  TRY_ASSIGN(bool ready, wait_for(fd, POLLOUT, deadline));
  if (!ready) {
    return make_error("connect: timed out");
  }
  int err = 0;
  socklen_t err_len = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) {
    return errno_error("getsockopt", errno);
  }
  if (err != 0) {
    return errno_error("connect", err);
  }
  return {};
}

} // namespace

Expected<Fd> connect_unix(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return make_error("unix socket path {} is longer than {} bytes", path,
                      sizeof(addr.sun_path) - 1);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    return errno_error("socket", errno);
  }
  TRY(connect_with_deadline(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr),
                            Clock::now() + timeout));
  return fd;
}

Expected<Fd> connect_tcp(const std::string& host, const std::string& port,
                         std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return make_error("resolving {}: {}", host, ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, &::freeaddrinfo);
  auto deadline = Clock::now() + timeout;
  std::string last = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!fd) {
      last = std::strerror(errno);
      continue;
    }
    auto connected = connect_with_deadline(fd.get(), ai->ai_addr, ai->ai_addrlen, deadline);
    if (connected) {
      return fd;
    }
    last = connected.error().message();
  }
  return make_error("{}:{}: {}", host, port, last);
}

Expected<std::string> exchange(const Fd& fd, std::string_view data,
                               std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      TRY_ASSIGN(bool ready, wait_for(fd.get(), POLLOUT, deadline));
      if (!ready) {
        return make_error("sending: timed out");
      }
      continue;
    }
    if (n < 0) {
      return errno_error("send", errno);
    }
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buffer[16384];
  while (true) {
    ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n > 0) {
      out.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      return out;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      TRY_ASSIGN(bool ready, wait_for(fd.get(), POLLIN, deadline));
      if (!ready) {
        return make_error("reading the answer: timed out after {} bytes", out.size());
      }
      continue;
    }
    return errno_error("recv", errno);
  }
}

} // namespace aptship::fleet
