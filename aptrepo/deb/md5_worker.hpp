#pragma once

// MD5 digests of a sequence of files, computed on a worker thread while the
// caller streams the same bytes into the compressor: packing then spends
// the hashing time on the second core instead of in its main loop.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace aptship::deb {

class Md5Worker {
public:
  // A buffer lent to the caller; INDEX identifies it when handed back.
  struct Buffer {
    char* data = nullptr;
    size_t capacity = 0;
    size_t index = 0;
  };

  // Starts the worker with COUNT buffers of SIZE bytes each.
  Md5Worker(size_t count, size_t size);
  Md5Worker(const Md5Worker&) = delete;
  Md5Worker& operator=(const Md5Worker&) = delete;
  // Stops the worker, discarding pending work.
  ~Md5Worker();

  // Waits for a buffer that neither the caller nor the worker uses.
  [[nodiscard]] Buffer acquire();
  // Queues the first SIZE bytes of BUFFER as the next chunk of file FILE
  // (files are numbered from 0 in submission order); LAST ends that file.
  // The caller may keep reading BUFFER until it releases it.
  void submit(const Buffer& buffer, size_t size, size_t file, bool last);
  // The caller is done with BUFFER.
  void release(const Buffer& buffer);
  // Waits for every queued chunk; returns the hex digest of each file.
  [[nodiscard]] std::vector<std::string> finish();

private:
  struct Job {
    size_t buffer = 0;
    size_t size = 0;
    size_t file = 0;
    bool last = false;
  };
  void run();
  void unref(size_t buffer);

  std::vector<std::vector<char>> m_buffers;
  std::vector<int> m_refs; // 0 = free; caller and worker each hold one
  std::deque<Job> m_jobs;
  std::vector<std::string> m_digests;
  std::mutex m_mutex;
  std::condition_variable m_job_ready;
  std::condition_variable m_buffer_free;
  std::condition_variable m_idle;
  bool m_stop = false;
  bool m_busy = false;
  std::thread m_thread;
};

} // namespace aptship::deb
