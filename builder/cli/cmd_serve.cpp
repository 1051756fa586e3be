// aptship serve [--listen ADDR:PORT] [--root DIR]

#include <filesystem>

#include <fmt/format.h>

#include "aptrepo/core/log.hpp"
#include "aptrepo/index/config.hpp"
#include "aptrepo/serve/server.hpp"
#include "builder/cli/command.hpp"
#include "builder/cli/repo_api.hpp"

namespace aptship::cli {

namespace {

struct ServeArgs {
  std::string listen;
  std::string root;
  unsigned threads = 0;
};

Expected<void> run_serve(const Context& ctx, const ServeArgs& args) {
  const DataDir data = ctx.data_dir();
  serve::ServeOptions options;
  options.threads = args.threads;
  if (!args.root.empty()) {
    // A plain static tree: no repository, no API.
    options.root = args.root;
    options.app_paths.clear();
    options.listen = args.listen.empty() ? options.listen : args.listen;
  } else {
    TRY_ASSIGN(index::Config config, index::load_config(data.config()));
    options.root = data.public_root();
    options.listen = args.listen.empty() ? config.serve.listen : args.listen;
    options.trusted_proxies = config.serve.trusted_proxies;
    TRY_ASSIGN(std::shared_ptr<RepoApi> api, RepoApi::create(data));
    options.app = [api](const serve::AppRequest& request) { return api->handle(request); };
    std::error_code ec;
    std::filesystem::create_directories(options.root, ec);
    if (ec) {
      return make_error("{}: {}", options.root.string(), ec.message());
    }
  }
  const std::string root = options.root.string();
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  TRY_ASSIGN(std::unique_ptr<serve::Server> server, serve::Server::start(std::move(options)));
  log::info("serving {} on http://{}:{}/", root, host, server->port());
  server->wait();
  server->stop();
  return {};
}

} // namespace

void add_serve_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd =
      app.add_subcommand("serve", "serve the published repository and its JSON API over HTTP");
  cmd->add_option("--listen", args->listen,
                  "ADDR:PORT to listen on (default: [serve] listen, 127.0.0.1:8080)");
  cmd->add_option("--root", args->root,
                  "serve this directory instead of the data dir's repository");
  cmd->add_option("--threads", args->threads, "server threads (default: one per core)");
  set_action(cmd, ctx, [&ctx, args] { return run_serve(ctx, *args); });
}

} // namespace aptship::cli
