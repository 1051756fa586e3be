#pragma once

// Milliseconds between laps, for --log-level debug: where the time of a
// long operation (an add, a publish) goes.

#include <chrono>
#include <cstdint>

namespace aptship {

class Stopwatch {
public:
  // Milliseconds since the previous lap (or since construction).
  int64_t lap() {
    const auto now = std::chrono::steady_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - m_last).count();
    m_last = now;
    return ms;
  }

private:
  std::chrono::steady_clock::time_point m_last = std::chrono::steady_clock::now();
};

} // namespace aptship
