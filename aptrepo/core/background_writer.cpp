#include "aptrepo/core/background_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace aptship {

namespace {

constexpr size_t k_align = 4096;
// Enough for the compressor to fill one block while the thread writes
// another and a third waits.
constexpr size_t k_blocks = 4;
constexpr uint64_t k_writeback_step = 32 << 20;

} // namespace

BackgroundWriter::BackgroundWriter(const Fd& fd, Mode mode) : m_fd(fd) {
  const off_t at = lseek(fd.get(), 0, SEEK_CUR);
  m_start = at > 0 ? static_cast<uint64_t>(at) : 0;
  m_writeback_from = m_start;
  m_flags = fcntl(fd.get(), F_GETFL);
  if (mode == Mode::direct && m_flags >= 0 && m_start % k_align == 0) {
    m_direct = fcntl(fd.get(), F_SETFL, m_flags | O_DIRECT) == 0;
    m_began_direct = m_direct;
  }
  for (size_t i = 0; i < k_blocks; ++i) {
    // O_DIRECT wants the memory aligned as well as the offset and size;
    // a large buffer is aligned to 2 MiB.
    m_buffers.push_back(make_large_buffer(k_block));
    m_free.push_back(m_buffers.back().get());
  }
  m_current = Block{m_free.back(), 0, m_start};
  m_free.pop_back();
  m_thread = std::thread([this] { run(); });
}

BackgroundWriter::~BackgroundWriter() {
  if (m_thread.joinable()) {
    {
      std::lock_guard lock(m_mutex);
      m_drop = true;
    }
    stop_thread();
    leave_direct();
  }
}

Expected<void> BackgroundWriter::write(std::string_view data) {
  while (!data.empty()) {
    const std::span<char> room = space();
    const size_t n = std::min(data.size(), room.size());
    std::memcpy(room.data(), data.data(), n);
    data.remove_prefix(n);
    TRY(commit(n));
  }
  return {};
}

Expected<void> BackgroundWriter::commit(size_t n) {
  m_current.size += n;
  m_written += n;
  if (m_current.size == k_block) {
    TRY(hand_over());
  }
  return {};
}

Expected<void> BackgroundWriter::hand_over() {
  std::unique_lock lock(m_mutex);
  if (m_error) {
    return tl::unexpected(*m_error);
  }
  const uint64_t next = m_current.offset + m_current.size;
  m_queue.push_back(m_current);
  m_changed.notify_all();
  m_changed.wait(lock, [this] { return !m_free.empty() || m_error; });
  if (m_error) {
    return tl::unexpected(*m_error);
  }
  m_current = Block{m_free.back(), 0, next};
  m_free.pop_back();
  return {};
}

Expected<void> BackgroundWriter::finish() {
  if (m_current.size > 0) {
    std::lock_guard lock(m_mutex);
    m_queue.push_back(m_current);
    m_current.size = 0;
  }
  stop_thread();
  leave_direct();
  if (m_error) {
    return tl::unexpected(*m_error);
  }
  if (lseek(m_fd.get(), static_cast<off_t>(m_start + m_written), SEEK_SET) < 0) {
    return errno_error("seeking to the end of the output", errno);
  }
  start_writeback(m_start + m_written);
  return {};
}

void BackgroundWriter::stop_thread() {
  {
    std::lock_guard lock(m_mutex);
    m_closing = true;
  }
  m_changed.notify_all();
  m_thread.join();
}

void BackgroundWriter::leave_direct() {
  if (m_direct) {
    (void)fcntl(m_fd.get(), F_SETFL, m_flags);
    m_direct = false;
  }
}

void BackgroundWriter::fall_back() {
  leave_direct();
  m_fell_back = true;
}

void BackgroundWriter::run() {
  std::unique_lock lock(m_mutex);
  while (true) {
    m_changed.wait(lock, [this] { return !m_queue.empty() || m_closing; });
    if (m_queue.empty() || m_drop) {
      return;
    }
    const Block block = m_queue.front();
    m_queue.pop_front();
    Expected<void> done;
    if (!m_error) {
      lock.unlock();
      done = put(block);
      lock.lock();
    }
    if (!done && !m_error) {
      m_error = done.error();
    }
    m_free.push_back(block.data);
    m_changed.notify_all();
  }
}

Expected<void> BackgroundWriter::put(const Block& block) {
  std::string_view rest(block.data, block.size);
  uint64_t offset = block.offset;
  while (m_direct && rest.size() >= k_align) {
    // Whole aligned blocks only; a shorter end goes through the cache.
    const size_t want = rest.size() - rest.size() % k_align;
    const ssize_t n = pwrite(m_fd.get(), rest.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EINVAL) {
      // The filesystem or device wants another alignment.
      fall_back();
      break;
    }
    if (n <= 0) {
      return errno_error("writing the output", n < 0 ? errno : EIO);
    }
    rest.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
    m_writeback_from = offset; // already on the device
    if (static_cast<size_t>(n) % k_align != 0) {
      fall_back(); // the rest is no longer aligned
    }
  }
  if (rest.empty()) {
    return {};
  }
  // The last bytes of the output, less than a page, or all of it after a
  // fall-back: the page cache takes any length.
  leave_direct();
  return put_cached(rest, offset);
}

Expected<void> BackgroundWriter::put_cached(std::string_view data, uint64_t offset) {
  TRY_CTX(m_fd.pwrite_all(data, static_cast<off_t>(offset)), "writing the output");
  const uint64_t end = offset + data.size();
  if (end - m_writeback_from >= k_writeback_step) {
    start_writeback(end);
  }
  return {};
}

void BackgroundWriter::start_writeback(uint64_t end) {
  if (end > m_writeback_from) {
    // Only a hint: a failure shows up again, and is reported, at fsync.
    (void)sync_file_range(m_fd.get(), static_cast<off_t>(m_writeback_from),
                          static_cast<off_t>(end - m_writeback_from), SYNC_FILE_RANGE_WRITE);
    m_writeback_from = end;
  }
}

} // namespace aptship
