#pragma once

// Levelled logging to stderr. The daemon and the CLI share it; the level is
// set once at start-up (--verbose / --quiet or APTSHIP_LOG).

#include <string_view>

#include <fmt/format.h>

namespace aptship::log {

enum class Level { debug = 0, info = 1, warning = 2, error = 3, off = 4 };

// Sets the minimum level written; messages below it are dropped.
void set_level(Level level);
// The current minimum level.
[[nodiscard]] Level level();
// Parses "debug", "info", "warning", "error" or "off".
[[nodiscard]] bool parse_level(std::string_view text, Level& out);
// Writes one line "aptship: LEVEL: MESSAGE" to stderr if LEVEL is enabled.
void write(Level level, std::string_view message);

template <typename... Args> void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::debug) {
    write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <typename... Args> void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::info) {
    write(Level::info, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <typename... Args> void warning(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::warning) {
    write(Level::warning, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <typename... Args> void error(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::error) {
    write(Level::error, fmt::format(f, std::forward<Args>(args)...));
  }
}

} // namespace aptship::log
