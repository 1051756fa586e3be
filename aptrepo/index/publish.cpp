#include "aptrepo/index/publish.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/hash.hpp"
#include "aptrepo/core/log.hpp"
#include "aptrepo/core/stopwatch.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/index/compress.hpp"
#include "aptrepo/index/packages_file.hpp"
#include "aptrepo/index/parallel.hpp"
#include "aptrepo/index/publish_state.hpp"
#include "aptrepo/index/release.hpp"
#include "aptrepo/sign/signer.hpp"

namespace aptship::index {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_generations_dir = ".gen";
constexpr std::string_view k_packages = "Packages";
// Names a chunking scheme in the index fingerprint: a new scheme must not
// match fingerprints of the old one.
constexpr std::string_view k_fingerprint_scheme = "aptship-packages-chunks-1\n";
// How far a Release Date may run ahead of the clock: six publishes in one
// second go out at once, and apt's tolerance of 10 s still leaves 5 s for
// clients whose clocks lag behind.
constexpr int64_t k_max_date_lead = 5;
// The longest wait for the clock; a larger gap means the clock was set back.
constexpr int64_t k_max_date_wait = 10;

// ---------------------------------------------------------------------------
// Names and paths

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == '+' || c == '~';
}

// A suite, component or architecture becomes a path component and a
// symlink name: no '/', no leading '.', nothing a shell or URL mangles.
Expected<void> check_name(std::string_view what, std::string_view name) {
  if (name.empty() || name.front() == '.' || !std::all_of(name.begin(), name.end(), is_name_char)) {
    return make_error("invalid {} name '{}': use letters, digits and . - _ + ~, not starting "
                      "with '.'",
                      what, name);
  }
  return {};
}

struct SuitePaths {
  fs::path root;
  fs::path dists;          // ROOT/dists
  fs::path link;           // ROOT/dists/SUITE
  fs::path temp_link;      // ROOT/dists/.SUITE.tmp
  fs::path generations;    // ROOT/.gen/SUITE
  std::string link_prefix; // "../.gen/SUITE/"

  SuitePaths(const fs::path& root_dir, const std::string& suite)
      : root(root_dir), dists(root_dir / "dists"), link(dists / suite),
        temp_link(dists / ("." + suite + ".tmp")),
        generations(root_dir / k_generations_dir / suite),
        link_prefix(fmt::format("../{}/{}/", k_generations_dir, suite)) {}

  [[nodiscard]] fs::path generation(uint64_t number) const {
    return generations / std::to_string(number);
  }
};

std::optional<uint64_t> parse_number(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() ||
      (text.size() > 1 && text.front() == '0')) {
    return std::nullopt;
  }
  return value;
}

// The generation DISTS/SUITE points at, or nothing if the suite was never
// published (or its generation is gone).
Expected<std::optional<uint64_t>> published_generation(const SuitePaths& paths) {
  std::error_code ec;
  fs::path target = fs::read_symlink(paths.link, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return std::nullopt;
    }
    if (ec == std::errc::invalid_argument) {
      return make_error("{} exists and is not a symlink; aptship publishes a suite as a symlink "
                        "to its current generation",
                        paths.link.string());
    }
    return make_error("reading symlink {}: {}", paths.link.string(), ec.message());
  }
  std::string text = target.string();
  std::optional<uint64_t> number;
  if (text.starts_with(paths.link_prefix)) {
    number = parse_number(std::string_view(text).substr(paths.link_prefix.size()));
  }
  if (!number) {
    return make_error("{} points to {}, not to a generation aptship wrote", paths.link.string(),
                      text);
  }
  if (!fs::is_directory(paths.generation(*number), ec)) {
    return std::nullopt;
  }
  return number;
}

// The generation numbers present in DIR, ascending.
std::vector<uint64_t> list_generations(const fs::path& dir) {
  std::vector<uint64_t> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (auto number = parse_number(it->path().filename().string())) {
      out.push_back(*number);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Expected<void> remove_tree(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    return make_error("removing {}: {}", path.string(), ec.message());
  }
  return {};
}

Expected<void> make_directory(const fs::path& path, std::vector<fs::path>& created) {
  std::error_code ec;
  if (fs::create_directory(path, ec)) {
    created.push_back(path);
  } else if (ec) {
    return make_error("creating {}: {}", path.string(), ec.message());
  }
  return {};
}

Expected<void> hard_link(const fs::path& from, const fs::path& to) {
  if (::link(from.c_str(), to.c_str()) != 0) {
    return errno_error(fmt::format("linking {} to {}", to.string(), from.string()), errno);
  }
  return {};
}

// The files of a new generation, made durable together just before the
// switch. Each one's writeback starts as soon as it is written and runs
// while the rest of the generation is built and signed, instead of a
// thread waiting for the disk after each file.
class PendingSyncs {
public:
  void add(Fd fd, fs::path path) {
    std::lock_guard lock(m_mutex);
    m_files.push_back(File{std::move(fd), std::move(path)});
  }

  // One task per file: fsync, then close (which can report a write error
  // too).
  void add_tasks(std::vector<Task>& tasks) {
    for (File& file : m_files) {
      tasks.emplace_back([&file]() -> Expected<void> {
        TRY_CTX(file.fd.sync(), fmt::format("writing {}", file.path.string()));
        TRY_CTX(file.fd.close(), fmt::format("writing {}", file.path.string()));
        return {};
      });
    }
  }

private:
  struct File {
    Fd fd;
    fs::path path;
  };
  std::mutex m_mutex;
  std::vector<File> m_files;
};

// Writes DATA to the new file PATH (dated MTIME if given), leaving its
// fsync to PENDING. Files of a generation need no temporary name: nobody
// reads the generation before the switch.
Expected<void> write_new_file(const fs::path& path, std::string_view data, PendingSyncs& pending,
                              std::optional<int64_t> mtime = std::nullopt) {
  TRY_ASSIGN(Fd fd, Fd::open(path, O_WRONLY | O_CREAT | O_EXCL, 0644));
  TRY_CTX(fd.write_all(data), fmt::format("writing {}", path.string()));
  if (mtime) {
    const struct timespec times[2] = {{*mtime, 0}, {*mtime, 0}};
    if (futimens(fd.get(), times) != 0) {
      return errno_error(fmt::format("dating {}", path.string()), errno);
    }
  }
  // Only a head start for the fsync that follows; a failure here shows
  // up there.
  (void)::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  pending.add(std::move(fd), path);
  return {};
}

Expected<void> pread_exact(const Fd& fd, std::string& out, uint64_t offset, uint64_t length,
                           const fs::path& path) {
  size_t start = out.size();
  out.resize(start + length);
  auto got = fd.pread_full(out.data() + start, length, offset);
  if (!got) {
    return tl::unexpected<Error>(got.error().context(path.string()));
  }
  if (*got < length) {
    return make_error("reading {}: file is shorter than its publish state says", path.string());
  }
  return {};
}

std::string host_architecture() {
  if (auto out = run_checked({"dpkg", "--print-architecture"})) {
    std::string arch = *out;
    while (!arch.empty() && (arch.back() == '\n' || arch.back() == ' ')) {
      arch.pop_back();
    }
    if (check_name("architecture", arch)) {
      return arch;
    }
  }
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "i386";
#elif defined(__arm__)
  return "armhf";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64el";
#elif defined(__s390x__)
  return "s390x";
#else
  return "all";
#endif
}

// Removes a generation that fell out of the kept window. Its by-hash
// files live on as links in the kept generations; a failure leaves only
// clutter, which the next publish removes.
void remove_old_generation(const fs::path& dir, std::string_view context) {
  if (auto removed = remove_tree(dir); !removed) {
    log::warning("{}: {}", context, removed.error().message());
  }
}

int64_t clock_seconds(const SuiteSettings& settings) {
  auto now = settings.clock ? settings.clock() : std::chrono::system_clock::now();
  return std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
}

// The new Release's Date: now, but strictly later than the PREVIOUS one, or
// apt takes the new Release for a replay of an older one and keeps that.
// apt also refuses a Date more than Acquire::Max-FutureTime (10 s) ahead of
// its own clock, so a burst of publishes runs at most k_max_date_lead
// ahead and then waits for the clock.
Expected<int64_t> release_date(const SuiteSettings& settings, std::optional<int64_t> previous) {
  int64_t now = clock_seconds(settings);
  if (!previous || *previous < now) {
    return now;
  }
  int64_t date = *previous + 1;
  if (date - now > k_max_date_lead + k_max_date_wait) {
    // The clock went back: waiting would take too long, and would not help
    // clients with a correct clock anyway.
    log::warning("suite {}: the previous Release is dated {} s in the future; the clock may "
                 "have been set back",
                 settings.suite, *previous - now);
    return date;
  }
  while (date - now > k_max_date_lead) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    now = clock_seconds(settings);
  }
  return date;
}

// Removes an unfinished generation when a publish fails, so that an error
// leaves nothing behind (a crash leaves it to the next publish).
struct RemoveUnlessPublished {
  fs::path dir; // cleared once published
  explicit RemoveUnlessPublished(fs::path path) : dir(std::move(path)) {}
  RemoveUnlessPublished(const RemoveUnlessPublished&) = delete;
  RemoveUnlessPublished& operator=(const RemoveUnlessPublished&) = delete;
  ~RemoveUnlessPublished() {
    if (!dir.empty()) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }
};

bool valid_by_hash_name(std::string_view name) {
  std::string_view hex;
  if (name.starts_with("SHA256/")) {
    hex = name.substr(7);
  } else if (name.starts_with("SHA512/")) {
    hex = name.substr(7);
  } else {
    return false;
  }
  return !hex.empty() && std::all_of(hex.begin(), hex.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// ---------------------------------------------------------------------------
// The work of one publish

// One file of an index: Packages or a compressed variant.
struct IndexFile {
  std::string name; // "Packages.gz"
  std::optional<IndexCompression> compression;
  bool reused = false;                   // hard-linked from the previous generation
  std::string content;                   // compressed variants: the assembled bytes
  std::vector<CompressedUnit> new_units; // per chunk; filled where no cached unit exists
  std::vector<std::optional<std::pair<fs::path, UnitPlace>>> cached_units; // per chunk
  FileState state;
};

// One COMP/binary-ARCH directory.
struct IndexWork {
  std::string dir; // "main/binary-amd64"
  std::vector<size_t> selected;
  PackagesText text;
  std::vector<ChunkKey> keys;
  std::string fingerprint;
  std::vector<IndexFile> files; // Packages first
  bool fully_reused = false;

  [[nodiscard]] std::string_view chunk(size_t i) const {
    const Chunk& c = text.chunks[i];
    return std::string_view(text.text).substr(c.begin, c.end - c.begin);
  }
};

// Adds one task per digest of DATA, each storing into DIGESTS.
void add_digest_tasks(std::vector<Task>& tasks, std::string_view data, Digests& digests) {
  // Slowest first, so that the threads finish together.
  tasks.emplace_back([data, &digests]() -> Expected<void> {
    Hasher hasher(Digest::sha512);
    hasher.update(data);
    digests.sha512 = hasher.hex();
    return {};
  });
  tasks.emplace_back([data, &digests]() -> Expected<void> {
    Hasher hasher(Digest::md5);
    hasher.update(data);
    digests.md5 = hasher.hex();
    return {};
  });
  tasks.emplace_back([data, &digests]() -> Expected<void> {
    Hasher hasher(Digest::sha1);
    hasher.update(data);
    digests.sha1 = hasher.hex();
    return {};
  });
  tasks.emplace_back([data, &digests]() -> Expected<void> {
    Hasher hasher(Digest::sha256);
    hasher.update(data);
    digests.sha256 = hasher.hex();
    return {};
  });
}

struct PreviousGeneration {
  uint64_t number = 0;
  fs::path dir;
  std::optional<GenerationState> state;
  std::optional<int64_t> date;
};

Expected<std::optional<PreviousGeneration>> load_previous(const SuitePaths& paths,
                                                          std::optional<uint64_t> published) {
  if (!published) {
    return std::nullopt;
  }
  PreviousGeneration previous;
  previous.number = *published;
  previous.dir = paths.generation(*published);
  if (auto text = read_file(previous.dir / k_state_file)) {
    if (auto state = state_from_json(*text)) {
      previous.state = std::move(*state);
      previous.date = previous.state->date;
    } else {
      log::debug("{}: {}; recomputing every index", previous.dir.string(), state.error().message());
    }
  }
  if (!previous.date) {
    // A state lost or from another version: the Date clients saw is still
    // in the Release.
    if (auto release = read_file(previous.dir / "Release")) {
      if (auto field = release_field(*release, "Date")) {
        if (auto date = parse_release_date(*field)) {
          previous.date = *date;
        }
      }
    }
  }
  return previous;
}

// Where cached compressed units can be found, by codec and chunk.
class UnitCache {
public:
  explicit UnitCache(const std::optional<PreviousGeneration>& previous) {
    if (!previous || !previous->state) {
      return;
    }
    for (const auto& [dir, index] : previous->state->indexes) {
      for (const auto& [name, file] : index.files) {
        if (file.codec.empty() || file.units.size() != index.chunks.size()) {
          continue;
        }
        fs::path path = previous->dir / dir / name;
        for (size_t i = 0; i < index.chunks.size(); ++i) {
          m_units.try_emplace(Key{file.codec, index.chunks[i].sha256, index.chunks[i].size}, path,
                              file.units[i]);
        }
      }
    }
  }

  [[nodiscard]] std::optional<std::pair<fs::path, UnitPlace>> find(std::string_view codec,
                                                                   const ChunkKey& chunk) const {
    auto it = m_units.find(Key{std::string(codec), chunk.sha256, chunk.size});
    if (it == m_units.end()) {
      return std::nullopt;
    }
    return it->second;
  }

private:
  using Key = std::tuple<std::string, std::string, uint64_t>;
  std::map<Key, std::pair<fs::path, UnitPlace>> m_units;
};

// Builds the compressed file's bytes from new and cached units, recording
// where each unit lies. A cached unit that cannot be read is made anew.
Expected<void> assemble(IndexFile& file, const IndexWork& index) {
  const std::vector<ChunkKey>& keys = index.keys;
  IndexCompression compression = *file.compression;
  TRY_ASSIGN(std::string out, file_header(compression));
  std::vector<UnitSizes> sizes;
  std::map<fs::path, Fd> sources;
  size_t chunks = file.cached_units.size();
  file.state.units.clear();
  for (size_t i = 0; i < chunks; ++i) {
    UnitPlace place;
    place.offset = out.size();
    bool copied = false;
    if (const auto& cached = file.cached_units[i]) {
      const auto& [path, old] = *cached;
      auto it = sources.find(path);
      if (it == sources.end()) {
        auto fd = Fd::open(path, O_RDONLY);
        it = sources.emplace(path, fd ? std::move(*fd) : Fd()).first;
      }
      if (it->second && pread_exact(it->second, out, old.offset, old.length, path)) {
        place.unpadded_size = old.unpadded_size;
        copied = true;
      } else {
        out.resize(place.offset);
        log::debug("{}: cached unit unreadable, compressing the chunk again", path.string());
        TRY_ASSIGN(file.new_units[i], compress_unit(compression, index.chunk(i)));
      }
    }
    if (!copied) {
      const CompressedUnit& unit = file.new_units[i];
      out += unit.bytes;
      place.unpadded_size = unit.unpadded_size;
    }
    place.length = out.size() - place.offset;
    sizes.push_back(UnitSizes{keys[i].size, place.unpadded_size});
    file.state.units.push_back(place);
  }
  TRY_ASSIGN(std::string trailer, file_trailer(compression, sizes));
  out += trailer;
  file.content = std::move(out);
  file.new_units.clear();
  return {};
}

} // namespace

Expected<PublishResult> publish_suite(const fs::path& root, const SuiteSettings& settings,
                                      std::vector<ListedPackage> packages,
                                      const sign::Signer& signer) {
  const std::string context = fmt::format("publishing suite {}", settings.suite);
  TRY_CTX(check_name("suite", settings.suite), context);
  const std::string codename = settings.codename.empty() ? settings.suite : settings.codename;
  const unsigned keep = std::max(1u, settings.by_hash_keep);
  SuitePaths paths(root, settings.suite);

  // Architectures and components: the configured ones and every one a
  // package names; "all" packages go into every architecture's index.
  std::set<std::string> architecture_set(settings.architectures.begin(),
                                         settings.architectures.end());
  std::set<std::string> component_set(settings.components.begin(), settings.components.end());
  for (const ListedPackage& package : packages) {
    if (package.architecture != "all") {
      architecture_set.insert(package.architecture);
    }
    component_set.insert(package.component);
  }
  architecture_set.erase("all");
  if (architecture_set.empty()) {
    architecture_set.insert(host_architecture());
  }
  if (component_set.empty()) {
    component_set.insert("main");
  }
  for (const std::string& arch : architecture_set) {
    TRY_CTX(check_name("architecture", arch), context);
  }
  for (const std::string& component : component_set) {
    TRY_CTX(check_name("component", component), context);
  }
  std::vector<IndexCompression> compressions;
  for (IndexCompression compression : settings.compressions) {
    if (std::find(compressions.begin(), compressions.end(), compression) == compressions.end()) {
      compressions.push_back(compression);
    }
  }
  for (const auto& [name, value] :
       {std::pair<std::string_view, std::string_view>{"origin", settings.origin},
        {"label", settings.label},
        {"codename", codename},
        {"description", settings.description}}) {
    if (value.find_first_of("\r\n") != std::string_view::npos) {
      return make_error("{}: the {} must be one line", context, name);
    }
  }
  Stopwatch watch;
  TRY_ASSIGN(std::vector<size_t> order, packages_order(packages));
  // Asking gpg for the key takes a process start; it runs while the
  // indexes are built, unless the caller knows the answer already.
  std::future<Expected<std::string>> fingerprint =
      settings.signed_by
          ? std::async(std::launch::deferred, settings.signed_by)
          : std::async(std::launch::async, [&signer] { return signer.fingerprint(); });

  // Recover from an interrupted publish: everything newer than the
  // published generation was never visible to anyone.
  TRY_ASSIGN(std::optional<uint64_t> published, published_generation(paths));
  std::error_code ec;
  fs::create_directories(paths.dists, ec);
  if (!ec) {
    fs::create_directories(paths.generations, ec);
  }
  if (ec) {
    return make_error("{}: creating {}: {}", context, paths.generations.string(), ec.message());
  }
  if (::unlink(paths.temp_link.c_str()) != 0 && errno != ENOENT) {
    return errno_error(fmt::format("{}: removing {}", context, paths.temp_link.string()), errno);
  }
  for (uint64_t number : list_generations(paths.generations)) {
    if (!published || number > *published) {
      TRY_CTX(remove_tree(paths.generation(number)), context);
    }
  }
  TRY_ASSIGN(std::optional<PreviousGeneration> previous, load_previous(paths, published));
  const uint64_t generation = published ? *published + 1 : 1;
  const fs::path gen_dir = paths.generation(generation);

  // The Packages texts.
  std::vector<IndexWork> indexes;
  for (const std::string& component : component_set) {
    for (const std::string& arch : architecture_set) {
      IndexWork& index = indexes.emplace_back();
      index.dir = fmt::format("{}/binary-{}", component, arch);
      for (size_t i : order) {
        const ListedPackage& package = packages[i];
        if (package.component == component &&
            (package.architecture == arch || package.architecture == "all")) {
          index.selected.push_back(i);
        }
      }
    }
  }
  {
    std::vector<Task> tasks;
    for (IndexWork& index : indexes) {
      tasks.emplace_back([&index, &packages]() -> Expected<void> {
        index.text = build_packages_text(packages, index.selected);
        index.keys.resize(index.text.chunks.size());
        return {};
      });
    }
    TRY_CTX(run_parallel(tasks), context);
    log::debug("publish {}: Packages texts built in {} ms", settings.suite, watch.lap());
  }
  // Everything below works from the texts. Signing forks gpg, and a fork
  // copies the page tables of every byte still held.
  std::vector<ListedPackage>().swap(packages);

  // Chunk keys, from which each index's fingerprint follows.
  {
    std::vector<Task> tasks;
    for (IndexWork& index : indexes) {
      for (size_t i = 0; i < index.text.chunks.size(); ++i) {
        tasks.emplace_back([&index, i]() -> Expected<void> {
          std::string_view chunk = index.chunk(i);
          index.keys[i] = ChunkKey{hex_digest(Digest::sha256, chunk), chunk.size()};
          return {};
        });
      }
    }
    TRY_CTX(run_parallel(tasks), context);
    log::debug("publish {}: chunks hashed in {} ms", settings.suite, watch.lap());
  }
  for (IndexWork& index : indexes) {
    // A hash of the chunk hashes: equal exactly when the texts are equal,
    // at the cost of hashing a few kilobytes.
    std::string list(k_fingerprint_scheme);
    for (const ChunkKey& key : index.keys) {
      list += fmt::format("{} {}\n", key.sha256, key.size);
    }
    index.fingerprint = hex_digest(Digest::sha256, list);
  }

  // Reuse what did not change, plan the rest.
  std::vector<fs::path> created_dirs;
  RemoveUnlessPublished unfinished{gen_dir};
  PendingSyncs pending;
  TRY_CTX(make_directory(gen_dir, created_dirs), context);
  UnitCache cache(previous);
  for (IndexWork& index : indexes) {
    fs::path dir = gen_dir / index.dir;
    TRY_CTX(make_directory(dir.parent_path(), created_dirs), context);
    TRY_CTX(make_directory(dir, created_dirs), context);
    const IndexState* old = nullptr; // the previous state of an unchanged index
    if (previous && previous->state) {
      auto it = previous->state->indexes.find(index.dir);
      if (it != previous->state->indexes.end() && it->second.fingerprint == index.fingerprint) {
        old = &it->second;
      }
    }
    index.files.emplace_back().name = k_packages;
    for (IndexCompression compression : compressions) {
      IndexFile file;
      file.name = fmt::format("{}{}", k_packages, extension(compression));
      file.compression = compression;
      file.state.codec = std::string(codec_id(compression));
      index.files.push_back(std::move(file));
    }
    index.fully_reused = true;
    for (IndexFile& file : index.files) {
      if (old != nullptr) {
        auto it = old->files.find(file.name);
        if (it != old->files.end() && it->second.codec == file.state.codec &&
            hard_link(previous->dir / index.dir / file.name, dir / file.name)) {
          file.reused = true;
          file.state = it->second;
          continue;
        }
      }
      index.fully_reused = false;
      if (file.compression) {
        file.new_units.resize(index.keys.size());
        file.cached_units.resize(index.keys.size());
        for (size_t i = 0; i < index.keys.size(); ++i) {
          file.cached_units[i] = cache.find(file.state.codec, index.keys[i]);
        }
      }
    }
  }

  // Hash and write the new Packages texts; compress the chunks no cached
  // unit covers.
  {
    std::vector<Task> tasks;
    for (IndexWork& index : indexes) {
      IndexFile& plain = index.files.front();
      if (!plain.reused) {
        std::string_view text = index.text.text;
        plain.state.size = text.size();
        add_digest_tasks(tasks, text, plain.state.digests);
        tasks.emplace_back([path = gen_dir / index.dir / plain.name, text, &pending]() {
          return write_new_file(path, text, pending);
        });
      }
      for (IndexFile& file : index.files) {
        if (!file.compression || file.reused) {
          continue;
        }
        for (size_t i = 0; i < file.cached_units.size(); ++i) {
          if (!file.cached_units[i]) {
            tasks.emplace_back([&file, &index, i]() -> Expected<void> {
              TRY_ASSIGN(file.new_units[i], compress_unit(*file.compression, index.chunk(i)));
              return {};
            });
          }
        }
      }
    }
    TRY_CTX(run_parallel(tasks), context);
    log::debug("publish {}: Packages written, chunks compressed in {} ms", settings.suite,
               watch.lap());
  }
  {
    std::vector<Task> tasks;
    for (IndexWork& index : indexes) {
      for (IndexFile& file : index.files) {
        if (file.compression && !file.reused) {
          tasks.emplace_back([&file, &index]() { return assemble(file, index); });
        }
      }
    }
    TRY_CTX(run_parallel(tasks), context);
    log::debug("publish {}: compressed indexes assembled in {} ms", settings.suite, watch.lap());
  }
  {
    std::vector<Task> tasks;
    for (IndexWork& index : indexes) {
      for (IndexFile& file : index.files) {
        if (file.compression && !file.reused) {
          file.state.size = file.content.size();
          add_digest_tasks(tasks, file.content, file.state.digests);
          tasks.emplace_back([path = gen_dir / index.dir / file.name, &file, &pending]() {
            return write_new_file(path, file.content, pending);
          });
        }
      }
    }
    TRY_CTX(run_parallel(tasks), context);
    log::debug("publish {}: compressed indexes written in {} ms", settings.suite, watch.lap());
  }

  // by-hash: this generation's files, and those of the previous ones that
  // clients holding an older InRelease may still ask for.
  GenerationState state;
  std::vector<ReleaseEntry> entries;
  std::set<std::string> by_hash_dirs;
  for (IndexWork& index : indexes) {
    by_hash_dirs.insert(index.dir);
    IndexState& index_state = state.indexes[index.dir];
    index_state.fingerprint = index.fingerprint;
    index_state.chunks = index.keys;
    for (IndexFile& file : index.files) {
      entries.push_back(
          ReleaseEntry{index.dir + "/" + file.name, file.state.size, file.state.digests});
      index_state.files[file.name] = file.state;
    }
  }
  if (previous && previous->state) {
    for (const auto& [dir, generations] : previous->state->by_hash) {
      if (check_name("directory", fs::path(dir).parent_path().string()) &&
          check_name("directory", fs::path(dir).filename().string())) {
        by_hash_dirs.insert(dir);
      }
    }
  }
  for (const std::string& dir : by_hash_dirs) {
    fs::path index_dir = gen_dir / dir;
    fs::path by_hash = index_dir / "by-hash";
    bool made = false;
    auto link = [&](const fs::path& from, const std::string& name) -> Expected<void> {
      if (!made) {
        for (const fs::path& path : {index_dir.parent_path(), index_dir, by_hash,
                                     by_hash / "SHA256", by_hash / "SHA512"}) {
          TRY(make_directory(path, created_dirs));
        }
        made = true;
      }
      return hard_link(from, by_hash / name);
    };
    std::set<std::string> linked;
    std::vector<ByHashGeneration> generations;
    // An index dropped from the suite (a component or architecture no
    // longer listed) keeps only what older generations put there.
    auto it = std::find_if(indexes.begin(), indexes.end(),
                           [&](const IndexWork& index) { return index.dir == dir; });
    if (it != indexes.end()) {
      ByHashGeneration& current = generations.emplace_back();
      current.generation = generation;
      for (const IndexFile& file : it->files) {
        for (std::string name :
             {"SHA256/" + file.state.digests.sha256, "SHA512/" + file.state.digests.sha512}) {
          if (linked.insert(name).second) {
            TRY_CTX(link(index_dir / file.name, name), context);
          }
          current.names.push_back(std::move(name));
        }
      }
    }
    const std::vector<ByHashGeneration>* older_list = nullptr;
    if (previous && previous->state) {
      if (auto old = previous->state->by_hash.find(dir); old != previous->state->by_hash.end()) {
        older_list = &old->second;
      }
    }
    if (older_list != nullptr) {
      fs::path old_by_hash = previous->dir / dir / "by-hash";
      // The previous generation's entry and the ones it carried: those of
      // the newest KEEP - 1 generations before this one stay.
      for (const ByHashGeneration& older : *older_list) {
        if (older.generation + keep <= generation) {
          continue;
        }
        ByHashGeneration carried;
        carried.generation = older.generation;
        for (const std::string& name : older.names) {
          if (!valid_by_hash_name(name)) {
            continue;
          }
          if (linked.contains(name)) {
            carried.names.push_back(name);
          } else if (link(old_by_hash / name, name)) {
            linked.insert(name);
            carried.names.push_back(name);
          }
          // A file missing from the old by-hash only hurts clients that
          // are already out of date; it does not stop this publish.
        }
        if (!carried.names.empty()) {
          generations.push_back(std::move(carried));
        }
      }
    }
    if (!generations.empty()) {
      state.by_hash[dir] = std::move(generations);
    }
  }

  // Dated last, so that the time spent above lets the clock move on.
  TRY_ASSIGN(const int64_t date, release_date(settings, previous ? previous->date : std::nullopt));
  state.date = date;

  // The texts are on disk now. Signing forks gpg, and a fork copies the
  // page tables of every byte still held.
  for (IndexWork& index : indexes) {
    index.text = PackagesText();
    for (IndexFile& file : index.files) {
      file.content = std::string();
    }
  }

  // Release, signed twice: InRelease for current apt, Release.gpg for
  // clients that fetch Release first.
  ReleaseFields fields;
  fields.origin = settings.origin;
  fields.label = settings.label;
  fields.suite = settings.suite;
  fields.codename = codename;
  fields.date = date;
  if (settings.valid_for.count() != 0) {
    fields.valid_until = date + settings.valid_for.count();
  }
  fields.architectures.assign(architecture_set.begin(), architecture_set.end());
  fields.components.assign(component_set.begin(), component_set.end());
  fields.description = settings.description;
  TRY_ASSIGN(fields.signed_by,
             fingerprint.get().map_error([&](const Error& e) { return e.context(context); }));
  TRY_ASSIGN(std::string release, render_release(fields, entries).map_error([&](const Error& e) {
    return e.context(context);
  }));
  std::string state_json = state_to_json(state);
  std::string in_release;
  std::string release_gpg;
  {
    // Signing waits on gpg, not on this process: both signatures at once,
    // and meanwhile the files that need no signature and the removal of
    // generations that fall out of the kept window (never the published
    // one, which must stay whole until the switch).
    std::vector<Task> tasks;
    tasks.emplace_back([&]() -> Expected<void> {
      TRY_ASSIGN(in_release, signer.clearsign(release).map_error([&](const Error& e) {
        return e.context(fmt::format("{}: signing InRelease", context));
      }));
      return write_new_file(gen_dir / "InRelease", in_release, pending, date);
    });
    tasks.emplace_back([&]() -> Expected<void> {
      TRY_ASSIGN(release_gpg,
                 signer.sign_detached(release, sign::Armor::yes).map_error([&](const Error& e) {
                   return e.context(fmt::format("{}: signing Release.gpg", context));
                 }));
      return write_new_file(gen_dir / "Release.gpg", release_gpg, pending, date);
    });
    // Dated with their Date field, which grows by at least a second per
    // publish: a client's If-Modified-Since from an earlier publish in the
    // same second then never gets 304 for the new files.
    tasks.emplace_back([&] { return write_new_file(gen_dir / "Release", release, pending, date); });
    tasks.emplace_back(
        [&] { return write_new_file(gen_dir / std::string(k_state_file), state_json, pending); });
    tasks.emplace_back([&]() -> Expected<void> {
      for (uint64_t number : list_generations(paths.generations)) {
        if (number + keep <= generation && (!published || number < *published)) {
          remove_old_generation(paths.generation(number), context);
        }
      }
      return {};
    });
    TRY_CTX(run_parallel(tasks), context);
    log::debug("publish {}: Release signed in {} ms", settings.suite, watch.lap());
  }
  {
    // Every file and entry of the generation must be durable before the
    // switch can name it.
    std::vector<Task> tasks;
    pending.add_tasks(tasks);
    for (const fs::path& dir : created_dirs) {
      tasks.emplace_back([&dir] { return sync_directory(dir); });
    }
    for (const fs::path& dir :
         {paths.generations, paths.generations.parent_path(), paths.dists, paths.root}) {
      tasks.emplace_back([dir] { return sync_directory(dir); });
    }
    TRY_CTX(run_parallel(tasks), context);
    log::debug("publish {}: generation synced in {} ms", settings.suite, watch.lap());
  }

  // The switch: one rename of a symlink, atomic for every reader.
  std::string target = fmt::format("{}{}", paths.link_prefix, generation);
  if (::symlink(target.c_str(), paths.temp_link.c_str()) != 0) {
    return errno_error(fmt::format("{}: creating {}", context, paths.temp_link.string()), errno);
  }
  if (::rename(paths.temp_link.c_str(), paths.link.c_str()) != 0) {
    int err = errno;
    ::unlink(paths.temp_link.c_str());
    return errno_error(fmt::format("{}: switching {}", context, paths.link.string()), err);
  }
  unfinished.dir.clear();
  TRY_CTX(sync_directory(paths.dists), context);

  // With a single kept generation, the previous one goes only now.
  for (uint64_t number : list_generations(paths.generations)) {
    if (number + keep <= generation) {
      remove_old_generation(paths.generation(number), context);
    }
  }

  PublishResult result;
  result.generation = generation;
  result.date = format_release_date(date);
  result.architectures = fields.architectures;
  result.components = fields.components;
  for (const IndexWork& index : indexes) {
    if (index.fully_reused) {
      ++result.indexes_reused;
    } else {
      ++result.indexes_written;
    }
  }
  return result;
}

Expected<std::vector<std::string>> published_pool_files(const fs::path& root) {
  std::set<std::string> files;
  fs::path generations_root = root / k_generations_dir;
  std::error_code ec;
  if (!fs::exists(generations_root, ec)) {
    return std::vector<std::string>();
  }
  for (fs::directory_iterator suite(generations_root, ec), end; !ec && suite != end;
       suite.increment(ec)) {
    for (uint64_t number : list_generations(suite->path())) {
      fs::path dir = suite->path() / std::to_string(number);
      std::error_code walk_ec;
      for (fs::recursive_directory_iterator it(dir, walk_ec), stop; !walk_ec && it != stop;
           it.increment(walk_ec)) {
        if (it->is_directory() && it->path().filename() == "by-hash") {
          it.disable_recursion_pending();
          continue;
        }
        if (it->path().filename() != k_packages || !it->is_regular_file()) {
          continue;
        }
        TRY_ASSIGN(std::string text, read_file(it->path()));
        constexpr std::string_view k_field = "Filename:";
        for (size_t pos = 0; pos < text.size();) {
          size_t end_of_line = text.find('\n', pos);
          if (end_of_line == std::string::npos) {
            end_of_line = text.size();
          }
          std::string_view line(text.data() + pos, end_of_line - pos);
          if (line.starts_with(k_field)) {
            line.remove_prefix(k_field.size());
            while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
              line.remove_prefix(1);
            }
            while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) {
              line.remove_suffix(1);
            }
            if (!line.empty()) {
              files.emplace(line);
            }
          }
          pos = end_of_line + 1;
        }
      }
      if (walk_ec) {
        return make_error("reading {}: {}", dir.string(), walk_ec.message());
      }
    }
  }
  if (ec) {
    return make_error("reading {}: {}", generations_root.string(), ec.message());
  }
  return std::vector<std::string>(files.begin(), files.end());
}

} // namespace aptship::index
