#include "aptrepo/core/log.hpp"

#include <atomic>
#include <cstdio>
#include <string>

namespace aptship::log {

namespace {
std::atomic<Level> g_level{Level::info};

const char* name(Level level) {
  switch (level) {
  case Level::debug:
    return "debug";
  case Level::info:
    return "info";
  case Level::warning:
    return "warning";
  case Level::error:
    return "error";
  case Level::off:
    break;
  }
  return "off";
}
} // namespace

void set_level(Level level) {
  g_level.store(level);
}

Level level() {
  return g_level.load();
}

bool parse_level(std::string_view text, Level& out) {
  for (Level l : {Level::debug, Level::info, Level::warning, Level::error, Level::off}) {
    if (text == name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void write(Level lvl, std::string_view message) {
  if (lvl < level()) {
    return;
  }
  // One fwrite per line so that lines from threads do not interleave.
  std::string line = fmt::format("aptship: {}: {}\n", name(lvl), message);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace aptship::log
