#pragma once

// Streaming zstd compression with libzstd's own worker threads.
//
// libarchive's zstd filter is not used for this: libzstd's multithreaded
// mode (ZSTD_c_nbWorkers) compresses while the caller keeps reading and
// hashing input, which is where packing spends its time.

#include <memory>
#include <string_view>

#include "aptrepo/archive/tar.hpp"
#include "aptrepo/core/error.hpp"

namespace aptship::archive {

class ZstdStream {
public:
  // Compresses at LEVEL with WORKERS threads (at least 1, so that the
  // output is the same whatever the count), writing frames to SINK.
  [[nodiscard]] static Expected<ZstdStream> create(int level, unsigned workers, Sink sink);
  // The same, compressing straight into AREA's memory.
  [[nodiscard]] static Expected<ZstdStream> create(int level, unsigned workers, OutputArea area);
  ZstdStream(ZstdStream&&) noexcept;
  ZstdStream& operator=(ZstdStream&&) noexcept;
  ~ZstdStream();

  // Compresses DATA (may be buffered internally).
  [[nodiscard]] Expected<void> write(std::string_view data);
  // Flushes everything and ends the frame.
  [[nodiscard]] Expected<void> finish();

private:
  struct Impl;
  explicit ZstdStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

} // namespace aptship::archive
