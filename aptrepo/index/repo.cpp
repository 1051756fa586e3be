#include "aptrepo/index/repo.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/core/log.hpp"
#include "aptrepo/core/stopwatch.hpp"
#include "aptrepo/core/text.hpp"
#include "aptrepo/deb/control.hpp"
#include "aptrepo/deb/deb_reader.hpp"
#include "aptrepo/deb/version.hpp"
#include "aptrepo/sign/signer.hpp"

namespace aptship::index {

namespace fs = std::filesystem;

namespace {

// Fields of the Packages stanza that describe the pool file; a control file
// that carries them (it should not) must not override the real values.
constexpr std::string_view k_pool_fields[] = {"Filename", "Size",   "MD5sum",
                                              "SHA1",     "SHA256", "SHA512"};

// Past this many (component, name, architecture) groups touched, retention
// asks the database which of the suite's groups are over the limit at once.
constexpr size_t k_retention_scan_groups = 64;

// Packages up to this size are read into memory once, and validated,
// hashed and copied from there; most are far smaller.
constexpr uint64_t k_max_read_whole = 8U << 20;

// Problems shown in full before the rest are only counted: the message
// stays one readable line even when a whole folder is bad.
constexpr size_t k_max_shown_problems = 10;

int64_t now() {
  return static_cast<int64_t>(std::time(nullptr));
}

std::string join_problems(const std::vector<std::string>& problems) {
  std::string out;
  for (size_t i = 0; i < problems.size() && i < k_max_shown_problems; ++i) {
    if (i > 0) {
      out += "; ";
    }
    out += problems[i];
  }
  if (problems.size() > k_max_shown_problems) {
    out += fmt::format("; and {} more", problems.size() - k_max_shown_problems);
  }
  return out;
}

// The input files of an add: files as given, folders as every *.deb below
// them, sorted, so that a huge import needs no argument list.
Expected<std::vector<fs::path>> expand_inputs(const std::vector<fs::path>& inputs) {
  std::vector<fs::path> out;
  for (const fs::path& input : inputs) {
    struct stat st {};
    if (::stat(input.c_str(), &st) != 0) {
      return errno_error(input.string(), errno);
    }
    if (!S_ISDIR(st.st_mode)) {
      out.push_back(input);
      continue;
    }
    std::vector<fs::path> found;
    std::error_code ec;
    fs::recursive_directory_iterator it(input, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->path().extension() == ".deb" && it->is_regular_file(ec)) {
        found.push_back(it->path());
      }
    }
    if (ec) {
      return errno_error(fmt::format("reading {}", input.string()), ec.value());
    }
    if (found.empty()) {
      return make_error("{}: no .deb files below this folder", input.string());
    }
    std::sort(found.begin(), found.end());
    out.insert(out.end(), std::make_move_iterator(found.begin()),
               std::make_move_iterator(found.end()));
  }
  return out;
}

// One input file of an add, once validated, hashed and copied.
struct Item {
  fs::path source;
  std::string name;
  std::string version;
  std::string architecture;
  std::string stanza; // the Packages stanza, if this add's copy is recorded
  std::optional<deb::Version> parsed;
  std::string filename; // where the pool puts it for this add's component
  PoolCopy copy;        // digests of the source; whether this add wrote FILENAME
  std::string problem;  // why the file is refused, if it is
};

bool same_file_state(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
         a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

// Reads the SIZE bytes of FD into BUFFER (grown as needed). False if the
// file ends early: it changed since its size was taken.
Expected<bool> read_whole(const Fd& fd, size_t size, std::unique_ptr<char[]>& buffer,
                          size_t& capacity) {
  if (capacity < size) {
    // Uninitialised: zeroing costs as much as the read itself.
    buffer = std::make_unique_for_overwrite<char[]>(size);
    capacity = size;
  }
  TRY_ASSIGN(size_t got, fd.pread_full(buffer.get(), size, 0));
  return got == size;
}

void examine(Pool& pool, const std::string& component, Item& item) {
  const std::string shown = item.source.string();
  auto fd = Fd::open(item.source, O_RDONLY);
  if (!fd) {
    item.problem = fd.error().message();
    return;
  }
  struct stat before {};
  if (::fstat(fd->get(), &before) != 0 || !S_ISREG(before.st_mode)) {
    item.problem = fmt::format("{}: not a regular file", shown);
    return;
  }
  // A package small enough is read once: validated, hashed and written to
  // the pool from the same bytes. A larger one is validated and copied
  // through the descriptor (already open, so that the file read is the one
  // copied even if its name is replaced meanwhile).
  thread_local std::unique_ptr<char[]> buffer;
  thread_local size_t capacity = 0;
  std::optional<std::string_view> bytes;
  const auto size = static_cast<uint64_t>(before.st_size);
  if (size <= k_max_read_whole) {
    auto complete = read_whole(*fd, static_cast<size_t>(size), buffer, capacity);
    if (!complete) {
      item.problem = complete.error().context(shown).message();
      return;
    }
    if (!*complete) {
      item.problem = fmt::format("{}: the file changed while it was being added", shown);
      return;
    }
    bytes = std::string_view(buffer.get(), static_cast<size_t>(size));
  }
  auto contents = bytes ? deb::read_deb_bytes(*bytes, shown, deb::ListFiles::no)
                        : deb::read_deb(*fd, shown, deb::ListFiles::no);
  if (!contents) {
    item.problem = contents.error().message();
    return;
  }
  deb::Paragraph& control = contents->control;
  item.name = std::string(control.get("Package").value_or(""));
  item.version = std::string(control.get("Version").value_or(""));
  item.architecture = std::string(control.get("Architecture").value_or(""));
  if (item.architecture == "any") {
    item.problem = fmt::format("{}: architecture 'any' is for source packages, a binary package "
                               "names a real architecture or 'all'",
                               shown);
    return;
  }
  auto version = deb::Version::parse(item.version);
  if (!version) {
    item.problem = fmt::format("{}: {}", shown, version.error().message());
    return;
  }
  item.parsed = std::move(*version);
  for (std::string_view field : k_pool_fields) {
    control.remove(field);
  }
  item.filename = pool_filename(component, item.name, item.version, item.architecture);
  auto copy = bytes ? pool.write_new(*bytes, item.filename) : pool.copy_new(*fd, item.filename);
  if (!copy) {
    item.problem = copy.error().message();
    return;
  }
  item.copy = std::move(*copy);
  // Made here, on the examining threads, rather than one by one while the
  // database is written.
  item.stanza =
      packages_stanza(control.to_string(), item.filename, item.copy.size, item.copy.digests);
  struct stat after {};
  if (::fstat(fd->get(), &after) != 0 || !same_file_state(before, after)) {
    item.problem = fmt::format("{}: the file changed while it was being added", shown);
  }
}

// Validates, hashes and copies ITEMS on THREADS threads.
void examine_all(Pool& pool, const std::string& component, std::vector<Item>& items,
                 unsigned threads) {
  // Chunks of neighbours: sorted inputs put the versions of one package
  // side by side, and one thread writing one pool folder at a time spares
  // the threads waiting on each other's folder locks.
  constexpr size_t k_chunk = 16;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t start = next.fetch_add(k_chunk); start < items.size();
         start = next.fetch_add(k_chunk)) {
      for (size_t i = start; i < std::min(start + k_chunk, items.size()); ++i) {
        examine(pool, component, items[i]);
      }
    }
  };
  unsigned extra = std::min<size_t>(threads > 0 ? threads - 1 : 0, items.size());
  std::vector<std::jthread> workers;
  for (unsigned t = 0; t < extra; ++t) {
    workers.emplace_back(work);
  }
  work();
}

// Copies ITEM's source over FILENAME (a file nothing refers to, or one
// gone missing) and checks that the bytes are still those hashed before.
Expected<void> recopy(Pool& pool, const Item& item, const std::string& filename) {
  TRY_ASSIGN(Fd fd, Fd::open(item.source, O_RDONLY));
  TRY_ASSIGN(PoolCopy copy, pool.copy_replace(fd, filename));
  if (copy.digests.sha256 != item.copy.digests.sha256) {
    return make_error("{}: the file changed while it was being added", item.source.string());
  }
  return {};
}

// Rolls the pool's batch back unless the add went through.
class BatchGuard {
public:
  explicit BatchGuard(Pool& pool) : m_pool(pool) {}
  BatchGuard(const BatchGuard&) = delete;
  BatchGuard& operator=(const BatchGuard&) = delete;
  ~BatchGuard() {
    if (!m_kept) {
      m_pool.rollback();
    }
  }
  void keep() {
    m_pool.keep();
    m_kept = true;
  }

private:
  Pool& m_pool;
  bool m_kept = false;
};

// dpkg's order of the versions of A and B.
bool version_less(const Membership& a, const Membership& b) {
  auto va = deb::Version::parse(a.version);
  auto vb = deb::Version::parse(b.version);
  if (va && vb) {
    return deb::compare(*va, *vb) < 0;
  }
  return a.version < b.version;
}

std::string spec_text(const PackageSpec& spec) {
  return spec.version ? fmt::format("{}={}", spec.name, *spec.version) : spec.name;
}

// Whether MEMBERSHIP is what SPEC names (versions compared as dpkg does).
bool matches(const PackageSpec& spec, const std::optional<deb::Version>& version,
             const Membership& m) {
  if (m.name != spec.name) {
    return false;
  }
  if (!version) {
    return true;
  }
  auto other = deb::Version::parse(m.version);
  return other && deb::compare(*version, *other) == 0;
}

} // namespace

Expected<PackageSpec> parse_package_spec(std::string_view text) {
  PackageSpec spec;
  size_t eq = text.find('=');
  spec.name = std::string(text.substr(0, eq));
  TRY_CTX(deb::check_package_name(spec.name), fmt::format("'{}'", printable(text)));
  if (eq != std::string_view::npos) {
    std::string version(text.substr(eq + 1));
    TRY_CTX(deb::Version::parse(version).map([](auto&&) {}), fmt::format("'{}'", printable(text)));
    spec.version = version;
  }
  return spec;
}

std::string packages_stanza(std::string_view control_fields, const std::string& filename,
                            uint64_t size, const Digests& digests) {
  return fmt::format("{}Filename: {}\nSize: {}\nMD5sum: {}\nSHA1: {}\nSHA256: {}\nSHA512: {}\n",
                     control_fields, filename, size, digests.md5, digests.sha1, digests.sha256,
                     digests.sha512);
}

Expected<void> check_initialized(const DataDir& data) {
  std::error_code ec;
  if (!fs::is_directory(data.root(), ec)) {
    return make_error("no data dir at {}: run 'aptship init' first", data.root().string());
  }
  if (!fs::is_directory(data.gnupg(), ec)) {
    return make_error("no signing key in {}: run 'aptship init' first", data.gnupg().string());
  }
  return {};
}

Repository::Repository(DataDir data, RepoOptions options, RepoLock lock, Config config, Database db)
    : m_data(std::move(data)), m_options(std::move(options)), m_lock(std::move(lock)),
      m_config(std::move(config)), m_db(std::move(db)), m_pool(m_data.public_root()) {}

Repository::Repository(Repository&&) noexcept = default;
Repository& Repository::operator=(Repository&&) noexcept = default;
Repository::~Repository() = default;

Expected<Repository> Repository::open(const DataDir& data, const RepoOptions& options) {
  TRY(check_initialized(data));
  // The configuration is read before waiting for the lock: a typo is
  // reported at once, not after a minute.
  TRY_ASSIGN(Config config, load_config(data.config()));
  TRY_ASSIGN(RepoLock lock, RepoLock::acquire(data.lock(), options.lock));
  TRY_ASSIGN(Database db, Database::open(data.db()));
  Repository repo(data, options, std::move(lock), std::move(config), std::move(db));
  TRY_ASSIGN(std::vector<std::string> dirty, repo.m_db.dirty_suites());
  TRY_ASSIGN(repo.m_caught_up, repo.publish_all(dirty).map_error([](const Error& e) {
    return e.context("publishing what an earlier operation left unpublished");
  }));
  return repo;
}

Expected<std::vector<std::string>> Repository::suites() {
  TRY_ASSIGN(std::vector<std::string> known, m_db.suites());
  std::set<std::string> all(known.begin(), known.end());
  for (const auto& [name, suite] : m_config.suites) {
    all.insert(name);
  }
  return std::vector<std::string>(all.begin(), all.end());
}

Expected<PublishedSuite> Repository::publish_one(const std::string& suite) {
  if (!m_signer) {
    TRY_ASSIGN(sign::Signer signer, sign::Signer::open(m_data.gnupg()));
    m_signer = std::make_unique<sign::Signer>(std::move(signer));
  }
  Stopwatch watch;
  // The key is asked for at once, while little memory is held: gpg starts
  // through a fork, which copies the page tables of all of it. The answer
  // is awaited only when the Release is written.
  std::shared_future<Expected<std::string>> signed_by;
  if (m_signed_by.empty()) {
    signed_by = std::async(std::launch::async, [this] { return m_signer->fingerprint(); }).share();
  } else {
    std::promise<Expected<std::string>> known;
    known.set_value(m_signed_by);
    signed_by = known.get_future().share();
  }
  TRY_ASSIGN(std::vector<ListedPackage> packages, m_db.suite_packages(suite));
  log::debug("publish {}: {} packages read from the database in {} ms", suite, packages.size(),
             watch.lap());
  SuiteSettings settings = suite_settings(m_config, suite, packages);
  settings.signed_by = [signed_by] { return signed_by.get(); };
  TRY_ASSIGN(PublishResult result,
             publish_suite(m_data.public_root(), settings, std::move(packages), *m_signer)
                 .map_error([&](const Error& e) {
                   return e.context(fmt::format("publishing suite {}", suite));
                 }));
  if (const auto& fingerprint = signed_by.get()) {
    m_signed_by = *fingerprint;
  }
  TRY(m_db.mark_published(suite));
  log::debug("publish {}: published in {} ms", suite, watch.lap());
  return PublishedSuite{suite, std::move(result)};
}

Expected<PublishedSuite> Repository::publish_committed(const std::string& suite) {
  return publish_one(suite).map_error([](const Error& e) {
    return e.context("the change is recorded, but not yet published (the next 'aptship repo' "
                     "command publishes it)");
  });
}

Expected<std::vector<PublishedSuite>>
Repository::publish_all(const std::vector<std::string>& suites) {
  std::vector<PublishedSuite> out;
  for (const std::string& suite : suites) {
    TRY_ASSIGN(PublishedSuite published, publish_one(suite));
    out.push_back(std::move(published));
  }
  return out;
}

Expected<void> Repository::check_architecture(std::string_view suite,
                                              std::string_view architecture) const {
  const auto& allowed = m_config.suite(suite).architectures;
  if (architecture == "all" || allowed.empty() ||
      std::find(allowed.begin(), allowed.end(), architecture) != allowed.end()) {
    return {};
  }
  std::string list;
  for (const auto& a : allowed) {
    list += list.empty() ? a : ", " + a;
  }
  return make_error("architecture {} is not one of suite {}'s architectures ({})", architecture,
                    suite, list);
}

Expected<std::vector<Membership>>
Repository::apply_retention(const std::string& suite, const std::vector<Membership>& touched) {
  std::vector<Membership> pruned;
  unsigned keep = m_config.suite(suite).retention;
  if (keep == 0) {
    return pruned;
  }
  std::set<std::tuple<std::string, std::string, std::string>> groups;
  for (const Membership& m : touched) {
    groups.emplace(m.component, m.name, m.architecture);
  }
  // A bulk add touches thousands of groups, few of them over the limit:
  // one pass over the suite finds those instead of a query per group.
  if (groups.size() > k_retention_scan_groups) {
    TRY_ASSIGN(auto over, m_db.groups_over(suite, keep));
    std::erase_if(groups, [&over](const auto& group) { return over.count(group) == 0; });
  }
  for (const auto& [component, name, arch] : groups) {
    TRY_ASSIGN(std::vector<Membership> members, m_db.memberships_of(suite, name, component, arch));
    if (members.size() <= keep) {
      continue;
    }
    std::sort(members.begin(), members.end(),
              [](const Membership& a, const Membership& b) { return version_less(b, a); });
    for (size_t i = keep; i < members.size(); ++i) {
      TRY(m_db.remove_membership(suite, component, members[i].package_id));
      pruned.push_back(std::move(members[i]));
    }
  }
  return pruned;
}

Expected<AddResult> Repository::add(const AddRequest& request) {
  TRY(check_name("suite", request.suite));
  TRY(check_name("component", request.component));
  const auto& components = m_config.suite(request.suite).components;
  if (!components.empty() &&
      std::find(components.begin(), components.end(), request.component) == components.end()) {
    std::string list;
    for (const auto& c : components) {
      list += list.empty() ? c : ", " + c;
    }
    return make_error("component {} is not one of suite {}'s components ({})", request.component,
                      request.suite, list);
  }
  if (request.inputs.empty()) {
    return make_error("no .deb files to add");
  }
  Stopwatch watch;
  TRY_ASSIGN(std::vector<fs::path> files, expand_inputs(request.inputs));
  log::debug("add: {} files found in {} ms", files.size(), watch.lap());

  std::vector<Item> items(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    items[i].source = std::move(files[i]);
  }
  // Copies go straight to their final names; until the database names
  // them nothing refers to them, and a refused batch removes them again.
  BatchGuard batch(m_pool);
  examine_all(m_pool, request.component, items, m_options.threads);
  log::debug("add: validated, hashed and copied in {} ms", watch.lap());

  // Everything is checked before anything is recorded; every refusal is
  // collected so that one run names all the bad files.
  std::vector<std::string> problems;
  for (Item& item : items) {
    if (item.problem.empty()) {
      if (auto ok = check_architecture(request.suite, item.architecture); !ok) {
        item.problem = fmt::format("{}: {}", item.source.string(), ok.error().message());
      }
    }
    if (!item.problem.empty()) {
      problems.push_back(item.problem);
    }
  }
  if (!problems.empty()) {
    return make_error("{}", join_problems(problems));
  }

  // What each item becomes: a new package, a known one, or nothing (a
  // duplicate of an earlier item of the batch).
  struct Plan {
    Item* item;
    std::optional<PackageRecord> existing;
    std::string recopy_to; // a pool file to write again from the source
  };
  std::vector<Plan> plans;
  std::map<std::pair<std::string, std::string>, std::vector<Plan*>> batch_versions;
  std::map<std::pair<std::string, std::string>, std::vector<PackageRecord>> known;
  plans.reserve(items.size());
  auto sha256 = [](const Item& item) -> const std::string& { return item.copy.digests.sha256; };
  for (Item& item : items) {
    auto key = std::make_pair(item.name, item.architecture);
    auto& earlier_versions = batch_versions[key];
    auto earlier = std::find_if(earlier_versions.begin(), earlier_versions.end(), [&](Plan* p) {
      return deb::compare(*p->item->parsed, *item.parsed) == 0;
    });
    if (earlier != earlier_versions.end()) {
      if (sha256(*(*earlier)->item) != sha256(item)) {
        problems.push_back(fmt::format(
            "{}: a different file with the same name, version and architecture is also in this "
            "batch ({}; sha256 {} vs {})",
            item.source.string(), (*earlier)->item->source.string(), sha256(*(*earlier)->item),
            sha256(item)));
      }
      continue;
    }
    auto found = known.find(key);
    if (found == known.end()) {
      TRY_ASSIGN(std::vector<PackageRecord> rows, m_db.find_packages(item.name, item.architecture));
      found = known.emplace(key, std::move(rows)).first;
    }
    Plan plan{&item, std::nullopt, {}};
    auto row = std::find_if(found->second.begin(), found->second.end(), [&](const auto& r) {
      auto v = deb::Version::parse(r.version);
      return v && deb::compare(*v, *item.parsed) == 0;
    });
    if (row != found->second.end()) {
      if (row->digests.sha256 != sha256(item)) {
        problems.push_back(
            fmt::format("{}: a different file with the same name, version and architecture is "
                        "already in the pool (sha256 {} vs {})",
                        item.source.string(), row->digests.sha256, sha256(item)));
      }
      plan.existing = *row;
      if (row->filename != item.filename) {
        // Known under another component's path: that file is the one.
        if (item.copy.created) {
          TRY(m_pool.discard(item.filename));
        }
        if (!m_pool.contains(row->filename)) {
          plan.recopy_to = row->filename;
        }
      }
    } else if (!item.copy.created) {
      // A file no database row names: left by an add interrupted before
      // its commit, so nothing refers to it.
      plan.recopy_to = item.filename;
    }
    plans.push_back(std::move(plan));
    earlier_versions.push_back(&plans.back());
  }
  if (!problems.empty()) {
    return make_error("{}", join_problems(problems));
  }
  for (const Plan& plan : plans) {
    if (!plan.recopy_to.empty()) {
      TRY(recopy(m_pool, *plan.item, plan.recopy_to));
    }
  }
  log::debug("add: checked against the database in {} ms", watch.lap());

  // Durable before the database names them: the sync runs while the rows
  // are written, and the commit waits for it. (An early return waits for
  // it too, before the batch is rolled back.)
  std::future<Expected<void>> pool_synced =
      std::async(std::launch::async, [this] { return m_pool.sync(); });

  AddResult result;
  TRY_ASSIGN(Database::Transaction tx, m_db.begin());
  const int64_t added_at = now();
  for (Plan& plan : plans) {
    if (!plan.existing) {
      const Item& item = *plan.item;
      PackageRecord record;
      record.name = item.name;
      record.version = item.version;
      record.architecture = item.architecture;
      record.filename = item.filename;
      record.size = item.copy.size;
      record.digests = item.copy.digests;
      record.added_at = added_at;
      record.stanza = std::move(plan.item->stanza);
      TRY_ASSIGN(record.id, m_db.insert_package(record));
      plan.existing = std::move(record);
    }
    const PackageRecord& record = *plan.existing;
    Membership m;
    m.suite = request.suite;
    m.component = request.component;
    m.package_id = record.id;
    m.name = record.name;
    m.version = record.version;
    m.architecture = record.architecture;
    m.filename = record.filename;
    m.sha256 = record.digests.sha256;
    m.added_at = added_at;
    TRY_ASSIGN(bool added,
               m_db.add_membership(request.suite, request.component, record.id, added_at));
    (added ? result.added : result.already_listed).push_back(std::move(m));
  }
  log::debug("add: {} rows written in {} ms", plans.size(), watch.lap());
  TRY_ASSIGN(result.pruned, apply_retention(request.suite, result.added));
  log::debug("add: retention applied in {} ms", watch.lap());
  bool changed = !result.added.empty();
  if (changed) {
    TRY(m_db.mark_dirty(request.suite));
  }
  TRY(pool_synced.get());
  log::debug("add: pool synced {} ms later", watch.lap());
  TRY(tx.commit());
  batch.keep();
  log::debug("add: database committed in {} ms", watch.lap());
  // The publish below reads every stanza of the suite again; the batch's
  // own copies are not needed any more.
  known.clear();
  batch_versions.clear();
  std::vector<Plan>().swap(plans);
  std::vector<Item>().swap(items);

  if (changed) {
    TRY_ASSIGN(PublishedSuite published, publish_committed(request.suite));
    result.published.push_back(std::move(published));
  }
  return result;
}

Expected<RemoveResult> Repository::remove(std::string_view suite,
                                          const std::vector<PackageSpec>& specs) {
  TRY(check_name("suite", suite));
  if (specs.empty()) {
    return make_error("no package to remove");
  }
  std::vector<std::string> problems;
  std::map<std::pair<std::string, int64_t>, Membership> chosen; // by component and package
  for (const PackageSpec& spec : specs) {
    std::optional<deb::Version> version;
    if (spec.version) {
      TRY_ASSIGN(version, deb::Version::parse(*spec.version));
    }
    TRY_ASSIGN(std::vector<Membership> members, m_db.memberships_of(suite, spec.name));
    size_t matched = 0;
    for (Membership& m : members) {
      if (matches(spec, version, m)) {
        ++matched;
        auto key = std::make_pair(m.component, m.package_id);
        chosen.emplace(key, std::move(m));
      }
    }
    if (matched == 0) {
      problems.push_back(fmt::format("no package {} in suite {}", spec_text(spec), suite));
    }
  }
  if (!problems.empty()) {
    return make_error("{}", join_problems(problems));
  }
  RemoveResult result;
  TRY_ASSIGN(Database::Transaction tx, m_db.begin());
  for (auto& [key, m] : chosen) {
    TRY(m_db.remove_membership(suite, m.component, m.package_id));
    result.removed.push_back(std::move(m));
  }
  TRY(m_db.mark_dirty(suite));
  TRY(tx.commit());
  TRY_ASSIGN(PublishedSuite published, publish_committed(std::string(suite)));
  result.published.push_back(std::move(published));
  return result;
}

Expected<PromoteResult> Repository::promote(const PackageSpec& spec, std::string_view from,
                                            std::string_view to) {
  TRY(check_name("suite", from));
  TRY(check_name("suite", to));
  if (!spec.version) {
    return make_error("promote needs NAME=VERSION, not just '{}'", spec.name);
  }
  if (from == to) {
    return make_error("--from and --to both name suite {}", from);
  }
  TRY_ASSIGN(deb::Version version, deb::Version::parse(*spec.version));
  TRY_ASSIGN(std::vector<Membership> members, m_db.memberships_of(from, spec.name));
  std::vector<Membership> chosen;
  for (Membership& m : members) {
    if (matches(spec, version, m)) {
      chosen.push_back(std::move(m));
    }
  }
  if (chosen.empty()) {
    return make_error("no package {} in suite {}", spec_text(spec), from);
  }
  const auto& components = m_config.suite(to).components;
  for (const Membership& m : chosen) {
    TRY_CTX(check_architecture(to, m.architecture), spec_text(spec));
    if (!components.empty() &&
        std::find(components.begin(), components.end(), m.component) == components.end()) {
      return make_error("{}: component {} is not one of suite {}'s components", spec_text(spec),
                        m.component, to);
    }
  }
  PromoteResult result;
  TRY_ASSIGN(Database::Transaction tx, m_db.begin());
  const int64_t added_at = now();
  for (Membership& m : chosen) {
    TRY_ASSIGN(bool added, m_db.add_membership(to, m.component, m.package_id, added_at));
    m.suite = std::string(to);
    m.added_at = added_at;
    (added ? result.promoted : result.already_listed).push_back(std::move(m));
  }
  TRY_ASSIGN(result.pruned, apply_retention(std::string(to), result.promoted));
  bool changed = !result.promoted.empty();
  if (changed) {
    TRY(m_db.mark_dirty(to));
  }
  TRY(tx.commit());
  if (changed) {
    TRY_ASSIGN(PublishedSuite published, publish_committed(std::string(to)));
    result.published.push_back(std::move(published));
  }
  return result;
}

Expected<std::vector<PublishedSuite>> Repository::publish(std::string_view suite) {
  TRY_ASSIGN(std::vector<std::string> all, suites());
  if (suite.empty()) {
    return publish_all(all);
  }
  TRY(check_name("suite", suite));
  if (std::find(all.begin(), all.end(), suite) == all.end()) {
    return make_error("unknown suite {}: it lists no package and has no [suites.{}] table in {}",
                      suite, suite, m_data.config().string());
  }
  return publish_all({std::string(suite)});
}

Expected<GcResult> Repository::gc() {
  GcResult result;
  TRY_ASSIGN(std::set<std::string> listed, m_db.listed_filenames());
  TRY_ASSIGN(std::vector<std::string> published, published_pool_files(m_data.public_root()));
  std::set<std::string> keep(published.begin(), published.end());
  keep.insert(listed.begin(), listed.end());
  TRY_ASSIGN(std::vector<std::string> files, m_pool.files());
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    if (keep.count(file) == 0) {
      TRY(m_pool.remove(file));
      result.removed_files.push_back(file);
    }
  }
  TRY_ASSIGN(std::vector<PackageRecord> unlisted, m_db.unlisted_packages());
  TRY_ASSIGN(Database::Transaction tx, m_db.begin());
  for (const PackageRecord& row : unlisted) {
    if (!m_pool.contains(row.filename)) {
      TRY(m_db.delete_package(row.id));
      ++result.forgotten_packages;
    }
  }
  TRY(tx.commit());
  return result;
}

Expected<std::vector<Membership>> list_packages(const DataDir& data, std::string_view suite) {
  TRY(check_initialized(data));
  if (!suite.empty()) {
    TRY(check_name("suite", suite));
  }
  std::error_code ec;
  if (!fs::exists(data.db(), ec)) {
    return std::vector<Membership>();
  }
  TRY_ASSIGN(Database db, Database::open(data.db()));
  TRY_ASSIGN(std::vector<Membership> rows, db.memberships(suite));
  // Parsed once: sorting compares each version many times.
  std::vector<std::pair<std::optional<deb::Version>, Membership>> keyed;
  keyed.reserve(rows.size());
  for (Membership& m : rows) {
    auto v = deb::Version::parse(m.version);
    keyed.emplace_back(v ? std::optional<deb::Version>(std::move(*v)) : std::nullopt, std::move(m));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    const Membership& x = a.second;
    const Membership& y = b.second;
    if (x.name != y.name) {
      return x.name < y.name;
    }
    if (a.first && b.first) {
      int c = deb::compare(*a.first, *b.first);
      if (c != 0) {
        return c < 0;
      }
    } else if (x.version != y.version) {
      return x.version < y.version;
    }
    return std::tie(x.architecture, x.suite, x.component) <
           std::tie(y.architecture, y.suite, y.component);
  });
  std::vector<Membership> out;
  out.reserve(keyed.size());
  for (auto& [v, m] : keyed) {
    out.push_back(std::move(m));
  }
  return out;
}

} // namespace aptship::index
