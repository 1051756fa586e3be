#include "aptrepo/serve/server.hpp"

#include <pthread.h>

#include <csignal>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include "aptrepo/core/log.hpp"
#include "aptrepo/serve/connection.hpp"
#include "aptrepo/serve/file_tree.hpp"
#include "aptrepo/serve/responder.hpp"

namespace aptship::serve {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;

// Parses "ADDR:PORT", "[V6ADDR]:PORT", ":PORT" or "*:PORT" (all IPv4
// addresses) and "localhost:PORT".
Expected<tcp::endpoint> parse_listen(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return make_error("listen address \"{}\" is not ADDR:PORT", text);
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string_view::npos ||
      (port = static_cast<unsigned>(std::stoul(std::string(port_text)))) > 65535) {
    return make_error("listen address \"{}\" has no valid port", text);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  asio::ip::address address;
  if (host.empty() || host == "*") {
    address = asio::ip::address_v4::any();
  } else if (host == "localhost") {
    address = asio::ip::address_v4::loopback();
  } else {
    boost::system::error_code ec;
    address = asio::ip::make_address(std::string(host), ec);
    if (ec) {
      return make_error("listen address \"{}\": \"{}\" is not an IP address", text, host);
    }
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

class ServerImpl final : public Server {
public:
  explicit ServerImpl(ServeOptions options) : m_options(std::move(options)) {}
  ServerImpl(const ServerImpl&) = delete;
  ServerImpl& operator=(const ServerImpl&) = delete;
  ~ServerImpl() override { stop(); }

  Expected<void> init();
  [[nodiscard]] uint16_t port() const override { return m_port; }
  void stop() override;
  void wait() override;

private:
  void accept();
  void run_worker(Worker& worker);

  ServeOptions m_options;
  std::optional<FileTree> m_tree;
  std::optional<Responder> m_responder;
  std::optional<ServerState> m_state;
  std::vector<std::unique_ptr<Worker>> m_workers;
  std::vector<asio::executor_work_guard<Executor>> m_work;
  // On the first worker's io_context; declared after m_workers so that it
  // is destroyed before them.
  std::optional<Acceptor> m_acceptor;
  std::optional<Timer> m_accept_retry;
  size_t m_next_worker = 0;
  uint16_t m_port = 0;

  std::mutex m_stop_mutex;
  bool m_stopped = false;
  bool m_started = false;
  asio::io_context m_wait_context{1};
};

Expected<void> ServerImpl::init() {
  TRY_ASSIGN(auto tree, FileTree::open(m_options.root));
  m_tree.emplace(std::move(tree));
  m_responder.emplace(*m_tree, m_options);
  std::vector<asio::ip::address> trusted;
  for (const auto& text : m_options.trusted_proxies) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(text, ec);
    if (ec) {
      return make_error("trusted proxy \"{}\" is not an IP address", text);
    }
    trusted.push_back(address);
  }
  m_state.emplace(ServerState{m_options, *m_responder, std::move(trusted)});
  TRY_ASSIGN(tcp::endpoint endpoint, parse_listen(m_options.listen));

  unsigned threads = m_options.threads;
  if (threads == 0) {
    threads = std::max(1U, std::thread::hardware_concurrency());
  }
  for (unsigned i = 0; i < threads; ++i) {
    m_workers.push_back(std::make_unique<Worker>());
    m_work.push_back(asio::make_work_guard(m_workers.back()->context.get_executor()));
  }

  m_acceptor.emplace(m_workers.front()->context.get_executor());
  m_accept_retry.emplace(m_workers.front()->context.get_executor());
  boost::system::error_code ec;
  auto fail = [&](std::string_view what) {
    return make_error("listening on {}: {}: {}", m_options.listen, what, ec.message());
  };
  if (m_acceptor->open(endpoint.protocol(), ec); ec) {
    return fail("socket");
  }
  if (m_acceptor->set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return fail("SO_REUSEADDR");
  }
  if (m_acceptor->bind(endpoint, ec); ec) {
    return fail("bind");
  }
  if (m_acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
    return fail("listen");
  }
  m_port = m_acceptor->local_endpoint(ec).port();
  if (ec) {
    return fail("getsockname");
  }
  accept();
  for (auto& worker : m_workers) {
    Worker* w = worker.get();
    w->thread = std::thread([this, w] { run_worker(*w); });
  }
  m_started = true;
  log::debug("serving {} on {}:{} with {} threads", m_tree->root(), endpoint.address().to_string(),
             m_port, m_workers.size());
  return {};
}

void ServerImpl::run_worker(Worker& worker) {
  // sendfile(2) to a socket the client closed raises SIGPIPE, which no flag
  // suppresses; blocked in this thread, it leaves just EPIPE.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  for (;;) {
    try {
      worker.context.run();
      return;
    } catch (const std::exception& e) {
      // A daemon logs and keeps serving the other connections.
      log::error("server thread: {}", e.what());
    }
  }
}

void ServerImpl::accept() {
  Worker& worker = *m_workers[m_next_worker];
  m_next_worker = (m_next_worker + 1) % m_workers.size();
  m_acceptor->async_accept(
      worker.context.get_executor(),
      [this, &worker](const boost::system::error_code& ec, Socket socket) {
        if (ec == asio::error::operation_aborted || !m_acceptor->is_open()) {
          return;
        }
        if (ec) {
          // Out of descriptors, typically: retrying at once would spin.
          log::warning("accepting a connection: {}", ec.message());
          m_accept_retry->expires_after(std::chrono::milliseconds(100));
          m_accept_retry->async_wait([this](const boost::system::error_code& e) {
            if (!e && m_acceptor->is_open()) {
              accept();
            }
          });
          return;
        }
        asio::post(worker.context, [this, &worker, socket = std::move(socket)]() mutable {
          if (worker.stopping) {
            return;
          }
          std::make_shared<Connection>(*m_state, worker, std::move(socket))->start();
        });
        accept();
      });
}

void ServerImpl::stop() {
  std::lock_guard lock(m_stop_mutex);
  if (m_stopped) {
    return;
  }
  m_stopped = true;
  if (!m_workers.empty()) {
    asio::post(m_workers.front()->context, [this] {
      boost::system::error_code ec;
      m_acceptor->close(ec);
      m_accept_retry->cancel();
    });
    for (auto& worker : m_workers) {
      Worker* w = worker.get();
      asio::post(w->context, [w] {
        w->stopping = true;
        auto connections = w->connections;
        for (auto& [pointer, weak] : connections) {
          if (auto connection = weak.lock()) {
            connection->close();
          }
        }
      });
    }
    m_work.clear();
    for (auto& worker : m_workers) {
      if (worker->thread.joinable()) {
        worker->thread.join();
      }
    }
  }
  m_wait_context.stop();
  if (m_started) {
    log::debug("stopped serving on port {}", m_port);
  }
}

void ServerImpl::wait() {
  {
    asio::signal_set signals(m_wait_context, SIGINT, SIGTERM);
    signals.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (!ec) {
        log::info("received signal {}, stopping", signal);
      }
      m_wait_context.stop();
    });
    m_wait_context.run();
  }
  stop();
}

} // namespace

Expected<std::unique_ptr<Server>> Server::start(ServeOptions options) {
  auto server = std::make_unique<ServerImpl>(std::move(options));
  TRY(server->init());
  return std::unique_ptr<Server>(std::move(server));
}

} // namespace aptship::serve
