#pragma once

// The files under /usr/share a Debian package is expected to carry: the
// copyright notice, the changelog, the manual page of /usr/bin/APP, and the
// lintian overrides that state the layout's deliberate choices.

#include <cstdint>
#include <string>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "builder/stage/stage.hpp"

namespace aptship::stage {

struct DocFile {
  std::string path; // relative to the package root: "usr/share/doc/APP/copyright"
  std::string bytes;
};

// The changelog text (before compression), dated DATE (seconds since the
// epoch, UTC), one entry per spec.changes line.
[[nodiscard]] std::string render_changelog(const AppSpec& spec, int64_t date);
// The manual page of /usr/bin/APP, in roff.
[[nodiscard]] std::string render_manpage(const AppSpec& spec);
// /usr/share/doc/APP/copyright.
[[nodiscard]] std::string render_copyright(const AppSpec& spec);
// /usr/share/lintian/overrides/APP.
[[nodiscard]] std::string render_lintian_overrides(const AppSpec& spec);

// Every documentation file of SPEC, compressed where policy asks (gzip -9n,
// so equal input gives equal bytes). The changelog is dated spec.date,
// else SOURCE_DATE_EPOCH, else now.
[[nodiscard]] Expected<std::vector<DocFile>> render_docs(const AppSpec& spec);

} // namespace aptship::stage
