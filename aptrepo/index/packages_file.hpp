#pragma once

// The text of a Packages index and its division into chunks.
//
// Chunk boundaries depend on the content only (a boundary falls before a
// package whose name hashes to a chosen residue, once the chunk holds
// enough bytes), so adding or removing one package changes the chunk that
// holds it and rarely its neighbour; every other chunk keeps its bytes and
// thus its cached compressed form.

#include <cstddef>
#include <string>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/index/publish.hpp"

namespace aptship::index {

// A byte range [begin, end) of a Packages text, ending at a stanza boundary.
struct Chunk {
  size_t begin = 0;
  size_t end = 0;
};

struct PackagesText {
  std::string text;          // stanzas separated by blank lines, ending in "\n"
  std::vector<Chunk> chunks; // covers TEXT; one empty chunk when TEXT is empty
  size_t stanzas = 0;
};

// Indexes into PACKAGES in Packages order: name, then version from newest
// to oldest (dpkg's ordering), then architecture, then component. Refuses
// an unparsable version and a package listed twice in one component.
[[nodiscard]] Expected<std::vector<size_t>>
packages_order(const std::vector<ListedPackage>& packages);

// The Packages text of PACKAGES[i] for each i in SELECTED (in that order),
// with its chunks.
[[nodiscard]] PackagesText build_packages_text(const std::vector<ListedPackage>& packages,
                                               const std::vector<size_t>& selected);

} // namespace aptship::index
