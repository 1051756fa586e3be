// `aptship repo ...`: the package database, the pool and the published
// suites: add, remove, list, promote, publish, gc.

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aptrepo/index/repo.hpp"
#include "builder/cli/command.hpp"

namespace aptship::cli {

namespace {

namespace fs = std::filesystem;
using index::Membership;

// Past this many packages an add or a remove prints a count, not a line
// per package: a bulk import should not scroll 100,000 lines by.
constexpr size_t k_max_listed = 20;

Expected<index::Repository> open_repository(const Context& ctx) {
  index::RepoOptions options;
  TRY_ASSIGN(options.lock.timeout, index::lock_timeout_from_env());
  options.lock.on_wait = [](pid_t holder) {
    if (holder > 0) {
      fmt::print(stderr, "aptship: waiting for the repository lock (held by pid {})\n", holder);
    } else {
      fmt::print(stderr, "aptship: waiting for the repository lock (held by another process)\n");
    }
    std::fflush(stderr);
  };
  TRY_ASSIGN(index::Repository repo, index::Repository::open(ctx.data_dir(), options));
  for (const auto& published : repo.caught_up()) {
    fmt::print("published {} (left unpublished by an earlier run): generation {}\n",
               published.suite, published.result.generation);
  }
  return repo;
}

std::string describe(const Membership& m) {
  return fmt::format("{} {} ({})", m.name, m.version, m.architecture);
}

// One line per package, or a count when there are many.
void print_packages(std::string_view verb, const std::vector<Membership>& list,
                    std::string_view where) {
  if (list.empty()) {
    return;
  }
  std::string suffix = where.empty() ? std::string() : fmt::format(" {}", where);
  if (list.size() > k_max_listed) {
    fmt::print("{} {} packages{}\n", verb, list.size(), suffix);
    return;
  }
  for (const Membership& m : list) {
    fmt::print("{} {}{}\n", verb, describe(m), suffix);
  }
}

void print_published(const std::vector<index::PublishedSuite>& published) {
  for (const auto& p : published) {
    fmt::print("published {}: generation {}, {} indexes written, {} unchanged\n", p.suite,
               p.result.generation, p.result.indexes_written, p.result.indexes_reused);
  }
}

struct AddArgs {
  std::string suite = "stable";
  std::string component = "main";
  std::vector<std::string> inputs;
};

Expected<void> run_add(const Context& ctx, const AddArgs& args) {
  index::AddRequest request;
  request.suite = args.suite;
  request.component = args.component;
  request.inputs.assign(args.inputs.begin(), args.inputs.end());
  TRY_ASSIGN(index::Repository repo, open_repository(ctx));
  TRY_ASSIGN(index::AddResult result, repo.add(request));
  std::string where = fmt::format("{}/{}", args.suite, args.component);
  print_packages("added", result.added, "to " + where);
  print_packages("already in " + where + ":", result.already_listed, "");
  print_packages("pruned", result.pruned, fmt::format("from {} (retention)", where));
  print_published(result.published);
  return {};
}

struct RemoveArgs {
  std::string suite;
  std::vector<std::string> specs;
};

Expected<void> run_remove(const Context& ctx, const RemoveArgs& args) {
  std::vector<index::PackageSpec> specs;
  for (const auto& text : args.specs) {
    TRY_ASSIGN(index::PackageSpec spec, index::parse_package_spec(text));
    specs.push_back(std::move(spec));
  }
  TRY_ASSIGN(index::Repository repo, open_repository(ctx));
  TRY_ASSIGN(index::RemoveResult result, repo.remove(args.suite, specs));
  if (result.removed.size() > k_max_listed) {
    fmt::print("removed {} packages from {}\n", result.removed.size(), args.suite);
  } else {
    for (const Membership& m : result.removed) {
      fmt::print("removed {} from {}/{}\n", describe(m), m.suite, m.component);
    }
  }
  print_published(result.published);
  return {};
}

struct ListArgs {
  std::string suite;
  bool json = false;
};

Expected<void> run_list(const Context& ctx, const ListArgs& args) {
  TRY_ASSIGN(std::vector<Membership> rows, index::list_packages(ctx.data_dir(), args.suite));
  std::string out;
  if (args.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const Membership& m : rows) {
      list.push_back({{"name", m.name},
                      {"version", m.version},
                      {"architecture", m.architecture},
                      {"suite", m.suite},
                      {"component", m.component},
                      {"filename", m.filename},
                      {"sha256", m.sha256}});
    }
    out = list.dump(2);
    out += '\n';
  } else {
    size_t widths[4] = {0, 0, 0, 0};
    for (const Membership& m : rows) {
      widths[0] = std::max(widths[0], m.name.size());
      widths[1] = std::max(widths[1], m.version.size());
      widths[2] = std::max(widths[2], m.architecture.size());
      widths[3] = std::max(widths[3], m.suite.size());
    }
    for (const Membership& m : rows) {
      out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", m.name, widths[0], m.version,
                         widths[1], m.architecture, widths[2], m.suite, widths[3], m.component);
    }
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    return errno_error("writing to standard output", errno);
  }
  return {};
}

struct PromoteArgs {
  std::string spec;
  std::string from;
  std::string to;
};

Expected<void> run_promote(const Context& ctx, const PromoteArgs& args) {
  TRY_ASSIGN(index::PackageSpec spec, index::parse_package_spec(args.spec));
  TRY_ASSIGN(index::Repository repo, open_repository(ctx));
  TRY_ASSIGN(index::PromoteResult result, repo.promote(spec, args.from, args.to));
  for (const Membership& m : result.promoted) {
    fmt::print("promoted {} from {} to {}/{}\n", describe(m), args.from, m.suite, m.component);
  }
  for (const Membership& m : result.already_listed) {
    fmt::print("already in {}/{}: {}\n", m.suite, m.component, describe(m));
  }
  for (const Membership& m : result.pruned) {
    fmt::print("pruned {} from {}/{} (retention)\n", describe(m), args.to, m.component);
  }
  print_published(result.published);
  return {};
}

Expected<void> run_publish(const Context& ctx, const std::string& suite) {
  TRY_ASSIGN(index::Repository repo, open_repository(ctx));
  TRY_ASSIGN(std::vector<index::PublishedSuite> published, repo.publish(suite));
  if (published.empty()) {
    fmt::print("nothing to publish: no suite lists a package yet\n");
  }
  print_published(published);
  return {};
}

Expected<void> run_gc(const Context& ctx) {
  TRY_ASSIGN(index::Repository repo, open_repository(ctx));
  TRY_ASSIGN(index::GcResult result, repo.gc());
  for (const std::string& file : result.removed_files) {
    fmt::print("removed {}\n", file);
  }
  fmt::print("gc: {} pool files removed, {} packages forgotten\n", result.removed_files.size(),
             result.forgotten_packages);
  return {};
}

} // namespace

void add_repo_commands(CLI::App& app, Context& ctx) {
  CLI::App* repo = app.add_subcommand("repo", "the apt repository: packages, suites, publishing");
  repo->require_subcommand(1);

  auto add = std::make_shared<AddArgs>();
  CLI::App* add_cmd =
      repo->add_subcommand("add", "add .deb files (or every .deb below folders) and publish");
  add_cmd->add_option("--suite", add->suite, "suite (default stable)");
  add_cmd->add_option("--component", add->component, "component (default main)");
  add_cmd->add_option("files", add->inputs, ".deb files or folders")->required();
  set_action(add_cmd, ctx, [&ctx, add] { return run_add(ctx, *add); });

  auto remove = std::make_shared<RemoveArgs>();
  CLI::App* remove_cmd =
      repo->add_subcommand("remove", "remove packages from a suite (every architecture)");
  remove_cmd->add_option("--suite", remove->suite, "suite")->required();
  remove_cmd->add_option("packages", remove->specs, "NAME or NAME=VERSION")->required();
  set_action(remove_cmd, ctx, [&ctx, remove] { return run_remove(ctx, *remove); });

  auto list = std::make_shared<ListArgs>();
  CLI::App* list_cmd =
      repo->add_subcommand("list", "list packages: name version arch suite component");
  list_cmd->add_option("--suite", list->suite, "only this suite");
  list_cmd->add_flag("--json", list->json, "a JSON array of objects");
  set_action(list_cmd, ctx, [&ctx, list] { return run_list(ctx, *list); });

  auto promote = std::make_shared<PromoteArgs>();
  CLI::App* promote_cmd = repo->add_subcommand(
      "promote", "list a package version of one suite in another: same file, same hashes");
  promote_cmd->add_option("package", promote->spec, "NAME=VERSION")->required();
  promote_cmd->add_option("--from", promote->from, "suite listing it")->required();
  promote_cmd->add_option("--to", promote->to, "suite to list it in")->required();
  set_action(promote_cmd, ctx, [&ctx, promote] { return run_promote(ctx, *promote); });

  auto publish_suite = std::make_shared<std::string>();
  CLI::App* publish_cmd = repo->add_subcommand(
      "publish", "publish again (refreshes Valid-Until); all suites by default");
  publish_cmd->add_option("--suite", *publish_suite, "only this suite");
  set_action(publish_cmd, ctx, [&ctx, publish_suite] { return run_publish(ctx, *publish_suite); });

  CLI::App* gc_cmd =
      repo->add_subcommand("gc", "remove pool files no suite lists and no kept generation names");
  set_action(gc_cmd, ctx, [&ctx] { return run_gc(ctx); });
}

} // namespace aptship::cli
