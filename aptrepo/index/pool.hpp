#pragma once

// The pool: the package files under DATA/public/pool, laid out as Debian
// does (pool/COMPONENT/PREFIX/NAME/NAME_VERSION_ARCH.deb). A pool file is
// written once and never rewritten while anything may name it. The files
// of an add form a batch: durable together before the database names them,
// or removed together, with the folders made for them, if the add fails.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/hash.hpp"

namespace aptship::index {

// The directory below pool/COMPONENT for NAME: its first letter, or its
// first four for names starting with "lib" ("libc6" -> "libc").
[[nodiscard]] std::string pool_prefix(std::string_view name);

// The file name of a package relative to the public root,
// "pool/main/h/hello/hello_1%3a2.0_all.deb": the epoch colon is written
// "%3a", as apt's own download names do.
[[nodiscard]] std::string pool_filename(std::string_view component, std::string_view name,
                                        std::string_view version, std::string_view architecture);

// What copying a package file into the pool gave.
struct PoolCopy {
  bool created = false; // false: a file was there already and is untouched
  Digests digests;      // of the bytes read from the source
  uint64_t size = 0;
};

class Pool {
public:
  // The pool of the published tree ROOT (DATA/public).
  explicit Pool(std::filesystem::path root);
  Pool(Pool&&) noexcept;
  Pool& operator=(Pool&&) noexcept;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool();

  // Copies SOURCE (from its first byte) to FILENAME ("pool/...", relative
  // to the root), creating its folders, unless a file is there already:
  // that one is left as it is and SOURCE is only hashed. The digests are
  // computed in the same pass as the copy, so they describe what was
  // written. Safe to call from several threads at once.
  [[nodiscard]] Expected<PoolCopy> copy_new(const Fd& source, const std::string& filename);
  // copy_new for a source already read into memory: writes BYTES.
  [[nodiscard]] Expected<PoolCopy> write_new(std::string_view bytes, const std::string& filename);
  // Writes SOURCE over FILENAME through a temporary file and a rename: for
  // a file nothing refers to (left by an interrupted add) or one gone
  // missing. Part of the batch like copy_new's files.
  [[nodiscard]] Expected<PoolCopy> copy_replace(const Fd& source, const std::string& filename);
  // Whether this batch created FILENAME.
  [[nodiscard]] bool created(const std::string& filename) const;
  // Removes FILENAME, which this batch created and no longer needs.
  [[nodiscard]] Expected<void> discard(const std::string& filename);
  // Makes the batch's files durable with their folders: an fsync each for a
  // few files, one syncfs(2) for many (thousands of fsyncs would each wait
  // for the disk).
  [[nodiscard]] Expected<void> sync();
  // Ends the batch: its files stay.
  void keep();
  // Removes every file of the batch and the folders made for them, so that
  // a failed add leaves the pool as it found it. The destructor does this
  // for a batch neither kept nor rolled back.
  void rollback() noexcept;

  // Whether FILENAME exists as a regular file.
  [[nodiscard]] bool contains(const std::string& filename) const;
  // Every regular file below pool/, as "pool/..." names.
  [[nodiscard]] Expected<std::vector<std::string>> files() const;
  // Removes FILENAME and the folders it leaves empty (up to pool/).
  [[nodiscard]] Expected<void> remove(const std::string& filename);

  // The published tree this pool belongs to.
  [[nodiscard]] const std::filesystem::path& root() const { return m_root; }

private:
  struct Batch;
  [[nodiscard]] Expected<void> make_parents(const std::filesystem::path& path);
  // Creates FILENAME for writing, or nothing if a file is there already.
  [[nodiscard]] Expected<std::optional<Fd>> create_new(const std::filesystem::path& target,
                                                       const std::string& filename);
  std::filesystem::path m_root;
  std::unique_ptr<Batch> m_batch;
};

} // namespace aptship::index
