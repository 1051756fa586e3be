#pragma once

// Which buildpacks run for an app, and where each one comes from.

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship::buildpack {

// Where a buildpack's files come from.
enum class SourceKind {
  builtin,   // a directory under the built-in buildpacks
  directory, // an absolute local directory
  git,       // a git repository cloned into the clone cache
};

// One buildpack as the app named it, resolved to a source.
struct BuildpackSpec {
  std::string spec; // as written: "python", "/srv/bp", "file:///r.git#v1"
  SourceKind kind = SourceKind::builtin;
  std::filesystem::path directory; // builtin and directory: where its files are
  std::string url;                 // git: the URL without the #ref
  std::string ref;                 // git: branch, tag or commit; empty for the remote's HEAD
  std::string display;             // spec with any password in the URL masked
  // The name used in output and messages: "buildpack NAME: bin/compile ...".
  [[nodiscard]] const std::string& name() const { return display; }
};

// Where the list of buildpacks came from.
enum class SelectionSource { buildpack_url, buildpacks_file, app_json, detection };

// The buildpacks an app asks for explicitly, in order.
struct Selection {
  SelectionSource source = SelectionSource::detection;
  std::vector<std::string> specs; // empty with SelectionSource::detection
};

// The built-in buildpacks tried by detection, in order: language buildpacks
// first, the generic procfile one last so that a Procfile never hides a
// requirements.txt or package.json.
[[nodiscard]] const std::vector<std::string>& detection_order();

// The entries of a `.buildpacks` file: one per line, blank lines and
// `#` comments skipped.
[[nodiscard]] std::vector<std::string> parse_buildpacks_file(std::string_view text);

// The `buildpacks` array of an app.json ([{"url": "..."}, ...]); an app.json
// without it gives an empty list, a malformed one an error.
[[nodiscard]] Expected<std::vector<std::string>> parse_app_json_buildpacks(std::string_view text);

// The explicit choice: BUILDPACK_URL in ENV, else SOURCE_DIR/.buildpacks,
// else SOURCE_DIR/app.json; detection when none of them names a buildpack.
[[nodiscard]] Expected<Selection> select_buildpacks(const std::map<std::string, std::string>& env,
                                                    const std::filesystem::path& source_dir);

// URL with the password of its user part (https://user:TOKEN@host/...)
// replaced by "***", fit for output that the pusher and logs keep.
[[nodiscard]] std::string redact_url(std::string_view url);

// Resolves SPEC: a git URL (scheme://... or git@host:path, optional #ref),
// an absolute directory, or the name of a directory under BUILTIN_DIR
// (also accepted as "heroku/NAME", the form app.json files often use).
[[nodiscard]] Expected<BuildpackSpec> resolve_spec(std::string_view spec,
                                                   const std::filesystem::path& builtin_dir);

} // namespace aptship::buildpack
