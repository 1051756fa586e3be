// aptship build SRC [--rev REV] [-o DIR] [--app NAME] [--publish SUITE],
// and the build a push of a deploy branch runs from the pre-receive hook.

#include <cstdio>

#include <fmt/format.h>

#include "builder/cli/command.hpp"
#include "builder/pipeline/pipeline.hpp"
#include "builder/receive/app_name.hpp"

namespace aptship::cli {

namespace fs = std::filesystem;

namespace {

struct BuildArgs {
  std::string source;
  std::string rev;
  std::string output = ".";
  std::string app;
  std::string publish;
};

// Heroku-style output goes to stdout as it happens.
void print_line(std::string_view line) {
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

Expected<void> run_build(const Context& ctx, const BuildArgs& args) {
  pipeline::BuildOptions options;
  const fs::path source = fs::absolute(args.source);
  if (!args.rev.empty()) {
    options.source.repo = source;
    options.source.rev = args.rev;
  } else {
    options.source.dir = source;
  }
  options.app = args.app.empty() ? source.lexically_normal().filename().string() : args.app;
  if (options.app.empty()) {
    options.app = source.lexically_normal().parent_path().filename().string();
  }
  TRY_CTX(receive::validate_app_name(options.app),
          "the app name (from the directory's name; choose one with --app)");
  if (!args.publish.empty()) {
    options.publish = pipeline::Publish::yes;
    options.suite = args.publish;
  } else {
    options.publish = pipeline::Publish::no;
  }
  options.output_dir = args.output;
  options.pusher = "build";
  options.output = print_line;
  TRY(pipeline::build_app(ctx.data_dir(), options));
  return {};
}

} // namespace

receive::BuildFn push_build_function(Context& ctx) {
  return
      [&ctx](const receive::PushedRef& ref, const receive::OutputSink& output) -> Expected<void> {
        pipeline::BuildOptions options;
        options.app = ref.app;
        options.suite = ref.suite;
        options.pusher = ref.pusher;
        options.source.repo = ref.repo;
        options.source.rev = ref.new_id;
        options.publish = pipeline::Publish::yes;
        options.output = output;
        TRY(pipeline::build_app(ctx.data_dir(), options));
        return {};
      };
}

void add_build_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<BuildArgs>();
  CLI::App* cmd = app.add_subcommand(
      "build", "run the buildpacks on SRC and pack the app, as a push would, without pushing");
  cmd->add_option("SRC", args->source, "the app's directory, or a git repository with --rev")
      ->required();
  cmd->add_option("--rev", args->rev, "build this commit, branch or tag of SRC's repository");
  cmd->add_option("-o,--output", args->output, "where to write the .deb (default: .)");
  cmd->add_option("--app", args->app, "the app name (default: SRC's directory name)");
  cmd->add_option("--publish", args->publish, "also add the package to this suite and publish");
  set_action(cmd, ctx, [&ctx, args] { return run_build(ctx, *args); });
}

} // namespace aptship::cli
