#include "aptrepo/deb/file_feed.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "aptrepo/core/hash.hpp"
#include "aptrepo/deb/md5_lanes.hpp"

namespace aptship::deb {

Expected<std::unique_ptr<FileFeed>> FileFeed::start(const std::filesystem::path& root,
                                                    FileSource files, size_t count, size_t size) {
  const int raw = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (raw < 0) {
    return errno_error(root.string(), errno);
  }
  return std::unique_ptr<FileFeed>(new FileFeed(
      Fd(raw), std::move(files), std::max<size_t>(count, 2), std::max<size_t>(size, 1)));
}

FileFeed::FileFeed(Fd root, FileSource files, size_t count, size_t size)
    : m_root(std::move(root)), m_files(std::move(files)), m_size(size), m_slots(count) {
  for (size_t i = 0; i < m_slots.size(); ++i) {
    m_slots[i].data = make_large_buffer(size);
    m_slots[i].chunk.data = m_slots[i].data.get();
    m_slots[i].chunk.slot = i;
  }
  m_reader = std::thread([this] { read_all(); });
  m_hasher = std::thread([this] { hash_all(); });
}

FileFeed::~FileFeed() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_slot_free.notify_all();
  m_hasher_ready.notify_all();
  m_reader.join();
  m_hasher.join();
}

const FileFeed::Chunk* FileFeed::next() {
  std::unique_lock lock(m_mutex);
  m_writer_ready.wait(lock, [this] { return !m_for_writer.empty() || m_read_done; });
  if (m_for_writer.empty()) {
    return nullptr;
  }
  const size_t slot = m_for_writer.front();
  m_for_writer.pop_front();
  return &m_slots[slot].chunk;
}

void FileFeed::release(const Chunk* chunk) {
  std::lock_guard lock(m_mutex);
  unref(chunk->slot);
}

std::vector<std::string> FileFeed::digests() {
  std::unique_lock lock(m_mutex);
  m_hashed.wait(lock, [this] { return m_hash_done; });
  return std::move(m_digests);
}

std::optional<size_t> FileFeed::take_slot() {
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    for (size_t i = 0; i < m_slots.size(); ++i) {
      if (m_slots[i].refs == 0) {
        m_slots[i].refs = 1;
        m_slots[i].chunk.pieces.clear();
        m_slots[i].chunk.error.reset();
        return i;
      }
    }
    m_slot_free.wait(lock);
  }
  return std::nullopt;
}

void FileFeed::publish(size_t slot) {
  {
    std::lock_guard lock(m_mutex);
    m_slots[slot].refs = 2;
    m_for_writer.push_back(slot);
    m_for_hasher.push_back(slot);
  }
  m_writer_ready.notify_one();
  m_hasher_ready.notify_one();
}

void FileFeed::unref(size_t slot) {
  if (--m_slots[slot].refs == 0) {
    m_slot_free.notify_one();
  }
}

Expected<bool> FileFeed::read_file(SourceFile file, size_t index, size_t& slot, size_t& used) {
  const TreeEntry& entry = *file.entry;
  const std::string& shown = entry.tar.path;
  Fd fd = std::move(file.fd);
  if (!fd) {
    // Relative to the root's descriptor: the kernel resolves only the path
    // inside the tree, not the tree's own location, for every file.
    const int raw = openat(m_root.get(), entry.source.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (raw < 0) {
      if (errno == ENOENT) {
        return make_error("{}: file vanished while packing", shown);
      }
      return errno_error(shown, errno);
    }
    fd = Fd(raw);
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) {
      return errno_error(shown, errno);
    }
    if (st.st_ino != entry.ino || st.st_dev != entry.dev ||
        static_cast<uint64_t>(st.st_size) != entry.tar.size) {
      return make_error("{}: file changed while packing", shown);
    }
  }
  uint64_t remaining = entry.tar.size;
  // Hands the filled buffer over and continues in a free one; false when stopping.
  auto next_slot = [&]() {
    publish(slot);
    auto fresh = take_slot();
    if (!fresh) {
      return false;
    }
    slot = *fresh;
    used = 0;
    return true;
  };
  // A file that fits in a buffer is not split across two: whole files are
  // hashed many at a time (see hash_all).
  if (used > 0 && remaining + 1 > m_size - used && remaining + 1 <= m_size && !next_slot()) {
    return false;
  }
  Piece piece{index, used, 0, false};
  while (true) {
    if (used == m_size) {
      if (piece.size > 0) {
        m_slots[slot].chunk.pieces.push_back(piece);
      }
      if (!next_slot()) {
        return false;
      }
      piece = Piece{index, 0, 0, false};
    }
    // One byte more than expected: a short read then also proves the end
    // of the file, which saves a read per file.
    const size_t want = static_cast<size_t>(std::min<uint64_t>(remaining + 1, m_size - used));
    ssize_t n = 0;
    do {
      n = read(fd.get(), m_slots[slot].data.get() + used, want);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      return errno_error(shown, errno);
    }
    const auto got = static_cast<size_t>(n);
    if (got > remaining) {
      return make_error("{}: file grew while packing", shown);
    }
    if (got == 0 && remaining > 0) {
      return make_error("{}: file shrank while packing", shown);
    }
    used += got;
    piece.size += got;
    remaining -= got;
    if (remaining == 0 && got < want) {
      break;
    }
  }
  piece.last = true;
  m_slots[slot].chunk.pieces.push_back(piece);
  return true;
}

void FileFeed::read_all() {
  auto first = take_slot();
  if (!first) {
    return;
  }
  size_t slot = *first;
  size_t used = 0;
  size_t index = 0;
  while (true) {
    SourceFile file = m_files();
    if (file.entry == nullptr) {
      break;
    }
    auto more = read_file(std::move(file), index++, slot, used);
    if (!more) {
      m_slots[slot].chunk.error = std::move(more).error();
      break;
    }
    if (!*more) {
      return; // stopping: nobody reads the rest
    }
  }
  publish(slot);
  {
    std::lock_guard lock(m_mutex);
    m_read_done = true;
  }
  m_writer_ready.notify_all();
  m_hasher_ready.notify_all();
}

namespace {

// Splits the whole files of a chunk (sizes SIZES, in bytes) between the
// lanes and the one-at-a-time hasher: a file much larger than the rest
// would keep the lanes running for it alone. Returns how many of the
// largest files, SIZES being sorted largest first, go one at a time.
size_t alone_count(const std::vector<size_t>& sizes) {
  static const Md5Lanes k_shape = md5_lane_shape();
  const auto lanes = static_cast<double>(k_shape.lanes);
  double total = 0;
  for (size_t s : sizes) {
    total += static_cast<double>(s);
  }
  size_t alone = 0;
  while (alone < sizes.size()) {
    const auto largest = static_cast<double>(sizes[alone]);
    const double next = alone + 1 < sizes.size() ? static_cast<double>(sizes[alone + 1]) : 0;
    const double with = k_shape.step_cost * std::max(total / lanes, largest);
    const double without = k_shape.step_cost * std::max((total - largest) / lanes, next) + largest;
    if (without >= with) {
      break;
    }
    total -= largest;
    ++alone;
  }
  return alone;
}

} // namespace

void FileFeed::hash_all() {
  Hasher md5(Digest::md5);
  // True while a file's pieces continue into the next chunk.
  bool inside_file = false;
  std::vector<const Piece*> whole;
  std::vector<size_t> sizes;
  std::vector<std::string_view> batch;
  std::vector<size_t> batch_files;
  std::unique_lock lock(m_mutex);
  while (true) {
    m_hasher_ready.wait(lock, [this] { return m_stop || m_read_done || !m_for_hasher.empty(); });
    if (m_stop) {
      return;
    }
    if (m_for_hasher.empty()) {
      break; // m_read_done: everything was hashed
    }
    const size_t slot = m_for_hasher.front();
    m_for_hasher.pop_front();
    lock.unlock();
    const Chunk& chunk = m_slots[slot].chunk;
    if (!chunk.pieces.empty() && m_digests.size() <= chunk.pieces.back().file) {
      m_digests.resize(chunk.pieces.back().file + 1);
    }
    // Files that start and end in this chunk go through md5_many together;
    // the pieces of files that span chunks are hashed in order.
    whole.clear();
    for (const Piece& piece : chunk.pieces) {
      if (!inside_file && piece.last) {
        whole.push_back(&piece);
      } else {
        md5.update(std::string_view(chunk.data + piece.offset, piece.size));
        if (piece.last) {
          m_digests[piece.file] = md5.hex();
        }
      }
      inside_file = !piece.last;
    }
    std::sort(whole.begin(), whole.end(),
              [](const Piece* x, const Piece* y) { return x->size > y->size; });
    sizes.clear();
    for (const Piece* piece : whole) {
      sizes.push_back(piece->size);
    }
    const size_t alone = alone_count(sizes);
    batch.clear();
    batch_files.clear();
    for (size_t i = 0; i < whole.size(); ++i) {
      const std::string_view data(chunk.data + whole[i]->offset, whole[i]->size);
      if (i < alone) {
        m_digests[whole[i]->file] = hex_digest(Digest::md5, data);
      } else {
        batch.push_back(data);
        batch_files.push_back(whole[i]->file);
      }
    }
    std::vector<std::string> digests = md5_many(batch);
    for (size_t i = 0; i < digests.size(); ++i) {
      m_digests[batch_files[i]] = std::move(digests[i]);
    }
    lock.lock();
    unref(slot);
  }
  m_hash_done = true;
  lock.unlock();
  m_hashed.notify_all();
}

} // namespace aptship::deb
