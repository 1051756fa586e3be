#pragma once

// Runs independent tasks on a few threads. Publishing hashes, compresses
// and writes several large buffers at once; this keeps every core busy
// without a long-lived pool (a publish is one short burst of work).

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship::index {

using Task = std::function<Expected<void>()>;

// Runs every task in TASKS, on up to std::thread::hardware_concurrency()
// threads (the caller's included), in no particular order. Tasks must not
// depend on each other. Returns the first error in task order; the other
// tasks still run to completion, so no task outlives the call.
[[nodiscard]] inline Expected<void> run_parallel(const std::vector<Task>& tasks) {
  std::vector<std::optional<Error>> errors(tasks.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < tasks.size(); i = next.fetch_add(1)) {
      if (auto result = tasks[i](); !result) {
        errors[i] = std::move(result.error());
      }
    }
  };
  size_t cores = std::max(1u, std::thread::hardware_concurrency());
  size_t helpers = std::min(cores, tasks.size());
  helpers = helpers > 0 ? helpers - 1 : 0;
  std::vector<std::thread> threads;
  threads.reserve(helpers);
  for (size_t i = 0; i < helpers; ++i) {
    threads.emplace_back(work);
  }
  work();
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (std::optional<Error>& error : errors) {
    if (error) {
      return tl::unexpected<Error>(std::move(*error));
    }
  }
  return {};
}

} // namespace aptship::index
