#include "aptrepo/deb/tree.hpp"

#include "aptrepo/core/text.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>

namespace aptship::deb {

namespace {

using archive::EntryType;

struct DirClose {
  void operator()(DIR* d) const { closedir(d); }
};

struct PairHash {
  size_t operator()(const std::pair<dev_t, ino_t>& p) const {
    return std::hash<uint64_t>()(static_cast<uint64_t>(p.first) * 1000003U ^
                                 static_cast<uint64_t>(p.second));
  }
};

class Scanner {
public:
  Scanner(std::filesystem::path root, std::optional<int64_t> clamp)
      : m_root(std::move(root)), m_clamp(clamp) {}

  Expected<Tree> run() {
    struct stat st {};
    if (lstat(m_root.c_str(), &st) != 0) {
      return errno_error(m_root.string(), errno);
    }
    if (!S_ISDIR(st.st_mode)) {
      return make_error("{}: not a directory", m_root.string());
    }
    TRY(add("", st));
    TRY(walk("", true));
    return std::move(m_tree);
  }

private:
  int64_t clamp(int64_t mtime) const { return m_clamp && mtime > *m_clamp ? *m_clamp : mtime; }

  static uint64_t kib(uint64_t bytes) { return (bytes + 1023) / 1024; }

  Expected<void> add(const std::string& rel, const struct stat& st) {
    TreeEntry e;
    e.source = rel;
    e.tar.mode = st.st_mode & 07777;
    e.tar.mtime = clamp(st.st_mtime);
    const std::string shown = printable(rel.empty() ? "./" : "./" + rel);
    if (rel.find('\n') != std::string::npos) {
      return make_error("{}: file names cannot contain a newline", shown);
    }
    if (S_ISDIR(st.st_mode)) {
      e.tar.type = EntryType::directory;
      e.tar.path = rel.empty() ? "./" : "./" + rel + "/";
      m_tree.installed_size_kib += 1;
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
      } else {
        e.tar.type = EntryType::file;
        e.tar.size = static_cast<uint64_t>(st.st_size);
        m_tree.installed_size_kib += kib(e.tar.size);
        if (st.st_nlink > 1) {
          m_links.emplace(key, e.tar.path);
        }
      }
    } else if (S_ISLNK(st.st_mode)) {
      e.tar.path = "./" + rel;
      e.tar.type = EntryType::symlink;
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      const std::string full = (m_root / rel).string();
      ssize_t n = readlink(full.c_str(), target.data(), target.size());
      if (n < 0) {
        return errno_error(fmt::format("{}: reading the symlink", shown), errno);
      }
      target.resize(static_cast<size_t>(n));
      if (target.find('\n') != std::string::npos) {
        return make_error("{}: symlink targets cannot contain a newline", shown);
      }
      e.tar.link_target = std::move(target);
      m_tree.installed_size_kib += kib(e.tar.link_target.size());
    } else {
      return make_error("{}: only regular files, directories and symlinks can be packed", shown);
    }
    m_tree.entries.push_back(std::move(e));
    return {};
  }

  Expected<void> walk(const std::string& rel, bool top) {
    const std::filesystem::path dir = rel.empty() ? m_root : m_root / rel;
    std::unique_ptr<DIR, DirClose> d(opendir(dir.c_str()));
    if (!d) {
      return errno_error(printable(rel.empty() ? "./" : "./" + rel), errno);
    }
    std::vector<std::string> names;
    errno = 0;
    while (dirent* ent = readdir(d.get())) {
      std::string_view name = ent->d_name;
      if (name == "." || name == ".." || (top && name == "DEBIAN")) {
        continue;
      }
      names.emplace_back(name);
    }
    if (errno != 0) {
      return errno_error(fmt::format("listing {}", dir.string()), errno);
    }
    d.reset();
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      const std::string child = rel.empty() ? name : rel + "/" + name;
      struct stat st {};
      if (lstat((m_root / child).c_str(), &st) != 0) {
        if (errno == ENOENT) {
          return make_error("./{}: file vanished while packing", printable(child));
        }
        return errno_error(printable("./" + child), errno);
      }
      TRY(add(child, st));
      if (S_ISDIR(st.st_mode)) {
        TRY(walk(child, false));
      }
    }
    return {};
  }

  std::filesystem::path m_root;
  std::optional<int64_t> m_clamp;
  Tree m_tree;
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

Expected<void> check_symlink_loops(const std::vector<TreeEntry>& entries) {
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
  TRY_ASSIGN(Tree tree, Scanner(root, clamp_mtime).run());
  TRY(check_symlink_loops(tree.entries));
  return tree;
}

} // namespace aptship::deb
