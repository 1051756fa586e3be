#include "aptrepo/deb/md5_worker.hpp"

#include <string_view>

#include "aptrepo/core/hash.hpp"

namespace aptship::deb {

Md5Worker::Md5Worker(size_t count, size_t size)
    : m_buffers(count, std::vector<char>(size)), m_refs(count, 0) {
  m_thread = std::thread([this] { run(); });
}

Md5Worker::~Md5Worker() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_job_ready.notify_all();
  m_thread.join();
}

Md5Worker::Buffer Md5Worker::acquire() {
  std::unique_lock lock(m_mutex);
  while (true) {
    for (size_t i = 0; i < m_refs.size(); ++i) {
      if (m_refs[i] == 0) {
        m_refs[i] = 1;
        return Buffer{m_buffers[i].data(), m_buffers[i].size(), i};
      }
    }
    m_buffer_free.wait(lock);
  }
}

void Md5Worker::submit(const Buffer& buffer, size_t size, size_t file, bool last) {
  {
    std::lock_guard lock(m_mutex);
    ++m_refs[buffer.index];
    m_jobs.push_back(Job{buffer.index, size, file, last});
  }
  m_job_ready.notify_one();
}

void Md5Worker::release(const Buffer& buffer) {
  std::lock_guard lock(m_mutex);
  unref(buffer.index);
}

void Md5Worker::unref(size_t buffer) {
  if (--m_refs[buffer] == 0) {
    m_buffer_free.notify_one();
  }
}

std::vector<std::string> Md5Worker::finish() {
  std::unique_lock lock(m_mutex);
  m_idle.wait(lock, [this] { return m_jobs.empty() && !m_busy; });
  return std::move(m_digests);
}

void Md5Worker::run() {
  Hasher md5(Digest::md5);
  std::unique_lock lock(m_mutex);
  while (true) {
    m_job_ready.wait(lock, [this] { return m_stop || !m_jobs.empty(); });
    if (m_stop) {
      return;
    }
    Job job = m_jobs.front();
    m_jobs.pop_front();
    m_busy = true;
    lock.unlock();
    md5.update(std::string_view(m_buffers[job.buffer].data(), job.size));
    std::string digest = job.last ? md5.hex() : std::string();
    lock.lock();
    if (job.last) {
      if (m_digests.size() <= job.file) {
        m_digests.resize(job.file + 1);
      }
      m_digests[job.file] = std::move(digest);
    }
    unref(job.buffer);
    m_busy = false;
    if (m_jobs.empty()) {
      m_idle.notify_all();
    }
  }
}

} // namespace aptship::deb
