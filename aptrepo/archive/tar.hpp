#pragma once

// GNU tar streams through libarchive: a writer that produces the exact tar
// form dpkg expects (GNU format, never pax headers, root:root, the caller's
// order and mtimes) compressed on the fly, and a reader over a byte range
// of a file (a .deb member) that reports what it finds, pax headers included.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aptrepo/archive/compression.hpp"
#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"

namespace aptship::archive {

enum class EntryType { file, directory, symlink, hardlink, other };

struct TarEntry {
  std::string path; // "./usr/bin/x"; directories end in "/"
  EntryType type = EntryType::file;
  uint32_t mode = 0644;    // permission bits (07777)
  uint64_t size = 0;       // bytes of data, regular files only
  int64_t mtime = 0;       // seconds since the epoch
  std::string link_target; // symlink target, or the path a hard link names
  uint32_t uid = 0;        // reader only: owner as stored
  uint32_t gid = 0;        // reader only: group as stored
  std::string uname;       // reader only
  std::string gname;       // reader only
  bool pax = false;        // reader only: the entry carried a pax header
};

// Receives the compressed output in order.
using Sink = std::function<Expected<void>(std::string_view)>;

// A destination that lends its own memory, so that the compressor writes
// its output there instead of into a buffer the destination then copies:
// space() is room to fill (never empty), commit(N) says that its first N
// bytes were filled, in order.
struct OutputArea {
  std::function<std::span<char>()> space;
  std::function<Expected<void>(size_t)> commit;
};

class TarWriter {
public:
  // Starts a GNU tar stream compressed with COMPRESSION at LEVEL (-1 for
  // the default), written to SINK. THREADS > 0 lets zstd and xz use that
  // many workers; their output does not depend on the count.
  [[nodiscard]] static Expected<TarWriter> create(Compression compression, int level, Sink sink,
                                                  unsigned threads = 1);
  // The same, written into AREA; zstd output goes there without a copy.
  [[nodiscard]] static Expected<TarWriter> create(Compression compression, int level,
                                                  OutputArea area, unsigned threads = 1);
  TarWriter(TarWriter&&) noexcept;
  TarWriter& operator=(TarWriter&&) noexcept;
  ~TarWriter();

  // Writes ENTRY's header, owned by root:root; a file's data follows
  // through write_data, exactly ENTRY.size bytes.
  [[nodiscard]] Expected<void> add(const TarEntry& entry);
  // Writes the next bytes of the current file.
  [[nodiscard]] Expected<void> write_data(std::string_view data);
  // Writes the end-of-archive blocks and flushes the compressor; the
  // stream is complete only when this succeeds.
  [[nodiscard]] Expected<void> finish();

private:
  struct Impl;
  explicit TarWriter(std::unique_ptr<Impl> impl);
  // SINK takes the output; zstd writes into AREA instead when there is one.
  [[nodiscard]] static Expected<TarWriter> create(Compression compression, int level, Sink sink,
                                                  std::optional<OutputArea> area, unsigned threads);
  std::unique_ptr<Impl> m_impl;
};

// Visits each entry; DATA reads the current file's contents (call it until
// it returns 0) and may be ignored. Return an error to stop.
using DataFn = std::function<Expected<size_t>(void* buffer, size_t size)>;
using EntryFn = std::function<Expected<void>(const TarEntry& entry, const DataFn& data)>;

// Reads the tar stream stored in FD at [OFFSET, OFFSET+SIZE), compressed as
// the member NAME's extension says (.gz, .xz, .zst, .bz2 or none), calling
// VISIT for each entry in order.
[[nodiscard]] Expected<void> read_tar(const Fd& fd, uint64_t offset, uint64_t size,
                                      std::string_view name, const EntryFn& visit);

// The same for a member already in memory: a repository add reads each small
// package once and validates it from that copy. Gzip members are inflated in
// one call (libdeflate), which also checks their CRC and length.
[[nodiscard]] Expected<void> read_tar(std::string_view member, std::string_view name,
                                      const EntryFn& visit);

// The compression a member name's extension implies ("data.tar.zst").
[[nodiscard]] Expected<Compression> compression_of_member(std::string_view member,
                                                          std::string_view stem);

} // namespace aptship::archive
