#pragma once

// How a rollout is cut: batches from the fleet file's sizes, and waves
// inside a batch limited by the capacity rule (never fewer than min_healthy
// servers UP in any backend).

#include <cstddef>
#include <vector>

#include "aptrepo/fleet/fleet_file.hpp"

namespace aptship::fleet {

// The batch sizes for HOST_COUNT hosts: each entry of SPEC in turn (a
// percentage of HOST_COUNT, rounded down, at least 1), the last repeating,
// the final batch cut to what is left.
[[nodiscard]] std::vector<size_t> batch_sizes(const std::vector<BatchSize>& spec,
                                              size_t host_count);

// How many servers may be out of service at once: for each backend, its UP
// servers minus MIN_HEALTHY; the smallest of those, 0 when none may go.
[[nodiscard]] size_t capacity(const std::vector<size_t>& up_counts, int min_healthy);

// Host indexes 0..HOST_COUNT-1 cut into batches, each batch into waves of at
// most PARALLEL hosts that go at the same time.
struct Batch {
  std::vector<std::vector<size_t>> waves;
};
[[nodiscard]] std::vector<Batch> plan_batches(const std::vector<BatchSize>& spec, size_t host_count,
                                              size_t parallel);

} // namespace aptship::fleet
