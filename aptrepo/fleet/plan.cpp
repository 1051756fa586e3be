#include "aptrepo/fleet/plan.hpp"

#include <algorithm>

namespace aptship::fleet {

std::vector<size_t> batch_sizes(const std::vector<BatchSize>& spec, size_t host_count) {
  std::vector<size_t> out;
  size_t left = host_count;
  size_t entry = 0;
  while (left > 0) {
    const BatchSize& size = spec.empty() ? BatchSize{100, BatchSize::Unit::percent}
                                         : spec[std::min(entry, spec.size() - 1)];
    size_t n = size.unit == BatchSize::Unit::hosts
                   ? static_cast<size_t>(size.value)
                   : host_count * static_cast<size_t>(size.value) / 100;
    n = std::clamp<size_t>(n, 1, left);
    out.push_back(n);
    left -= n;
    ++entry;
  }
  return out;
}

size_t capacity(const std::vector<size_t>& up_counts, int min_healthy) {
  if (up_counts.empty()) {
    return 0;
  }
  size_t least = *std::min_element(up_counts.begin(), up_counts.end());
  size_t keep = static_cast<size_t>(std::max(min_healthy, 0));
  return least > keep ? least - keep : 0;
}

std::vector<Batch> plan_batches(const std::vector<BatchSize>& spec, size_t host_count,
                                size_t parallel) {
  std::vector<Batch> out;
  size_t next = 0;
  parallel = std::max<size_t>(parallel, 1);
  for (size_t size : batch_sizes(spec, host_count)) {
    Batch batch;
    size_t end = next + size;
    while (next < end) {
      size_t wave_end = std::min(end, next + parallel);
      std::vector<size_t> wave;
      for (; next < wave_end; ++next) {
        wave.push_back(next);
      }
      batch.waves.push_back(std::move(wave));
    }
    out.push_back(std::move(batch));
  }
  return out;
}

} // namespace aptship::fleet
