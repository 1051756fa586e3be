#pragma once

// One client connection: reads request heads with Beast's parser, answers
// each through the Responder, writes the head and in-memory bodies with
// send(2) and file bodies with sendfile(2), and enforces the timeouts.
// Every connection lives on one worker, whose single thread is the only one
// that touches it, so nothing here needs a lock.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/serve/responder.hpp"
#include "aptrepo/serve/response.hpp"
#include "aptrepo/serve/server.hpp"

namespace aptship::serve {

using Executor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
using Timer = boost::asio::basic_waitable_timer<
    std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;

// What every connection shares; read-only while the server runs.
struct ServerState {
  const ServeOptions& options;
  const Responder& responder;
  std::vector<boost::asio::ip::address> trusted_proxies;
};

class Connection;

// One io_context run by one thread, and the connections it serves.
struct Worker {
  boost::asio::io_context context{1};
  // Touched only on this worker's thread.
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;
  bool stopping = false; // set on this worker's thread by Server::stop()
  std::thread thread;
};

class Connection : public std::enable_shared_from_this<Connection> {
public:
  // SOCKET must belong to WORKER's io_context; STATE must outlive it.
  Connection(const ServerState& state, Worker& worker, Socket socket);

  // Registers with the worker and starts reading; call on the worker's thread.
  void start();
  // Closes at once, cancelling whatever is pending; idempotent.
  void close();

private:
  void read();
  void on_read(const boost::system::error_code& ec, size_t bytes);
  void process();
  [[nodiscard]] bool check_proxy_line();
  // True when the buffered request line names an HTTP version other than 1.x.
  [[nodiscard]] bool names_other_http_version() const;
  void handle_request();
  void fail(unsigned status);
  void begin_response(Response response, KeepAlive keep, unsigned version);
  void write();
  void wait_writable();
  void finish_response();
  void next_request();
  void close_gracefully();
  void linger_read();
  void arm(std::chrono::steady_clock::duration timeout);
  void on_timer(const boost::system::error_code& ec);
  void log_access();

  const ServerState& m_state;
  Worker& m_worker;
  Socket m_socket;
  Timer m_timer;
  std::chrono::steady_clock::time_point m_deadline;
  bool m_timer_running = false;

  boost::beast::flat_buffer m_buffer;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> m_parser;
  std::string m_client; // the socket peer, or the address a trusted PROXY line gave
  bool m_peer_trusted = false;
  bool m_proxy_checked = false;
  bool m_request_started = false;
  std::chrono::steady_clock::time_point m_request_start;
  bool m_closed = false;
  bool m_lingering = false;
  size_t m_linger_bytes = 0;

  // The response being written.
  bool m_responding = false;
  Response m_response;
  KeepAlive m_keep = KeepAlive::yes;
  std::string m_out; // head, then any in-memory body
  size_t m_out_pos = 0;
  size_t m_head_size = 0;
  Fd m_file;
  off_t m_file_offset = 0;
  uint64_t m_file_left = 0;
  uint64_t m_body_sent = 0;
  std::string m_log_client;
  std::string m_log_method;
  std::string m_log_target;
};

} // namespace aptship::serve
