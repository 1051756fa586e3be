#pragma once

// The text of a suite's Release file, as apt reads it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/hash.hpp"

namespace aptship::index {

// One index file a Release lists, by its path below dists/SUITE/.
struct ReleaseEntry {
  std::string path; // "main/binary-amd64/Packages.gz"
  uint64_t size = 0;
  Digests digests;
};

struct ReleaseFields {
  std::string origin;
  std::string label;
  std::string suite;
  std::string codename;
  int64_t date = 0;                   // seconds since the epoch, UTC
  std::optional<int64_t> valid_until; // absent: the Release never expires
  std::vector<std::string> architectures;
  std::vector<std::string> components;
  std::string description; // omitted when empty
  std::string signed_by;   // the signing key's fingerprint
};

// EPOCH as Release dates are written: "Thu, 26 Nov 2026 05:03:19 UTC"
// (English names whatever the locale).
[[nodiscard]] std::string format_release_date(int64_t epoch);

// Reads a date written by format_release_date (a "+0000" or "GMT" zone is
// accepted too).
[[nodiscard]] Expected<int64_t> parse_release_date(std::string_view text);

// The value of the first FIELD line of RELEASE, or nothing.
[[nodiscard]] std::optional<std::string> release_field(std::string_view release,
                                                       std::string_view field);

// The Release text: fields in apt's conventional order (Origin, Label,
// Suite, Codename, Date, Valid-Until, Architectures, Components,
// Description, Acquire-By-Hash, Signed-By), then MD5Sum, SHA1, SHA256 and
// SHA512 sections listing ENTRIES sorted by path, each line
// " HEX SIZE PATH" with SIZE right-aligned in 16 columns. Refuses a field
// value with a newline, which would inject fields.
[[nodiscard]] Expected<std::string> render_release(const ReleaseFields& fields,
                                                   std::vector<ReleaseEntry> entries);

} // namespace aptship::index
