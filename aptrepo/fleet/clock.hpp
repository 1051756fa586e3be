#pragma once

// Time as the rollout waits for it: the real steady clock, or a fake in
// tests whose sleep only advances the time.

#include <chrono>

namespace aptship::fleet {

class Clock {
public:
  virtual ~Clock() = default;
  // A monotonic time point.
  [[nodiscard]] virtual std::chrono::steady_clock::time_point now() = 0;
  // Waits DURATION.
  virtual void sleep_for(std::chrono::milliseconds duration) = 0;
};

class SteadyClock final : public Clock {
public:
  [[nodiscard]] std::chrono::steady_clock::time_point now() override;
  void sleep_for(std::chrono::milliseconds duration) override;
};

} // namespace aptship::fleet
