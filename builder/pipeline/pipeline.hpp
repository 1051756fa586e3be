#pragma once

// The whole build of an app: export the source, run the buildpacks, lay
// out the package, pack and sign it, add it to the repository and publish.
// A push's pre-receive hook and `aptship build` both come here.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "aptrepo/core/data_dir.hpp"
#include "aptrepo/core/error.hpp"

namespace aptship::pipeline {

// Whether the package goes into the repository.
enum class Publish { no, yes };

// What to build: a commit of a git repository (bare or not), or the files
// of a directory as they are.
struct BuildSource {
  std::filesystem::path repo; // with rev: the repository
  std::string rev;            // commit, branch or tag of repo
  std::filesystem::path dir;  // without repo: the directory to build
};

struct BuildOptions {
  std::string app; // validated app name
  std::string suite = "staging";
  std::string pusher; // who asked, for the record
  BuildSource source;
  Publish publish = Publish::yes;
  // Where a copy of the .deb is written (created if missing); empty: the
  // package only goes to the repository.
  std::filesystem::path output_dir;
  std::chrono::seconds timeout{1800}; // the buildpacks' time limit
  // Receives the build's output line by line as it happens.
  std::function<void(std::string_view line)> output;
};

struct BuildOutcome {
  uint64_t number = 0;
  std::string package;
  std::string version;
  std::string architecture;
  std::filesystem::path deb;            // in output_dir, or empty
  std::map<std::string, double> phases; // seconds per phase: export, build, stage, pack, publish
};

// Builds OPTIONS.app; waits for another build of the same app to finish
// first ($APTSHIP_BUILD_WAIT seconds, default 600). Every build, failed or
// not, leaves a log and a record (build_record.hpp). A failure changes
// nothing in the repository.
[[nodiscard]] Expected<BuildOutcome> build_app(const DataDir& data, const BuildOptions& options);

// The built-in buildpacks: $APTSHIP_BUILDPACKS, else the installed
// /usr/share/aptship/buildpacks (beside the binary's prefix), else the
// source tree's buildpacks/ when running from a build directory.
[[nodiscard]] Expected<std::filesystem::path> builtin_buildpacks_dir();

} // namespace aptship::pipeline
