#pragma once

// Writes one suite's signed apt indexes as a new generation beside the
// published one and switches to it with a single rename, so that a reader
// (HTTP or file) sees the old state or the new one, never a mix.
//
// Published tree (ROOT is DATA/public, what `aptship serve` serves):
//   ROOT/pool/...                        package files (written by the pool)
//   ROOT/dists/SUITE -> ../.gen/SUITE/N  symlink switched by rename(2)
//   ROOT/.gen/SUITE/N/{Release,InRelease,Release.gpg}
//   ROOT/.gen/SUITE/N/COMP/binary-ARCH/{Packages,Packages.gz,.xz,.zst}
//   ROOT/.gen/SUITE/N/COMP/binary-ARCH/by-hash/{SHA256,SHA512}/<hex>
//   ROOT/.gen/SUITE/N/.aptship-state     what the next publish reuses (JSON)
// by-hash holds the files of the last `by_hash_keep` generations, so that a
// client that read an older InRelease still finds the indexes it names.
// Compressed indexes are concatenated per-chunk units (gzip members, zstd
// frames, xz blocks of one stream), so an unchanged chunk is copied from the
// previous generation instead of recompressed.
//
// Callers serialize publishes of one ROOT (the repository lock): two
// concurrent publish_suite calls for the same suite would remove each
// other's unfinished generation.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship::sign {
class Signer;
}

namespace aptship::index {

// One package as listed in a suite: its complete Packages stanza (control
// fields plus Filename, Size, MD5sum, SHA1, SHA256, SHA512), ending in "\n".
struct ListedPackage {
  std::string name;
  std::string version;
  std::string architecture; // "all" is listed in every architecture's index
  std::string component;
  std::string stanza;
};

enum class IndexCompression { gz, xz, zst };

struct SuiteSettings {
  std::string suite;    // e.g. "stable"
  std::string codename; // defaults to the suite name
  std::string origin = "aptship";
  std::string label = "aptship";
  std::string description;
  std::vector<std::string> architectures; // binary-ARCH indexes always written
  std::vector<std::string> components;    // COMP indexes always written
  // Plain Packages is always written; these are added beside it.
  std::vector<IndexCompression> compressions = {IndexCompression::gz};
  // Valid-Until = Date + this; zero omits Valid-Until (the Release never
  // expires); a negative value makes an already expired Release (tests).
  std::chrono::seconds valid_for = std::chrono::hours(24 * 7);
  // The time the Release Date is taken from; empty means the system clock
  // (tests replace it).
  std::function<std::chrono::system_clock::time_point()> clock;
  // Gives the signing key's fingerprint for the Release's Signed-By field,
  // called once, when the Release is written. Empty asks SIGNER (one gpg
  // run, started at once so that it overlaps the building of the indexes).
  std::function<Expected<std::string>()> signed_by;
  // Generations whose by-hash files stay reachable (the current one
  // included, at least 1); as many generation directories are kept.
  unsigned by_hash_keep = 3;
};

struct PublishResult {
  uint64_t generation = 0;
  std::string date;                       // the Release Date field
  size_t indexes_written = 0;             // Packages files regenerated
  size_t indexes_reused = 0;              // unchanged since the previous generation, hard-linked
  std::vector<std::string> architectures; // as listed in Release, sorted
  std::vector<std::string> components;    // as listed in Release, sorted
};

// Publishes SETTINGS.suite with PACKAGES (taken, so that they are freed as
// soon as the indexes are built) under ROOT, signing Release with
// SIGNER (InRelease clearsigned, Release.gpg detached). Architectures are
// SETTINGS.architectures plus those the packages name ("all" excepted; the
// host's if none), components likewise ("main" if none); every
// COMP/binary-ARCH index is written, empty ones included. Date is strictly
// later than the previous generation's, and at most 5 s ahead of the clock
// (a burst of publishes waits for the clock, since apt refuses a Date more
// than 10 s ahead of its own). An index whose content equals the
// previous generation's is hard-linked instead of recompressed. Leftovers of
// an interrupted publish are removed first, generations outside the kept
// window last (the published one never before the switch); on error the new
// generation is removed and the published one stays. SIGNER is called from
// several threads at once. Refuses names that are not plain path
// components, multi-line Release fields, unparsable versions, and one
// package listed twice in a component.
[[nodiscard]] Expected<PublishResult> publish_suite(const std::filesystem::path& root,
                                                    const SuiteSettings& settings,
                                                    std::vector<ListedPackage> packages,
                                                    const sign::Signer& signer);

// The pool paths ("pool/main/h/hello/hello_1.0_all.deb") named by the
// Packages files of every generation still kept for any suite under ROOT;
// gc never removes these.
[[nodiscard]] Expected<std::vector<std::string>>
published_pool_files(const std::filesystem::path& root);

} // namespace aptship::index
