#include "builder/pipeline/pipeline.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <set>

#include <fmt/format.h>

#include "aptrepo/core/atomic_file.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/core/tempdir.hpp"
#include "aptrepo/deb/deb_writer.hpp"
#include "aptrepo/deb/version.hpp"
#include "aptrepo/index/db.hpp"
#include "aptrepo/index/lock.hpp"
#include "aptrepo/index/repo.hpp"
#include "aptrepo/sign/signer.hpp"
#include "builder/buildpack/buildpack.hpp"
#include "builder/buildpack/sandbox.hpp"
#include "builder/pipeline/app_config.hpp"
#include "builder/pipeline/build_record.hpp"
#include "builder/pipeline/slug.hpp"
#include "builder/pipeline/version.hpp"
#include "builder/receive/app_name.hpp"
#include "builder/receive/tree_export.hpp"
#include "builder/stage/stage.hpp"

namespace aptship::pipeline {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds k_default_build_wait{600};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// How long a build waits for another build of the same app.
Expected<std::chrono::milliseconds> build_wait_from_env() {
  const char* text = std::getenv("APTSHIP_BUILD_WAIT");
  if (text == nullptr || *text == '\0') {
    return std::chrono::milliseconds(k_default_build_wait);
  }
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (end == text || *end != '\0' || seconds < 0) {
    return make_error("APTSHIP_BUILD_WAIT '{}' is not a number of seconds", text);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

// Sends each line to the pusher and to the build's log file.
class BuildOutput {
public:
  BuildOutput(std::function<void(std::string_view)> sink, Fd log)
      : m_sink(std::move(sink)), m_log(std::move(log)) {}
  void operator()(std::string_view line) const {
    if (m_sink) {
      m_sink(line);
    }
    // The log is a convenience: a full disk must not fail the build.
    (void)m_log.write_all(std::string(line) + "\n");
  }

private:
  std::function<void(std::string_view)> m_sink;
  Fd m_log;
};

// The newest version of PACKAGE that SUITE lists, if any.
Expected<std::optional<std::string>> latest_in_suite(const DataDir& data, std::string_view package,
                                                     std::string_view suite) {
  std::error_code ec;
  if (!fs::exists(data.db(), ec)) {
    return std::optional<std::string>();
  }
  TRY_ASSIGN(index::Database db, index::Database::open(data.db()));
  TRY_ASSIGN(std::vector<index::Membership> listed, db.memberships(suite));
  std::optional<deb::Version> newest;
  std::optional<std::string> text;
  for (const index::Membership& m : listed) {
    if (m.name != package) {
      continue;
    }
    TRY_ASSIGN(deb::Version v, deb::Version::parse(m.version));
    if (!newest || deb::compare(v, *newest) > 0) {
      newest = v;
      text = m.version;
    }
  }
  return text;
}

// The app's own settings for its builds (ENV_DIR): DATA/apps/APP/env,
// KEY=VALUE lines, '#' comments.
Expected<std::map<std::string, std::string>> app_build_env(const DataDir& data,
                                                           std::string_view app) {
  std::map<std::string, std::string> env;
  const fs::path file = data.root() / "apps" / std::string(app) / "env";
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    return env;
  }
  TRY_ASSIGN(std::string text, read_file(file));
  size_t number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string line =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    ++number;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error("{}:{}: expected KEY=VALUE", file.string(), number);
    }
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

// Who the buildpacks run as when aptship runs as root: the aptship service
// user when it exists, else nobody.
std::optional<std::pair<uid_t, gid_t>> unprivileged_builder() {
  if (geteuid() != 0) {
    return std::nullopt;
  }
  for (const char* name : {"aptship", "nobody"}) {
    if (const passwd* pw = getpwnam(name)) {
      return std::make_pair(pw->pw_uid, pw->pw_gid);
    }
  }
  return std::make_pair(uid_t{65534}, gid_t{65534});
}

struct Built {
  BuildOutcome outcome;
  std::string commit;
  receive::CommitInfo info; // for git builds
};

// The Maintainer of a build: the app's own setting, else the author of the
// commit, else a placeholder in the reserved .invalid domain (a host name
// such as "vm" is no mail domain, and Debian's checkers refuse it).
std::string maintainer_for(const AppConfig& config, const receive::CommitInfo& info,
                           std::string_view app) {
  if (!config.maintainer.empty()) {
    return config.maintainer;
  }
  const auto clean = [](std::string text) {
    std::erase_if(text, [](char c) { return c == '<' || c == '>' || c == ',' || c < ' '; });
    return text;
  };
  const std::string name = clean(info.author_name);
  const std::string email = clean(info.author_email);
  if (!name.empty() && email.find('@') != std::string::npos) {
    return fmt::format("{} <{}>", name, email);
  }
  return fmt::format("{} deployer <aptship@{}.invalid>", app, app);
}

Expected<Built> run_pipeline(const DataDir& data, const BuildOptions& options, uint64_t number,
                             const BuildOutput& say) {
  Built built;
  BuildOutcome& outcome = built.outcome;
  outcome.number = number;
  const std::string& app = options.app;

  auto phase = Clock::now();
  TRY_ASSIGN(TempDir work, TempDir::create("aptship-build-" + app));
  // The unprivileged build user must get through to its directories below.
  if (geteuid() == 0 && chmod(work.path().c_str(), 0711) != 0) {
    return errno_error(work.path().string(), errno);
  }
  const fs::path source = work.path() / "src";
  if (!options.source.repo.empty()) {
    TRY_ASSIGN(built.info, receive::commit_info(options.source.repo, options.source.rev));
    built.commit = built.info.id;
    TRY_CTX(receive::export_tree(options.source.repo, built.commit, source),
            fmt::format("exporting commit {}", built.commit.substr(0, 7)));
  } else {
    TRY(copy_source_dir(options.source.dir, source));
  }
  outcome.phases["export"] = seconds_since(phase);

  TRY_ASSIGN(AppConfig config, read_app_config(source));
  TRY_ASSIGN(std::string version, build_version(config.base_version, number, built.commit));
  if (options.publish == Publish::yes) {
    TRY_ASSIGN(std::optional<std::string> latest, latest_in_suite(data, app, options.suite));
    TRY(check_increasing(version, latest, options.suite));
  }

  phase = Clock::now();
  buildpack::BuildRequest request;
  request.app = app;
  request.source_dir = source;
  request.work_dir = work.path() / "buildpack";
  request.cache_dir = data.root() / "cache" / "apps" / app;
  request.clone_cache = data.root() / "cache" / "buildpacks";
  TRY_ASSIGN(request.builtin_dir, builtin_buildpacks_dir());
  TRY_ASSIGN(request.env, app_build_env(data, app));
  request.timeout = options.timeout;
  request.source_version = built.commit;
  request.run_as = unprivileged_builder();
  if (geteuid() == 0) {
    // Built where it will be installed, so that paths the build embeds
    // (virtualenvs, shebangs) hold after installation.
    request.install_dir = fs::path("/opt") / app;
    request.isolation = buildpack::Isolation::mount_namespace;
  } else if (buildpack::user_namespace_available()) {
    // The same view for the service's own user, inside a user namespace.
    request.install_dir = fs::path("/opt") / app;
    request.isolation = buildpack::Isolation::user_namespace;
  } else {
    say(fmt::format("no user namespaces here: building in a temporary directory, so paths the "
                    "build embeds will not be /opt/{}",
                    app));
    request.install_dir = work.path() / "app";
    request.isolation = buildpack::Isolation::none;
  }
  request.output = [&say](std::string_view line) { say(line); };
  std::error_code ec;
  fs::create_directories(request.work_dir, ec);
  fs::create_directories(request.cache_dir, ec);
  fs::create_directories(request.clone_cache, ec);
  TRY_ASSIGN(buildpack::BuildResult result, buildpack::run_buildpacks(request));
  outcome.phases["build"] = seconds_since(phase);

  phase = Clock::now();
  stage::AppSpec spec;
  spec.app = app;
  spec.version = version;
  TRY_ASSIGN(spec.architecture, slug_architecture(result.slug_dir));
  spec.maintainer = maintainer_for(config, built.info, app);
  if (built.info.time > 0) {
    spec.date = built.info.time;
  }
  // Not starting with the package name, which Debian's policy checkers flag.
  spec.description = config.description.empty()
                         ? fmt::format("Application {}, built and deployed by aptship", app)
                         : config.description;
  for (const auto& list : {result.depends, config.depends}) {
    for (const std::string& d : list) {
      if (std::find(spec.depends.begin(), spec.depends.end(), d) == spec.depends.end()) {
        spec.depends.push_back(d);
      }
    }
  }
  for (const std::string& name : result.process_order) {
    spec.processes.push_back(stage::ProcessType{name, result.process_types.at(name)});
  }
  spec.env = result.config_vars;
  for (const auto& [key, value] : config.env) {
    spec.env[key] = value;
  }
  // PORT has its own place in the layout (the web process gets it, the
  // others count up from it).
  if (auto it = spec.env.find("PORT"); it != spec.env.end()) {
    const int port = std::atoi(it->second.c_str());
    if (port < 1 || port > 65535 || std::to_string(port) != it->second) {
      return make_error("PORT '{}' in the app's env is not a port number", it->second);
    }
    spec.port = static_cast<uint16_t>(port);
    spec.env.erase(it);
  }
  if (config.port) {
    spec.port = *config.port;
  }
  spec.user = config.user;
  if (!built.commit.empty()) {
    spec.changes.push_back(
        fmt::format("Build {} of commit {}{}", number, built.commit.substr(0, 12),
                    options.pusher.empty() ? "" : " pushed by " + options.pusher));
  }
  const fs::path stage_dir = work.path() / "stage";
  TRY_CTX(stage::stage_app(spec, result.slug_dir, stage_dir), "laying out the package");
  outcome.phases["stage"] = seconds_since(phase);

  phase = Clock::now();
  TRY_ASSIGN(sign::Signer signer, sign::Signer::open(data.gnupg()));
  deb::PackOptions pack_options;
  pack_options.sign = [&signer](const deb::ByteReader& reader) {
    return signer.sign_detached(reader, sign::Armor::no);
  };
  const std::string file_name = fmt::format("{}_{}_{}.deb", app, version, spec.architecture);
  const fs::path deb = work.path() / file_name;
  TRY_ASSIGN(deb::PackResult packed, deb::pack(stage_dir, deb, pack_options));
  outcome.package = packed.package;
  outcome.version = packed.version;
  outcome.architecture = packed.architecture;
  outcome.phases["pack"] = seconds_since(phase);
  say(fmt::format("-----> Packaged {} {} ({}), {} KiB installed, signed", packed.package,
                  packed.version, packed.architecture, packed.installed_size_kib));

  if (!options.output_dir.empty()) {
    fs::create_directories(options.output_dir, ec);
    if (ec) {
      return make_error("creating {}: {}", options.output_dir.string(), ec.message());
    }
    outcome.deb = options.output_dir / file_name;
    TRY_ASSIGN(std::string bytes, read_file(deb));
    TRY(write_file_atomic(outcome.deb, bytes, 0644));
    say(fmt::format("       wrote {}", outcome.deb.string()));
  }

  if (options.publish == Publish::yes) {
    phase = Clock::now();
    index::RepoOptions repo_options;
    TRY_ASSIGN(repo_options.lock.timeout, index::lock_timeout_from_env());
    repo_options.lock.on_wait = [&say](pid_t holder) {
      say(fmt::format("       waiting for the repository lock (held by pid {})", holder));
    };
    TRY_ASSIGN(index::Repository repo, index::Repository::open(data, repo_options));
    index::AddRequest add;
    add.suite = options.suite;
    add.inputs = {deb};
    TRY_ASSIGN(index::AddResult added, repo.add(add));
    outcome.phases["publish"] = seconds_since(phase);
    say(fmt::format("-----> Published to suite {}", options.suite));
    say(fmt::format("       Install with: apt-get install {}={}", packed.package, packed.version));
  }
  return built;
}

} // namespace

Expected<fs::path> builtin_buildpacks_dir() {
  if (const char* env = std::getenv("APTSHIP_BUILDPACKS"); env != nullptr && *env != '\0') {
    return fs::path(env);
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path bin = exe.parent_path();
    for (const fs::path& candidate : {bin.parent_path() / "share" / "aptship" / "buildpacks",
                                      bin.parent_path() / "buildpacks"}) {
      if (fs::is_directory(candidate / "procfile", ec)) {
        return candidate;
      }
    }
  }
  return make_error("the built-in buildpacks were not found (set APTSHIP_BUILDPACKS)");
}

Expected<BuildOutcome> build_app(const DataDir& data, const BuildOptions& options) {
  TRY(receive::validate_app_name(options.app));
  const auto started = Clock::now();
  const fs::path dir = builds_dir(data, options.app);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return make_error("creating {}: {}", dir.string(), ec.message());
  }
  index::LockOptions lock_options;
  TRY_ASSIGN(lock_options.timeout, build_wait_from_env());
  lock_options.on_wait = [&options](pid_t holder) {
    if (options.output) {
      options.output(
          fmt::format("-----> Waiting for the running build of {} (pid {})", options.app, holder));
    }
  };
  TRY_ASSIGN(
      index::RepoLock lock,
      index::RepoLock::acquire(dir / "lock", lock_options).map_error([&options](const Error& e) {
        return e.context(fmt::format("another build of {} is still running", options.app));
      }));

  TRY_ASSIGN(uint64_t number, next_build_number(data, options.app));
  const fs::path log_path = dir / fmt::format("{}.log", number);
  int raw = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (raw < 0) {
    return errno_error(log_path.string(), errno);
  }
  BuildOutput say(options.output, Fd(raw));

  BuildRecord record;
  record.app = options.app;
  record.number = number;
  record.pusher = options.pusher;
  record.suite = options.publish == Publish::yes ? options.suite : "";
  record.started = static_cast<int64_t>(std::time(nullptr));
  record.log = fs::relative(log_path, data.root(), ec).string();

  say(fmt::format("-----> Building {} (build #{}{}){}", options.app, number,
                  options.source.rev.empty() ? "" : ", commit " + options.source.rev.substr(0, 7),
                  options.publish == Publish::yes ? " for suite " + options.suite : ""));
  if (!options.pusher.empty()) {
    say(fmt::format("       pushed by {}", options.pusher));
  }
  auto built = run_pipeline(data, options, number, say);
  record.seconds = seconds_since(started);
  if (built) {
    record.commit = built->commit;
    record.version = built->outcome.version;
    record.phases = built->outcome.phases;
    record.result = options.publish == Publish::yes ? "published" : "built";
  } else {
    record.commit = options.source.rev;
    record.result = "failed: " + built.error().message();
    say(fmt::format(" !     {}", built.error().message()));
  }
  TRY(append_record(data, record));
  if (!built) {
    return tl::unexpected(built.error());
  }
  say(fmt::format("-----> Done in {:.2f} s (build #{})", record.seconds, number));
  return built->outcome;
}

} // namespace aptship::pipeline
