#pragma once

// Reads the regular files of a package tree ahead of the archive writer and
// hashes them with MD5, each on a thread of its own, so that the writer's
// thread only builds and compresses the tar stream and never waits on a
// file's system calls. Files travel in a few large buffers, many small
// files to a buffer, so the threads meet a few hundred times per package
// rather than several times per file.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/large_buffer.hpp"
#include "aptrepo/deb/tree.hpp"

namespace aptship::deb {

class FileFeed {
public:
  // A run of one file's bytes inside a chunk.
  struct Piece {
    size_t file = 0;   // files are numbered from 0 in the order they are read
    size_t offset = 0; // into Chunk::data
    size_t size = 0;
    bool last = false; // the file's final piece (possibly empty)
  };
  // A filled buffer; chunks come out in file order.
  struct Chunk {
    const char* data = nullptr;
    std::vector<Piece> pieces;
    // Set when reading stopped: the error of the file that follows the
    // last piece. No chunk follows.
    std::optional<Error> error;
    size_t slot = 0;
  };

  // A regular file to read: its entry (which outlives the feed) and, when
  // the listing opened it, its descriptor.
  struct SourceFile {
    const TreeEntry* entry = nullptr;
    Fd fd;
  };
  // Yields the next regular file to read, in archive order, or an entry of
  // nullptr after the last. Called on the reading thread.
  using FileSource = std::function<SourceFile()>;

  // Starts reading the files FILES yields, from the tree at ROOT, into
  // COUNT buffers of SIZE bytes, and hashing them. A file that comes
  // without a descriptor is opened by name and checked to be the one
  // listed; every file is checked to have the listed size.
  [[nodiscard]] static Expected<std::unique_ptr<FileFeed>>
  start(const std::filesystem::path& root, FileSource files, size_t count, size_t size);
  FileFeed(const FileFeed&) = delete;
  FileFeed& operator=(const FileFeed&) = delete;
  // Stops both threads, discarding whatever was not consumed.
  ~FileFeed();

  // The next chunk, waiting for it; nullptr once every file was handed out.
  [[nodiscard]] const Chunk* next();
  // Gives back CHUNK, which came from next().
  void release(const Chunk* chunk);
  // Waits for the hashing of everything read; the lower-case hex MD5 of
  // each file, in order (empty for a file that could not be read).
  [[nodiscard]] std::vector<std::string> digests();

private:
  struct Slot {
    LargeBuffer data;
    Chunk chunk;
    int refs = 0; // 0 = free; once filled, the writer and the hasher hold one each
  };
  FileFeed(Fd root, FileSource files, size_t count, size_t size);
  void read_all();
  void hash_all();
  // Waits for a free slot; nullopt when stopping.
  std::optional<size_t> take_slot();
  void publish(size_t slot);
  void unref(size_t slot);
  // Reads FILE as file number INDEX into SLOT from USED on, publishing
  // full slots and taking new ones. False when the feed is stopping.
  Expected<bool> read_file(SourceFile file, size_t index, size_t& slot, size_t& used);

  Fd m_root;
  FileSource m_files;
  size_t m_size;
  std::vector<Slot> m_slots;
  std::deque<size_t> m_for_writer;
  std::deque<size_t> m_for_hasher;
  std::vector<std::string> m_digests;
  std::mutex m_mutex;
  std::condition_variable m_slot_free;
  std::condition_variable m_writer_ready;
  std::condition_variable m_hasher_ready;
  std::condition_variable m_hashed;
  bool m_read_done = false;
  bool m_hash_done = false;
  bool m_stop = false;
  std::thread m_reader;
  std::thread m_hasher;
};

} // namespace aptship::deb
