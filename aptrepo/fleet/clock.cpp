#include "aptrepo/fleet/clock.hpp"

#include <thread>

namespace aptship::fleet {

std::chrono::steady_clock::time_point SteadyClock::now() {
  return std::chrono::steady_clock::now();
}

void SteadyClock::sleep_for(std::chrono::milliseconds duration) {
  std::this_thread::sleep_for(duration);
}

} // namespace aptship::fleet
