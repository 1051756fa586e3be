#include "aptrepo/index/pool.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aptship::index {

namespace fs = std::filesystem;

namespace {

// Package files are read by the server and by mirrors, not only by the
// user who adds them (the umask still applies, as for any file).
constexpr mode_t k_pool_file_mode = 0644;
constexpr size_t k_copy_buffer = 256 * 1024;
// Up to this many new files are fsynced one by one; more take one syncfs.
constexpr size_t k_max_fsyncs = 32;
// A large batch has its data written back in the background each time this
// much more has been copied, so that the final sync finds little left.
constexpr uint64_t k_flush_bytes = 64U << 20;

// Reads SOURCE from its first byte (pread: the descriptor's offset is left
// alone, so that it can be shared) into the hasher and, if given, OUT.
Expected<PoolCopy> copy_and_hash(const Fd& source, const Fd* out, const std::string& shown) {
  // Uninitialised: zeroing 256 KiB per file cost more than copying a small
  // package.
  auto buffer = std::make_unique_for_overwrite<char[]>(k_copy_buffer);
  MultiHasher hasher;
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::pread(source.get(), buffer.get(), k_copy_buffer, static_cast<off_t>(total));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error(fmt::format("reading the source of {}", shown), errno);
    }
    if (n == 0) {
      break;
    }
    std::string_view chunk(buffer.get(), static_cast<size_t>(n));
    hasher.update(chunk);
    if (out != nullptr) {
      TRY_CTX(out->write_all(chunk), fmt::format("writing {}", shown));
    }
    total += static_cast<uint64_t>(n);
  }
  PoolCopy copy;
  copy.digests = hasher.finish();
  copy.size = total;
  return copy;
}

} // namespace

// The files and folders of the current batch, shared by the copying threads.
struct Pool::Batch {
  mutable std::mutex mutex;
  std::set<fs::path> known_dirs;   // folders known to exist
  std::vector<fs::path> made_dirs; // folders this batch made, in no set order
  std::set<std::string> files;     // files this batch wrote ("pool/...")

  // Background writeback. One syncfs per k_flush_bytes lets the kernel
  // write many small files in large merged requests; starting writeback per
  // file instead cost a device request (a VM exit under virtio) per package
  // and more CPU than the copy itself. syncfs waits, so it runs on a thread
  // of its own while the copies go on. Durability still comes from sync()
  // alone: these flushes only make its work smaller.
  std::atomic<uint64_t> unflushed{0}; // bytes copied since the last flush started
  std::mutex flush_mutex;
  std::condition_variable_any flush_wanted_cv;
  bool flush_wanted = false;
  fs::path flush_root;
  std::jthread flusher; // last: stopped and joined before the rest goes

  void copied(uint64_t bytes) {
    uint64_t before = unflushed.fetch_add(bytes);
    if (before >= k_flush_bytes || before + bytes < k_flush_bytes) {
      return;
    }
    std::lock_guard lock(flush_mutex);
    flush_wanted = true;
    if (!flusher.joinable()) {
      flusher = std::jthread([this](const std::stop_token& stop) { flush_loop(stop); });
    }
    flush_wanted_cv.notify_one();
  }

  void flush_loop(const std::stop_token& stop) {
    for (;;) {
      {
        std::unique_lock lock(flush_mutex);
        if (!flush_wanted_cv.wait(lock, stop, [this] { return flush_wanted; })) {
          return;
        }
        flush_wanted = false;
        unflushed = 0;
      }
      // Errors are left to sync(), which reports them.
      int fd = ::open(flush_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0) {
        ::syncfs(fd);
        ::close(fd);
      }
    }
  }
};

std::string pool_prefix(std::string_view name) {
  if (name.starts_with("lib") && name.size() > 3) {
    return std::string(name.substr(0, 4));
  }
  return std::string(name.substr(0, 1));
}

std::string pool_filename(std::string_view component, std::string_view name,
                          std::string_view version, std::string_view architecture) {
  std::string escaped;
  escaped.reserve(version.size() + 2);
  for (char c : version) {
    if (c == ':') {
      escaped += "%3a";
    } else {
      escaped += c;
    }
  }
  return fmt::format("pool/{}/{}/{}/{}_{}_{}.deb", component, pool_prefix(name), name, name,
                     escaped, architecture);
}

Pool::Pool(fs::path root) : m_root(std::move(root)), m_batch(std::make_unique<Batch>()) {
  m_batch->flush_root = m_root;
}
Pool::Pool(Pool&&) noexcept = default;

Pool& Pool::operator=(Pool&& other) noexcept {
  if (this != &other) {
    rollback();
    m_root = std::move(other.m_root);
    m_batch = std::move(other.m_batch);
  }
  return *this;
}

Pool::~Pool() {
  rollback();
}

Expected<void> Pool::make_parents(const fs::path& path) {
  std::vector<fs::path> missing;
  {
    std::lock_guard lock(m_batch->mutex);
    for (fs::path dir = path.parent_path(); !dir.empty() && dir != m_root.parent_path();
         dir = dir.parent_path()) {
      if (m_batch->known_dirs.count(dir) != 0) {
        break;
      }
      missing.push_back(dir);
    }
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    bool made = ::mkdir(it->c_str(), 0755) == 0;
    if (!made && errno != EEXIST) {
      return errno_error(fmt::format("creating {}", it->string()), errno);
    }
    std::lock_guard lock(m_batch->mutex);
    if (made) {
      m_batch->made_dirs.push_back(*it);
    }
    m_batch->known_dirs.insert(*it);
  }
  return {};
}

Expected<std::optional<Fd>> Pool::create_new(const fs::path& target, const std::string& filename) {
  TRY(make_parents(target));
  // O_EXCL: an existing file is never opened for writing, let alone
  // truncated; whoever added it decides what it is.
  int raw = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, k_pool_file_mode);
  if (raw < 0) {
    if (errno != EEXIST) {
      return errno_error(fmt::format("creating {}", target.string()), errno);
    }
    return std::nullopt;
  }
  Fd out(raw);
  std::lock_guard lock(m_batch->mutex);
  m_batch->files.insert(filename);
  return out;
}

Expected<PoolCopy> Pool::copy_new(const Fd& source, const std::string& filename) {
  fs::path target = m_root / filename;
  TRY_ASSIGN(std::optional<Fd> out, create_new(target, filename));
  if (!out) {
    return copy_and_hash(source, nullptr, target.string());
  }
  TRY_ASSIGN(PoolCopy copy, copy_and_hash(source, &*out, target.string()));
  TRY_CTX(out->close(), fmt::format("writing {}", target.string()));
  m_batch->copied(copy.size);
  copy.created = true;
  return copy;
}

Expected<PoolCopy> Pool::write_new(std::string_view bytes, const std::string& filename) {
  fs::path target = m_root / filename;
  TRY_ASSIGN(std::optional<Fd> out, create_new(target, filename));
  PoolCopy copy;
  MultiHasher hasher;
  hasher.update(bytes);
  copy.digests = hasher.finish();
  copy.size = bytes.size();
  if (out) {
    TRY_CTX(out->write_all(bytes), fmt::format("writing {}", target.string()));
    TRY_CTX(out->close(), fmt::format("writing {}", target.string()));
    m_batch->copied(copy.size);
    copy.created = true;
  }
  return copy;
}

Expected<PoolCopy> Pool::copy_replace(const Fd& source, const std::string& filename) {
  fs::path target = m_root / filename;
  TRY(make_parents(target));
  std::string temp = fmt::format("{}.tmp.{}", target.string(), ::getpid());
  int raw = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, k_pool_file_mode);
  if (raw < 0) {
    return errno_error(fmt::format("creating {}", temp), errno);
  }
  Fd out(raw);
  auto copied = copy_and_hash(source, &out, target.string());
  auto closed = out.close();
  if (!copied || !closed) {
    ::unlink(temp.c_str());
    return copied ? tl::unexpected(closed.error()) : tl::unexpected(copied.error());
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return errno_error(fmt::format("renaming into {}", target.string()), err);
  }
  {
    std::lock_guard lock(m_batch->mutex);
    m_batch->files.insert(filename);
  }
  copied->created = true;
  return copied;
}

bool Pool::created(const std::string& filename) const {
  std::lock_guard lock(m_batch->mutex);
  return m_batch->files.count(filename) != 0;
}

Expected<void> Pool::discard(const std::string& filename) {
  {
    std::lock_guard lock(m_batch->mutex);
    if (m_batch->files.erase(filename) == 0) {
      return {};
    }
  }
  fs::path target = m_root / filename;
  if (::unlink(target.c_str()) != 0 && errno != ENOENT) {
    return errno_error(fmt::format("removing {}", target.string()), errno);
  }
  // The folders made for it go too, unless something else went in since.
  std::lock_guard lock(m_batch->mutex);
  auto& made = m_batch->made_dirs;
  for (fs::path dir = target.parent_path();; dir = dir.parent_path()) {
    auto it = std::find(made.begin(), made.end(), dir);
    if (it == made.end() || ::rmdir(dir.c_str()) != 0) {
      break;
    }
    made.erase(it);
    m_batch->known_dirs.erase(dir);
  }
  return {};
}

Expected<void> Pool::sync() {
  std::vector<fs::path> files;
  std::vector<fs::path> dirs;
  {
    std::lock_guard lock(m_batch->mutex);
    for (const auto& name : m_batch->files) {
      files.push_back(m_root / name);
    }
    dirs = m_batch->made_dirs;
  }
  if (files.empty()) {
    return {};
  }
  if (files.size() > k_max_fsyncs) {
    TRY_ASSIGN(Fd fd, Fd::open(m_root, O_RDONLY | O_DIRECTORY));
    if (::syncfs(fd.get()) != 0) {
      return errno_error(fmt::format("syncing the file system of {}", m_root.string()), errno);
    }
    return {};
  }
  // A few files: syncfs would also wait for every other writer's data on
  // the file system. The folders holding new entries are synced too: each
  // file's own, and the parents of folders made for them.
  std::set<fs::path> to_sync;
  for (const fs::path& file : files) {
    TRY_ASSIGN(Fd fd, Fd::open(file, O_RDONLY));
    TRY_CTX(fd.sync(), file.string());
    to_sync.insert(file.parent_path());
  }
  for (const fs::path& dir : dirs) {
    to_sync.insert(dir.parent_path());
  }
  for (const fs::path& dir : to_sync) {
    TRY(sync_directory(dir));
  }
  return {};
}

void Pool::keep() {
  std::lock_guard lock(m_batch->mutex);
  m_batch->files.clear();
  m_batch->made_dirs.clear();
}

void Pool::rollback() noexcept {
  if (!m_batch) {
    return;
  }
  std::lock_guard lock(m_batch->mutex);
  for (const auto& name : m_batch->files) {
    ::unlink((m_root / name).c_str());
  }
  m_batch->files.clear();
  // Deepest first: threads that make folders at once record them in the
  // order their locks come, not the order the folders were made, and a
  // folder is only removed once its children are. A child's path is
  // longer than its parent's.
  std::sort(
      m_batch->made_dirs.begin(), m_batch->made_dirs.end(),
      [](const fs::path& a, const fs::path& b) { return a.native().size() > b.native().size(); });
  for (const fs::path& dir : m_batch->made_dirs) {
    ::rmdir(dir.c_str());
    m_batch->known_dirs.erase(dir);
  }
  m_batch->made_dirs.clear();
}

bool Pool::contains(const std::string& filename) const {
  struct stat st {};
  return ::stat((m_root / filename).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Expected<std::vector<std::string>> Pool::files() const {
  std::vector<std::string> out;
  fs::path pool = m_root / "pool";
  std::error_code ec;
  if (!fs::exists(pool, ec)) {
    return out;
  }
  fs::recursive_directory_iterator it(pool, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) {
      out.push_back(it->path().lexically_relative(m_root).generic_string());
    }
  }
  if (ec) {
    return errno_error(fmt::format("reading {}", pool.string()), ec.value());
  }
  return out;
}

Expected<void> Pool::remove(const std::string& filename) {
  fs::path target = m_root / filename;
  if (::unlink(target.c_str()) != 0 && errno != ENOENT) {
    return errno_error(fmt::format("removing {}", target.string()), errno);
  }
  // Empty folders would pile up as packages come and go; a folder still
  // holding something simply stays (rmdir fails with ENOTEMPTY).
  fs::path pool = m_root / "pool";
  std::lock_guard lock(m_batch->mutex);
  for (fs::path dir = target.parent_path();
       dir != pool && dir.string().size() > pool.string().size(); dir = dir.parent_path()) {
    if (::rmdir(dir.c_str()) != 0) {
      break;
    }
    m_batch->known_dirs.erase(dir);
  }
  return {};
}

} // namespace aptship::index
