#include "builder/buildpack/buildpack.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <system_error>

#include <fmt/format.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/core/text.hpp"
#include "builder/buildpack/git_source.hpp"
#include "builder/buildpack/output.hpp"
#include "builder/buildpack/procfile.hpp"
#include "builder/buildpack/release_yaml.hpp"
#include "builder/buildpack/sandbox.hpp"
#include "builder/buildpack/selection.hpp"
#include "builder/buildpack/workspace.hpp"

namespace aptship::buildpack {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// A buildpack copied into the workspace, ready to run.
struct Prepared {
  BuildpackSpec spec;
  fs::path dir; // private copy: compile may write its `export` file here
};

// What one step printed on stdout, when it is kept rather than shown.
struct StepResult {
  int exit_code = 0;
  std::string out;
};

// What the pusher sees of a step's output; stdout not shown is kept for
// parsing.
enum class Shown {
  all,         // compile: everything
  stderr_only, // release: stdout is the YAML
  nothing,     // detect: rejected candidates must not clutter the output
};

std::string first_line(std::string_view text) {
  auto end = text.find('\n');
  std::string_view line = text.substr(0, end);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    line.remove_prefix(1);
  }
  return std::string(line);
}

// One build: the workspace, the sandbox and the clock every step shares.
class Build {
public:
  Build(const BuildRequest& request, Workspace workspace)
      : m_request(request), m_workspace(std::move(workspace)),
        m_deadline(Clock::now() + request.timeout) {
    m_sandbox.run_as = request.run_as;
    m_sandbox.isolation = request.isolation;
    m_sandbox.real_build_dir = m_workspace.build_dir;
    m_sandbox.visible_build_dir =
        request.isolation != Isolation::none ? request.install_dir : m_workspace.build_dir;
    m_env = step_environment(m_workspace.home, request.source_version);
  }

  Expected<BuildResult> run() {
    TRY_ASSIGN(Selection selection, select_buildpacks(m_request.env, m_request.source_dir));
    std::vector<Prepared> buildpacks;
    std::vector<std::string> names;
    if (selection.source == SelectionSource::detection) {
      TRY_ASSIGN(auto detected, detect_builtin());
      buildpacks.push_back(std::move(detected.first));
      names.push_back(std::move(detected.second));
    } else {
      // Explicit buildpacks all run, in order, whether or not their
      // bin/detect accepts the app: naming a buildpack is the app's choice,
      // and detection exists only to choose among the built-ins. detect
      // still runs, when present, for the name it prints.
      for (const auto& text : selection.specs) {
        TRY_ASSIGN(BuildpackSpec spec, resolve_spec(text, m_request.builtin_dir));
        TRY_ASSIGN(Prepared prepared, prepare(spec));
        TRY_ASSIGN(auto name, detect(prepared));
        names.push_back(name.value_or(prepared.spec.name()));
        buildpacks.push_back(std::move(prepared));
      }
    }

    BuildResult result;
    Release release;
    for (size_t i = 0; i < buildpacks.size(); ++i) {
      const Prepared& buildpack = buildpacks[i];
      say(fmt::format("-----> {} app detected", names[i]));
      TRY(compile(buildpack));
      TRY_ASSIGN(Release own, run_release(buildpack));
      merge_release(release, own);
      result.buildpacks.push_back(buildpack.spec.name());
    }
    TRY(collect_processes(release, result));
    result.config_vars = std::move(release.config_vars);
    result.depends = std::move(release.depends);
    result.slug_dir = m_workspace.build_dir;
    return result;
  }

private:
  void say(std::string_view line) const {
    if (m_request.output) {
      m_request.output(line);
    }
  }

  // Copies (or fetches) SPEC into the workspace, owned by the build user.
  Expected<Prepared> prepare(const BuildpackSpec& spec) {
    Prepared prepared{spec, m_workspace.buildpacks_dir / fmt::format("{:02}", m_copies++)};
    if (spec.kind == SourceKind::git) {
      if (m_request.clone_cache.empty()) {
        return make_error("buildpack {}: no clone cache to fetch it into", spec.name());
      }
      say(fmt::format("-----> Fetching buildpack {}", spec.name()));
      TRY(fetch_git_buildpack(spec.url, spec.ref, m_request.clone_cache, prepared.dir));
    } else {
      TRY_CTX(copy_tree(spec.directory, prepared.dir, CopyGit::skip),
              fmt::format("buildpack {}", spec.name()));
    }
    std::error_code ec;
    if (!fs::is_regular_file(prepared.dir / "bin" / "compile", ec)) {
      return make_error("buildpack {}: bin/compile is missing", spec.name());
    }
    if (m_request.run_as) {
      TRY(chown_tree(prepared.dir, m_request.run_as->first, m_request.run_as->second));
    }
    return prepared;
  }

  // The first built-in whose bin/detect accepts the app, with the name it
  // printed.
  Expected<std::pair<Prepared, std::string>> detect_builtin() {
    std::vector<std::string> tried;
    for (const auto& name : detection_order()) {
      std::error_code ec;
      fs::path dir = m_request.builtin_dir / name;
      if (m_request.builtin_dir.empty() || !fs::is_regular_file(dir / "bin" / "detect", ec)) {
        continue;
      }
      tried.push_back(name);
      TRY_ASSIGN(BuildpackSpec spec, resolve_spec(name, m_request.builtin_dir));
      TRY_ASSIGN(Prepared prepared, prepare(spec));
      TRY_ASSIGN(auto detected, detect(prepared));
      if (detected) {
        return std::pair<Prepared, std::string>(std::move(prepared), std::move(*detected));
      }
      fs::remove_all(prepared.dir, ec);
    }
    if (tried.empty()) {
      return make_error("no buildpack could be detected: no built-in buildpacks in {}",
                        m_request.builtin_dir.string());
    }
    return make_error("no buildpack detected this app (tried {}); name one with BUILDPACK_URL, "
                      ".buildpacks or app.json",
                      fmt::join(tried, ", "));
  }

  // Runs bin/detect when there is one: the name it printed (the
  // buildpack's own name when it printed none) if it accepted the app,
  // nothing otherwise.
  Expected<std::optional<std::string>> detect(const Prepared& buildpack) {
    std::error_code ec;
    fs::path program = buildpack.dir / "bin" / "detect";
    if (!fs::is_regular_file(program, ec)) {
      return std::optional<std::string>();
    }
    TRY_ASSIGN(StepResult step,
               run_step(buildpack, "bin/detect", {program.string(), build_dir()}, Shown::nothing));
    if (step.exit_code != 0) {
      return std::optional<std::string>();
    }
    std::string name = first_line(step.out);
    return std::optional<std::string>(name.empty() ? buildpack.spec.name() : name);
  }

  Expected<void> compile(const Prepared& buildpack) {
    fs::path program = buildpack.dir / "bin" / "compile";
    TRY_ASSIGN(StepResult step,
               run_step(buildpack, "bin/compile",
                        {program.string(), build_dir(), m_workspace.cache_dir.string(),
                         m_workspace.env_dir.string()},
                        Shown::all));
    if (step.exit_code != 0) {
      return make_error("buildpack {}: bin/compile exited with status {}", buildpack.spec.name(),
                        step.exit_code);
    }
    // The export file chains buildpacks: every later step sources it.
    std::error_code ec;
    if (fs::is_regular_file(buildpack.dir / "export", ec)) {
      m_exports.push_back(buildpack.dir / "export");
    }
    return {};
  }

  Expected<Release> run_release(const Prepared& buildpack) {
    std::error_code ec;
    fs::path program = buildpack.dir / "bin" / "release";
    if (!fs::is_regular_file(program, ec)) {
      return Release{};
    }
    TRY_ASSIGN(StepResult step, run_step(buildpack, "bin/release", {program.string(), build_dir()},
                                         Shown::stderr_only));
    if (step.exit_code != 0) {
      return make_error("buildpack {}: bin/release exited with status {}", buildpack.spec.name(),
                        step.exit_code);
    }
    auto parsed = parse_release(step.out);
    if (!parsed) {
      return tl::unexpected<Error>(
          parsed.error().context(fmt::format("buildpack {}", buildpack.spec.name())));
    }
    return parsed;
  }

  // Runs one step of BUILDPACK in the sandbox with what is left of the
  // build's time, showing its output as SHOWN says.
  Expected<StepResult> run_step(const Prepared& buildpack, std::string_view step_name,
                                const std::vector<std::string>& command, Shown shown) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(m_deadline - Clock::now());
    if (left.count() <= 0) {
      return timed_out(buildpack, step_name);
    }
    StepResult result;
    auto show = [this](std::string_view line) { say(format_build_line(line)); };
    LineSplitter out_lines(show);
    LineSplitter err_lines(show);
    SubprocessOptions options;
    options.cwd = sandbox_cwd(m_sandbox);
    options.env = m_env;
    options.output = Output::stream;
    options.timeout = left;
    options.on_output = [&](bool is_stderr, std::string_view chunk) {
      if (is_stderr) {
        if (shown != Shown::nothing) {
          err_lines.feed(chunk);
        }
      } else if (shown == Shown::all) {
        out_lines.feed(chunk);
      } else {
        result.out.append(chunk);
      }
    };
    auto argv = sandbox_argv(m_sandbox, m_exports, command);
    auto ran = aptship::run(argv, options);
    out_lines.finish();
    err_lines.finish();
    if (!ran) {
      return tl::unexpected<Error>(
          ran.error().context(fmt::format("buildpack {}: {}", buildpack.spec.name(), step_name)));
    }
    if (ran->timed_out) {
      return timed_out(buildpack, step_name);
    }
    result.exit_code = ran->exit_code;
    return result;
  }

  tl::unexpected<Error> timed_out(const Prepared& buildpack, std::string_view step_name) const {
    return make_error("build timed out after {} s (in buildpack {}: {})", m_request.timeout.count(),
                      buildpack.spec.name(), step_name);
  }

  // Process types: the built tree's Procfile, in its order, over the
  // buildpacks' defaults, which follow in name order.
  Expected<void> collect_processes(const Release& release, BuildResult& result) const {
    std::vector<ProcfileEntry> procfile;
    fs::path path = m_workspace.build_dir / "Procfile";
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) {
      TRY_ASSIGN(std::string text, read_file(path));
      TRY_ASSIGN(procfile, parse_procfile(text));
    }
    say("-----> Discovering process types");
    std::vector<std::string> declared;
    for (const auto& entry : procfile) {
      result.process_types[entry.name] = entry.command;
      result.process_order.push_back(entry.name);
      declared.push_back(entry.name);
    }
    std::vector<std::string> defaults;
    for (const auto& [name, command] : release.default_process_types) {
      if (result.process_types.emplace(name, command).second) {
        result.process_order.push_back(name);
        defaults.push_back(name);
      }
    }
    if (!declared.empty()) {
      say(fmt::format("       Procfile declares types -> {}", fmt::join(declared, ", ")));
    }
    if (!defaults.empty()) {
      say(fmt::format("       Default types for buildpack -> {}", fmt::join(defaults, ", ")));
    }
    if (declared.empty() && defaults.empty()) {
      say("       No process types declared");
    }
    return {};
  }

  // BUILD_DIR as the buildpacks see it.
  std::string build_dir() const { return m_sandbox.visible_build_dir.string(); }

  const BuildRequest& m_request;
  Workspace m_workspace;
  Sandbox m_sandbox;
  Clock::time_point m_deadline;
  std::map<std::string, std::string> m_env;
  std::vector<fs::path> m_exports;
  int m_copies = 0;
};

} // namespace

Expected<BuildResult> run_buildpacks(const BuildRequest& request) {
  Sandbox sandbox;
  sandbox.run_as = request.run_as;
  sandbox.isolation = request.isolation;
  sandbox.visible_build_dir = request.install_dir;
  TRY(check_sandbox_allowed(sandbox));
  TRY_ASSIGN(Workspace workspace, prepare_workspace(request));
  Build build(request, std::move(workspace));
  return build.run();
}

} // namespace aptship::buildpack
