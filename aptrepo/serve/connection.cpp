#include "aptrepo/serve/connection.hpp"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <fmt/format.h>

#include "aptrepo/core/log.hpp"
#include "aptrepo/serve/http_fields.hpp"
#include "aptrepo/serve/request_path.hpp"

namespace aptship::serve {

namespace http = boost::beast::http;
using std::chrono::steady_clock;

namespace {

constexpr size_t k_read_size = 16 * 1024;
// File bodies up to this size are read into the head's buffer and leave in
// one send(2): for small index files that beats a second system call.
constexpr uint64_t k_inline_body = 64 * 1024;
constexpr size_t k_sendfile_chunk = 4 * 1024 * 1024;
// Writes in a row before one connection lets the others of its worker run.
constexpr int k_write_rounds = 8;
// How long, and how much, a closing connection drains from the client so
// that its unread request bytes do not turn our last response into a reset.
constexpr std::chrono::seconds k_linger_time{2};
constexpr size_t k_linger_bytes = 1024 * 1024;
// An in-memory body larger than this is not kept for the next request.
constexpr size_t k_keep_buffer = 256 * 1024;

std::string_view view(boost::beast::string_view text) {
  return {text.data(), text.size()};
}

boost::asio::ip::address normalized(const boost::asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

bool is_would_block(int err) {
  return err == EAGAIN || err == EWOULDBLOCK;
}

} // namespace

Connection::Connection(const ServerState& state, Worker& worker, Socket socket)
    : m_state(state), m_worker(worker), m_socket(std::move(socket)),
      m_timer(worker.context.get_executor()),
      m_buffer(state.options.max_header_bytes + k_read_size) {}

void Connection::start() {
  m_worker.connections.emplace(this, weak_from_this());
  boost::system::error_code ec;
  auto endpoint = m_socket.remote_endpoint(ec);
  if (ec) {
    close();
    return;
  }
  auto address = normalized(endpoint.address());
  m_client = address.to_string();
  const auto& trusted = m_state.trusted_proxies;
  m_peer_trusted = std::find(trusted.begin(), trusted.end(), address) != trusted.end();
  m_socket.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  m_socket.native_non_blocking(true, ec);
  if (ec) {
    close();
    return;
  }
  // The first request's clock starts at accept: a client that connects and
  // stays silent is a slow client, not an idle one.
  m_request_started = true;
  m_request_start = steady_clock::now();
  arm(m_state.options.request_timeout);
  read();
}

void Connection::close() {
  if (m_closed) {
    return;
  }
  m_closed = true;
  if (m_responding) {
    log_access(); // cut short: the log shows how much was sent
    m_responding = false;
  }
  boost::system::error_code ec;
  m_socket.shutdown(boost::asio::socket_base::shutdown_both, ec);
  m_socket.close(ec);
  m_timer.cancel();
  m_file = Fd();
  m_worker.connections.erase(this);
}

void Connection::read() {
  size_t room = m_buffer.max_size() - m_buffer.size();
  if (room == 0) {
    fail(431);
    return;
  }
  m_socket.async_read_some(m_buffer.prepare(std::min(room, k_read_size)),
                           [self = shared_from_this()](const boost::system::error_code& ec,
                                                       size_t bytes) { self->on_read(ec, bytes); });
}

void Connection::on_read(const boost::system::error_code& ec, size_t bytes) {
  if (m_closed) {
    return;
  }
  if (ec) {
    close();
    return;
  }
  m_buffer.commit(bytes);
  if (!m_request_started) {
    m_request_started = true;
    m_request_start = steady_clock::now();
    arm(m_state.options.request_timeout);
  }
  process();
}

bool Connection::check_proxy_line() {
  auto data = m_buffer.data();
  ProxyLine line =
      parse_proxy_line(std::string_view(static_cast<const char*>(data.data()), data.size()));
  switch (line.kind) {
  case ProxyLine::Kind::absent:
    m_proxy_checked = true;
    return true;
  case ProxyLine::Kind::partial:
    read();
    return false;
  case ProxyLine::Kind::invalid:
    fail(400);
    return false;
  case ProxyLine::Kind::complete:
    break;
  }
  if (!m_peer_trusted) {
    // Only a configured proxy may say who the client is.
    fail(400);
    return false;
  }
  if (!line.source.empty()) {
    m_client = line.source;
  }
  m_buffer.consume(line.length);
  m_proxy_checked = true;
  return true;
}

void Connection::process() {
  if (m_closed) {
    return;
  }
  if (!m_proxy_checked && !check_proxy_line()) {
    return;
  }
  if (!m_parser) {
    m_parser.emplace();
    m_parser->header_limit(static_cast<std::uint32_t>(m_state.options.max_header_bytes));
    m_parser->eager(false);
  }
  while (!m_parser->is_header_done()) {
    if (m_buffer.size() == 0) {
      read();
      return;
    }
    boost::beast::error_code ec;
    size_t used = m_parser->put(m_buffer.data(), ec);
    m_buffer.consume(used);
    if (ec == http::error::need_more) {
      if (m_buffer.size() >= m_state.options.max_header_bytes) {
        fail(431);
      } else {
        read();
      }
      return;
    }
    if (ec == http::error::header_limit) {
      fail(431);
      return;
    }
    if (ec == http::error::bad_version && names_other_http_version()) {
      fail(505);
      return;
    }
    if (ec) {
      fail(400);
      return;
    }
    if (used == 0 && !m_parser->is_header_done()) {
      read();
      return;
    }
  }
  handle_request();
}

bool Connection::names_other_http_version() const {
  auto data = m_buffer.data();
  std::string_view text(static_cast<const char*>(data.data()), data.size());
  std::string_view line = text.substr(0, text.find("\r\n"));
  size_t space = line.rfind(' ');
  if (space == std::string_view::npos) {
    return false;
  }
  std::string_view version = line.substr(space + 1);
  return version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[6] == '.' &&
         std::isdigit(static_cast<unsigned char>(version[5])) &&
         std::isdigit(static_cast<unsigned char>(version[7]));
}

void Connection::handle_request() {
  const auto& request = m_parser->get();
  m_log_method = log_escape(view(request.method_string()), 32);
  m_log_target = log_escape(view(request.target()));
  m_log_client = m_client;
  if (m_peer_trusted) {
    auto forwarded = request.equal_range("X-Forwarded-For");
    std::string_view last;
    for (auto it = forwarded.first; it != forwarded.second; ++it) {
      last = view(it->value());
    }
    if (auto address = last_forwarded_for(last)) {
      m_log_client = *address;
    }
  }
  unsigned version = request.version();

  RequestInfo info;
  switch (request.method()) {
  case http::verb::get:
    info.method = Method::get;
    break;
  case http::verb::head:
    info.method = Method::head;
    break;
  default:
    info.method = Method::other;
  }
  info.target = view(request.target());
  info.host = view(request[http::field::host]);
  info.if_none_match = view(request[http::field::if_none_match]);
  info.if_modified_since = view(request[http::field::if_modified_since]);
  info.range = view(request[http::field::range]);
  info.if_range = view(request[http::field::if_range]);
  auto length = m_parser->content_length();
  info.has_body = m_parser->chunked() || (length && *length > 0);

  Response response = m_state.responder.respond(info);
  KeepAlive keep = m_parser->keep_alive() && !response.close && !m_worker.stopping ? KeepAlive::yes
                                                                                   : KeepAlive::no;
  m_parser.reset();
  begin_response(std::move(response), keep, version);
}

void Connection::fail(unsigned status) {
  m_parser.reset();
  m_log_method = "-";
  m_log_target = "-";
  m_log_client = m_client;
  begin_response(error_response(status), KeepAlive::no, 11);
}

void Connection::begin_response(Response response, KeepAlive keep, unsigned version) {
  m_response = std::move(response);
  m_keep = keep;
  m_out.clear();
  append_head(m_response, keep, version, m_out);
  m_head_size = m_out.size();
  m_out_pos = 0;
  m_body_sent = 0;
  m_file_left = 0;
  if (m_response.send_body) {
    if (m_response.file && m_response.content_length <= k_inline_body) {
      size_t length = m_response.content_length;
      m_out.resize(m_head_size + length);
      size_t done = 0;
      while (done < length) {
        ssize_t n = pread(m_response.file.get(), m_out.data() + m_head_size + done, length - done,
                          static_cast<off_t>(m_response.file_offset + done));
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n <= 0) {
          // Truncated or unreadable since fstat: nothing is sent yet, so
          // the client can still get a clean error.
          log::warning("reading {}: {}", m_log_target,
                       n == 0 ? "file shrank while being served" : std::strerror(errno));
          m_out.clear();
          m_response = error_response(500);
          m_keep = KeepAlive::no;
          append_head(m_response, m_keep, version, m_out);
          m_head_size = m_out.size();
          m_out += m_response.body;
          break;
        }
        done += static_cast<size_t>(n);
      }
      m_response.file = Fd();
    } else if (m_response.file) {
      m_file = std::move(m_response.file);
      m_file_offset = static_cast<off_t>(m_response.file_offset);
      m_file_left = m_response.content_length;
    } else {
      m_out += m_response.body;
    }
  }
  m_response.body.clear();
  m_responding = true;
  write();
}

void Connection::write() {
  if (m_closed) {
    return;
  }
  int fd = m_socket.native_handle();
  for (int round = 0; round < k_write_rounds; ++round) {
    ssize_t n = 0;
    size_t wanted = 0;
    if (m_out_pos < m_out.size()) {
      // The head of a file response leaves in a send of its own, not with
      // MSG_MORE ahead of the file's pages. Since Linux 6.5 a receiver
      // scales its window by the payload-to-memory ratio of the full-sized
      // segments it takes in, and that ratio settles early in a
      // connection. A first segment mixing copied head bytes with file
      // pages settled it low: on loopback with 32 clients their windows
      // stayed at 95,232 bytes (128 KiB buffers) instead of about 128,000,
      // every later segment was cut to 47,616 bytes, 19.8 segments per MiB
      // against 18.6, and a 50 MiB file came about 5 % slower.
      int flags = MSG_NOSIGNAL;
      wanted = m_out.size() - m_out_pos;
      n = ::send(fd, m_out.data() + m_out_pos, wanted, flags);
      if (n > 0) {
        size_t before = m_out_pos;
        m_out_pos += static_cast<size_t>(n);
        m_body_sent += m_out_pos - std::max(before, std::min(m_head_size, m_out_pos));
      }
    } else if (m_file_left > 0) {
      wanted = static_cast<size_t>(std::min<uint64_t>(m_file_left, k_sendfile_chunk));
      n = ::sendfile(fd, m_file.get(), &m_file_offset, wanted);
      if (n > 0) {
        m_file_left -= static_cast<uint64_t>(n);
        m_body_sent += static_cast<uint64_t>(n);
      } else if (n == 0) {
        // The file shrank after its length went out: the connection
        // cannot carry a shorter body, only end.
        log::warning("serving {}: file shrank while being sent", m_log_target);
        close();
        return;
      }
    } else {
      finish_response();
      return;
    }
    if (n > 0) {
      if (static_cast<size_t>(n) < wanted) {
        // A short write means a full socket buffer: asking again would
        // only return EAGAIN.
        wait_writable();
        return;
      }
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (is_would_block(errno)) {
      wait_writable();
      return;
    }
    close(); // EPIPE, ECONNRESET: the client went away
    return;
  }
  // Still writable after many rounds: let the worker's other connections in.
  boost::asio::post(m_socket.get_executor(), [self = shared_from_this()] { self->write(); });
}

void Connection::wait_writable() {
  // A reader that takes nothing for idle_timeout is dropped.
  arm(m_state.options.idle_timeout);
  // The wait re-arms the socket in epoll, which reports it at once if it
  // became writable in the meantime, so no wake-up is lost.
  m_socket.async_wait(Socket::wait_write,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                        if (ec) {
                          self->close();
                        } else {
                          self->write();
                        }
                      });
}

void Connection::finish_response() {
  m_responding = false;
  log_access();
  m_file = Fd();
  if (m_out.capacity() > k_keep_buffer) {
    std::string().swap(m_out);
  }
  if (m_keep == KeepAlive::no || m_worker.stopping) {
    close_gracefully();
    return;
  }
  next_request();
}

void Connection::next_request() {
  if (m_buffer.size() > 0) {
    // A pipelined request is already here; posting keeps the stack flat.
    m_request_started = true;
    m_request_start = steady_clock::now();
    arm(m_state.options.request_timeout);
    boost::asio::post(m_socket.get_executor(), [self = shared_from_this()] { self->process(); });
    return;
  }
  m_request_started = false;
  arm(m_state.options.idle_timeout);
  read();
}

void Connection::close_gracefully() {
  boost::system::error_code ec;
  m_socket.shutdown(boost::asio::socket_base::shutdown_send, ec);
  if (ec) {
    close();
    return;
  }
  m_lingering = true;
  arm(std::min<steady_clock::duration>(k_linger_time, m_state.options.request_timeout));
  m_buffer.consume(m_buffer.size());
  linger_read();
}

void Connection::linger_read() {
  m_socket.async_read_some(
      m_buffer.prepare(k_read_size),
      [self = shared_from_this()](const boost::system::error_code& ec, size_t bytes) {
        if (self->m_closed) {
          return;
        }
        self->m_linger_bytes += bytes;
        self->m_buffer.consume(self->m_buffer.size());
        if (ec || self->m_linger_bytes > k_linger_bytes) {
          self->close();
          return;
        }
        self->linger_read();
      });
}

void Connection::arm(steady_clock::duration timeout) {
  m_deadline = steady_clock::now() + timeout;
  // The timer is only moved when the deadline comes earlier; a later
  // deadline is picked up when it fires, which keeps the common case (a
  // keep-alive request) free of timer operations.
  if (m_timer_running && m_deadline >= m_timer.expiry()) {
    return;
  }
  m_timer.expires_at(m_deadline);
  m_timer_running = true;
  m_timer.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec) { self->on_timer(ec); });
}

void Connection::on_timer(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::operation_aborted || m_closed) {
    return; // replaced by a newer wait, or closed
  }
  auto now = steady_clock::now();
  if (m_timer.expiry() > now) {
    return; // the timer was moved earlier and a newer wait is pending
  }
  if (now < m_deadline) {
    m_timer.expires_at(m_deadline);
    m_timer.async_wait(
        [self = shared_from_this()](const boost::system::error_code& e) { self->on_timer(e); });
    return;
  }
  m_timer_running = false;
  if (!m_lingering) {
    log::debug("closing the connection of {}: {}", m_client,
               m_responding        ? "it stopped reading"
               : m_request_started ? "request head not received in time"
                                   : "idle");
  }
  close();
}

void Connection::log_access() {
  const auto& options = m_state.options;
  bool to_log = options.access_log && log::level() <= log::Level::info;
  if (!to_log && !options.access_log_hook) {
    return;
  }
  std::chrono::duration<double, std::milli> took = steady_clock::now() - m_request_start;
  std::string line = fmt::format("{} {} {} {} {} {:.3f}ms", m_log_client, m_log_method,
                                 m_log_target, m_response.status, m_body_sent, took.count());
  if (to_log) {
    log::info("{}", line);
  }
  if (options.access_log_hook) {
    options.access_log_hook(line);
  }
}

} // namespace aptship::serve
