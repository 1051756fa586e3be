#pragma once

// The file tree of a package being built: a directory laid out as for
// `dpkg-deb -b`, listed in the order and form its data.tar will have.

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "aptrepo/archive/tar.hpp"
#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"

namespace aptship::deb {

struct TreeEntry {
  archive::TarEntry tar; // path "./x/y" ("./x/" for directories), clamped mtime
  std::string source;    // path on disk relative to the tree root ("x/y"; "" for the root)
  dev_t dev = 0;         // device and inode of a regular file, to notice that it was
  ino_t ino = 0;         // replaced while packing
};

struct Tree {
  // "./" first, then depth-first, names sorted bytewise; a deque so that an
  // entry stays in place while a scan appends more.
  std::deque<TreeEntry> entries;
  uint64_t installed_size_kib = 0; // computed as dpkg-gencontrol does
};

// Lists ROOT, skipping its top-level DEBIAN folder. Mtimes later than
// CLAMP_MTIME are set to it. Refuses names with newlines, special files
// (devices, fifos, sockets) and symlinks that loop within the package
// (resolving absolute targets against the package's own root).
[[nodiscard]] Expected<Tree> scan_tree(const std::filesystem::path& root,
                                       std::optional<int64_t> clamp_mtime);

// Checks that no symlink among ENTRIES loops when resolved inside the
// package; targets that leave the package are fine.
[[nodiscard]] Expected<void> check_symlink_loops(const std::deque<TreeEntry>& entries);

// scan_tree() on a thread of its own, whose entries can be used while it
// goes on: packing starts on the first files while the rest are listed.
class TreeScan {
public:
  // Starts listing ROOT as scan_tree() does. With OPEN_FILES, each regular
  // file is opened as it is listed, for take_file(); the scan runs at
  // most a few hundred open files ahead of the files taken.
  [[nodiscard]] static std::unique_ptr<TreeScan> start(const std::filesystem::path& root,
                                                       std::optional<int64_t> clamp_mtime,
                                                       bool open_files = false);
  TreeScan(const TreeScan&) = delete;
  TreeScan& operator=(const TreeScan&) = delete;
  // Stops the scan if it still runs.
  ~TreeScan();

  // Appends to OUT the entries from INDEX on, as many as are listed,
  // waiting for at least one; false when the scan ended (or failed) with
  // fewer entries. Entries live as long as the scan. (TreeCursor walks
  // them one by one.)
  [[nodiscard]] bool wait_for_batch(size_t index, std::vector<const TreeEntry*>& out);
  // The descriptor of ENTRY, a regular file listed by a scan that opens
  // files, open on the very file that was listed; a closed Fd when it was
  // not opened (the caller then opens it by name). Every regular file is
  // to be taken, in listing order.
  [[nodiscard]] Fd take_file(const TreeEntry* entry);
  // Waits for the end of the scan: the whole tree, checked as scan_tree()
  // checks it, or the scan's error. Files not yet taken are closed.
  [[nodiscard]] Expected<const Tree*> finish();

private:
  TreeScan() = default;
  void run(const std::filesystem::path& root, std::optional<int64_t> clamp_mtime, bool open_files);

  std::mutex m_mutex;
  std::condition_variable m_grown;
  std::condition_variable m_taken;
  // Files opened while listed and not yet taken, in listing order.
  std::deque<std::pair<const TreeEntry*, Fd>> m_open;
  bool m_finishing = false;
  Tree m_tree;
  bool m_done = false;
  bool m_stop = false;
  std::optional<Error> m_error;
  std::thread m_thread;
};

// Walks the entries of a TreeScan in order, taking them a batch at a time.
class TreeCursor {
public:
  explicit TreeCursor(TreeScan& scan) : m_scan(scan) {}
  // The next entry, waiting until it is listed; nullptr after the last.
  [[nodiscard]] const TreeEntry* next();

private:
  TreeScan& m_scan;
  std::vector<const TreeEntry*> m_batch;
  size_t m_at = 0;   // into m_batch
  size_t m_next = 0; // index of the entry after the batch
};

} // namespace aptship::deb
