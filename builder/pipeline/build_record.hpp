#pragma once

// Every build leaves a log (DATA/builds/APP/N.log) and a record, one JSON
// line in DATA/builds/APP/builds.jsonl: app, build number, commit, pusher,
// suite, version, result, duration and the phases' times.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aptrepo/core/data_dir.hpp"
#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"

namespace aptship::pipeline {

struct BuildRecord {
  std::string app;
  uint64_t number = 0;
  std::string commit;
  std::string pusher;
  std::string suite;
  std::string version;                  // empty when the build failed before it was known
  std::string result;                   // "published", "built" (not published) or "failed: REASON"
  int64_t started = 0;                  // seconds since the epoch
  double seconds = 0;                   // total duration
  std::map<std::string, double> phases; // "build" -> seconds, ...
  std::string log;                      // the log file, relative to the data dir
};

// DATA/builds/APP.
[[nodiscard]] std::filesystem::path builds_dir(const DataDir& data, std::string_view app);

// The records of APP, oldest first (an absent file is no records).
[[nodiscard]] Expected<std::vector<BuildRecord>> read_records(const DataDir& data,
                                                              std::string_view app);

// Appends RECORD to its app's records with one write (O_APPEND), fsynced.
[[nodiscard]] Expected<void> append_record(const DataDir& data, const BuildRecord& record);

// The next build number of APP: one more than the largest recorded.
[[nodiscard]] Expected<uint64_t> next_build_number(const DataDir& data, std::string_view app);

} // namespace aptship::pipeline
