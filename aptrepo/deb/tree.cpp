#include "aptrepo/deb/tree.hpp"

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/text.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aptship::deb {

namespace {

using archive::EntryType;

struct PairHash {
  size_t operator()(const std::pair<dev_t, ino_t>& p) const {
    return std::hash<uint64_t>()(static_cast<uint64_t>(p.first) * 1000003U ^
                                 static_cast<uint64_t>(p.second));
  }
};

// Receives each entry as it is listed, with the file open for reading
// when it is a regular file and the scanner opens files; false stops the
// scan.
using EntrySink = std::function<bool(TreeEntry&& entry, Fd file)>;

class Scanner {
public:
  // With OPEN_FILES, regular files are opened as they are listed and
  // described by their descriptor: the reader then needs no second lookup
  // by path, and reads the very file that was listed.
  Scanner(std::filesystem::path root, std::optional<int64_t> clamp, bool open_files, EntrySink sink)
      : m_root(std::move(root)), m_clamp(clamp), m_open_files(open_files), m_sink(std::move(sink)) {
  }

  // Lists the tree through the sink; returns its installed size in KiB.
  Expected<uint64_t> run() {
    TRY(list());
    return m_installed_kib;
  }

private:
  Expected<void> list() {
    struct stat st {};
    if (lstat(m_root.c_str(), &st) != 0) {
      return errno_error(m_root.string(), errno);
    }
    if (!S_ISDIR(st.st_mode)) {
      return make_error("{}: not a directory", m_root.string());
    }
    TRY(add(AT_FDCWD, "", "", st, Fd()));
    const int fd = open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      return errno_error(m_root.string(), errno);
    }
    return walk(fd, "", true);
  }

  int64_t clamp(int64_t mtime) const { return m_clamp && mtime > *m_clamp ? *m_clamp : mtime; }

  static uint64_t kib(uint64_t bytes) { return (bytes + 1023) / 1024; }

  // Adds REL, named NAME in the directory DIR_FD, whose lstat is ST, and
  // which is open as FILE if it is a regular file the scanner opened.
  Expected<void> add(int dir_fd, const std::string& name, const std::string& rel,
                     const struct stat& st, Fd file) {
    TreeEntry e;
    e.source = rel;
    e.tar.mode = st.st_mode & 07777;
    e.tar.mtime = clamp(st.st_mtime);
    auto shown = [&rel] { return printable(rel.empty() ? "./" : "./" + rel); };
    if (rel.find('\n') != std::string::npos) {
      return make_error("{}: file names cannot contain a newline", shown());
    }
    if (S_ISDIR(st.st_mode)) {
      e.tar.type = EntryType::directory;
      e.tar.path = rel.empty() ? "./" : "./" + rel + "/";
      m_installed_kib += 1;
    } else if (S_ISREG(st.st_mode)) {
      e.tar.path = "./" + rel;
      e.dev = st.st_dev;
      e.ino = st.st_ino;
      auto key = std::make_pair(st.st_dev, st.st_ino);
      auto first = st.st_nlink > 1 ? m_links.find(key) : m_links.end();
      if (first != m_links.end()) {
        // A hard link to a file already in the archive: stored once.
        e.tar.type = EntryType::hardlink;
        e.tar.link_target = first->second;
        file = Fd();
      } else {
        e.tar.type = EntryType::file;
        e.tar.size = static_cast<uint64_t>(st.st_size);
        m_installed_kib += kib(e.tar.size);
        if (st.st_nlink > 1) {
          m_links.emplace(key, e.tar.path);
        }
      }
    } else if (S_ISLNK(st.st_mode)) {
      e.tar.path = "./" + rel;
      e.tar.type = EntryType::symlink;
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = readlinkat(dir_fd, name.c_str(), target.data(), target.size());
      if (n < 0) {
        return errno_error(fmt::format("{}: reading the symlink", shown()), errno);
      }
      target.resize(static_cast<size_t>(n));
      if (target.find('\n') != std::string::npos) {
        return make_error("{}: symlink targets cannot contain a newline", shown());
      }
      e.tar.link_target = std::move(target);
      m_installed_kib += kib(e.tar.link_target.size());
    } else {
      return make_error("{}: only regular files, directories and symlinks can be packed", shown());
    }
    if (!m_sink(std::move(e), std::move(file))) {
      return make_error("scan stopped");
    }
    return {};
  }

  // Lists the directory REL, open as FD (taken over), and everything below
  // it. Names are looked up relative to their directory's descriptor, so
  // the kernel never walks the whole path again.
  Expected<void> walk(int fd, const std::string& rel, bool top) {
    const std::string shown_dir = rel.empty() ? "./" : "./" + rel;
    const Fd dir(fd);
    // Names with their type as the directory records it (DT_UNKNOWN on
    // filesystems that do not).
    std::vector<std::pair<std::string, unsigned char>> names;
    // getdents64 itself rather than readdir: fdopendir costs two more
    // system calls per directory, and a package can have tens of thousands.
    while (true) {
      const ssize_t n = getdents64(dir.get(), m_dirents.data(), m_dirents.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return errno_error(fmt::format("listing {}", printable(shown_dir)), errno);
      }
      if (n == 0) {
        break;
      }
      for (size_t at = 0; at < static_cast<size_t>(n);) {
        const auto* ent = reinterpret_cast<const dirent64*>(m_dirents.data() + at);
        at += ent->d_reclen;
        std::string_view name = ent->d_name;
        if (name == "." || name == ".." || (top && name == "DEBIAN")) {
          continue;
        }
        names.emplace_back(name, ent->d_type);
      }
    }
    std::sort(names.begin(), names.end());
    const int dir_fd = dir.get();
    for (const auto& [name, type] : names) {
      const std::string child = rel.empty() ? name : rel + "/" + name;
      struct stat st {};
      // Directories, and regular files when asked to, are opened and
      // described by their descriptor; a name the directory lists as
      // something else, or that cannot be opened (unreadable, or changed
      // since it was listed), is looked up with fstatat.
      Fd opened;
      if (type == DT_DIR || (type == DT_REG && m_open_files)) {
        const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
                          (type == DT_DIR ? O_DIRECTORY : O_NONBLOCK | O_NOCTTY);
        const int fd = open_listed(dir_fd, name.c_str(), flags);
        if (fd >= 0) {
          opened = Fd(fd);
          if (fstat(opened.get(), &st) != 0) {
            return errno_error(printable("./" + child), errno);
          }
        }
      }
      // The error of a failed lookup of CHILD, from errno.
      auto lookup_failed = [&child] {
        return errno == ENOENT ? make_error("./{}: file vanished while packing", printable(child))
                               : errno_error(printable("./" + child), errno);
      };
      if (!opened && fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return lookup_failed();
      }
      if (S_ISDIR(st.st_mode)) {
        TRY(add(dir_fd, name, child, st, Fd()));
        int sub = opened ? opened.release() : -1;
        if (sub < 0) {
          sub = openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (sub < 0) {
          return lookup_failed();
        }
        TRY(walk(sub, child, false));
      } else {
        TRY(add(dir_fd, name, child, st, S_ISREG(st.st_mode) ? std::move(opened) : Fd()));
      }
    }
    return {};
  }

  // Opens NAME without updating its access time where that is allowed
  // (the owner, or root): reading a tree to pack it is not a use of its
  // files, and the atime check is a measurable part of each open. Where
  // it is refused (EPERM: someone else's file) the open is repeated
  // plainly, and later opens of the pack do not try again.
  int open_listed(int dir_fd, const char* name, int flags) {
    if (m_noatime) {
      const int fd = openat(dir_fd, name, flags | O_NOATIME);
      if (fd >= 0 || errno != EPERM) {
        return fd;
      }
      m_noatime = false;
    }
    return openat(dir_fd, name, flags);
  }

  std::filesystem::path m_root;
  std::optional<int64_t> m_clamp;
  bool m_open_files = false;
  bool m_noatime = true;
  EntrySink m_sink;
  uint64_t m_installed_kib = 0;
  // getdents64's buffer (operator new aligns it for the records it holds).
  std::vector<char> m_dirents = std::vector<char>(32768);
  std::unordered_map<std::pair<dev_t, ino_t>, std::string, PairHash> m_links;
};

// Splits a path into its non-empty components.
std::deque<std::string> components(std::string_view path) {
  std::deque<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    if (end > start) {
      out.emplace_back(path.substr(start, end - start));
    }
    start = end + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out = ".";
  for (const std::string& p : parts) {
    out += "/";
    out += p;
  }
  return out;
}

} // namespace

Expected<void> check_symlink_loops(const std::deque<TreeEntry>& entries) {
  if (std::none_of(entries.begin(), entries.end(),
                   [](const TreeEntry& e) { return e.tar.type == EntryType::symlink; })) {
    return {};
  }
  // Links by package path without the trailing slash: "./a/b".
  std::unordered_map<std::string, const TreeEntry*> by_path;
  for (const TreeEntry& e : entries) {
    std::string key = e.tar.path;
    if (key.size() > 2 && key.back() == '/') {
      key.pop_back();
    }
    by_path.emplace(std::move(key), &e);
  }
  // The kernel's limit on symlinks followed in one lookup.
  constexpr int k_max_hops = 40;
  for (const TreeEntry& link : entries) {
    if (link.tar.type != EntryType::symlink) {
      continue;
    }
    std::vector<std::string> resolved;
    std::deque<std::string> pending = components(link.tar.path);
    pending.pop_front(); // the leading "."
    std::deque<std::string> rest;
    // Start from the link's parent, then walk its target.
    pending.pop_back();
    for (std::string& c : pending) {
      resolved.push_back(std::move(c));
    }
    if (!link.tar.link_target.empty() && link.tar.link_target.front() == '/') {
      resolved.clear();
    }
    rest = components(link.tar.link_target);
    int hops = 1;
    while (!rest.empty()) {
      std::string c = std::move(rest.front());
      rest.pop_front();
      if (c == ".") {
        continue;
      }
      if (c == "..") {
        if (!resolved.empty()) {
          resolved.pop_back();
        }
        continue;
      }
      resolved.push_back(std::move(c));
      auto found = by_path.find(join(resolved));
      if (found == by_path.end()) {
        break; // leaves the package: resolved on the target system
      }
      const TreeEntry& hit = *found->second;
      if (hit.tar.type != EntryType::symlink) {
        continue;
      }
      if (++hops > k_max_hops) {
        return make_error("{}: symlink loop (-> {})", link.tar.path, link.tar.link_target);
      }
      resolved.pop_back();
      if (!hit.tar.link_target.empty() && hit.tar.link_target.front() == '/') {
        resolved.clear();
      }
      std::deque<std::string> more = components(hit.tar.link_target);
      rest.insert(rest.begin(), more.begin(), more.end());
    }
  }
  return {};
}

Expected<Tree> scan_tree(const std::filesystem::path& root, std::optional<int64_t> clamp_mtime) {
  Tree tree;
  Scanner scanner(root, clamp_mtime, false, [&tree](TreeEntry&& e, Fd) {
    tree.entries.push_back(std::move(e));
    return true;
  });
  TRY_ASSIGN(tree.installed_size_kib, scanner.run());
  TRY(check_symlink_loops(tree.entries));
  return tree;
}

std::unique_ptr<TreeScan> TreeScan::start(const std::filesystem::path& root,
                                          std::optional<int64_t> clamp_mtime, bool open_files) {
  std::unique_ptr<TreeScan> scan(new TreeScan());
  scan->m_thread = std::thread(
      [s = scan.get(), root, clamp_mtime, open_files] { s->run(root, clamp_mtime, open_files); });
  return scan;
}

TreeScan::~TreeScan() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_taken.notify_all();
  m_thread.join();
}

void TreeScan::run(const std::filesystem::path& root, std::optional<int64_t> clamp_mtime,
                   bool open_files) {
  // Entries are handed over in batches: one wake-up of a waiting reader per
  // entry would cost more than listing the entry.
  constexpr size_t k_batch = 128;
  // Open files not yet taken, beyond which the scan waits for the reader.
  constexpr size_t k_open_ahead = 256;
  std::vector<std::pair<TreeEntry, Fd>> batch;
  auto flush = [&] {
    {
      std::unique_lock lock(m_mutex);
      m_taken.wait(lock, [&] { return m_stop || m_finishing || m_open.size() < k_open_ahead; });
      if (m_stop) {
        return false;
      }
      for (auto& [entry, file] : batch) {
        m_tree.entries.push_back(std::move(entry));
        // Once finish() waits, nobody takes them: the reader, if any,
        // opens the rest by name.
        if (file && !m_finishing) {
          m_open.emplace_back(&m_tree.entries.back(), std::move(file));
        }
      }
    }
    batch.clear();
    m_grown.notify_all();
    return true;
  };
  Scanner scanner(root, clamp_mtime, open_files, [&](TreeEntry&& e, Fd file) {
    batch.emplace_back(std::move(e), std::move(file));
    return batch.size() < k_batch || flush();
  });
  auto installed = scanner.run();
  if (installed && !flush()) {
    installed = make_error("scan stopped");
  }
  // Entries no longer change, so the loop check reads them unlocked.
  Expected<void> checked = installed ? check_symlink_loops(m_tree.entries) : Expected<void>();
  {
    std::lock_guard lock(m_mutex);
    if (!installed) {
      m_error = installed.error();
    } else if (!checked) {
      m_error = checked.error();
    } else {
      m_tree.installed_size_kib = *installed;
    }
    m_done = true;
  }
  m_grown.notify_all();
}

Fd TreeScan::take_file(const TreeEntry* entry) {
  std::lock_guard lock(m_mutex);
  // Files are taken in listing order, so a descriptor kept for ENTRY is
  // the first; none is there when the file was not opened.
  if (m_open.empty() || m_open.front().first != entry) {
    return Fd();
  }
  Fd file = std::move(m_open.front().second);
  m_open.pop_front();
  m_taken.notify_all();
  return file;
}

bool TreeScan::wait_for_batch(size_t index, std::vector<const TreeEntry*>& out) {
  std::unique_lock lock(m_mutex);
  m_grown.wait(lock, [&] { return index < m_tree.entries.size() || m_done; });
  for (size_t i = index; i < m_tree.entries.size(); ++i) {
    out.push_back(&m_tree.entries[i]);
  }
  return index < m_tree.entries.size();
}

const TreeEntry* TreeCursor::next() {
  if (m_at == m_batch.size()) {
    m_batch.clear();
    m_at = 0;
    if (!m_scan.wait_for_batch(m_next, m_batch)) {
      return nullptr;
    }
    m_next += m_batch.size();
  }
  return m_batch[m_at++];
}

Expected<const Tree*> TreeScan::finish() {
  std::unique_lock lock(m_mutex);
  m_finishing = true;
  m_open.clear();
  m_taken.notify_all();
  m_grown.wait(lock, [&] { return m_done; });
  if (m_error) {
    return tl::unexpected(*m_error);
  }
  return &m_tree;
}

} // namespace aptship::deb
