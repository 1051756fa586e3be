#pragma once

// What a published generation remembers for the next publish, stored as
// JSON in the generation's ".aptship-state": its Date, the digests of each
// index file (so an unchanged index is hard-linked, not rehashed), where
// each chunk's compressed unit lies in the compressed files (so an
// unchanged chunk is copied, not recompressed), and which by-hash files
// belong to which generation.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/hash.hpp"

namespace aptship::index {

// The state file's name inside a generation directory.
inline constexpr std::string_view k_state_file = ".aptship-state";

// Where one chunk's compressed unit lies in a compressed index file.
struct UnitPlace {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t unpadded_size = 0; // xz only
};

struct FileState {
  uint64_t size = 0;
  Digests digests;
  std::string codec;            // codec_id(); empty for the plain Packages file
  std::vector<UnitPlace> units; // one per chunk of the index, in order
};

// One chunk of a Packages text: the SHA256 of its bytes and their count.
struct ChunkKey {
  std::string sha256;
  uint64_t size = 0;
  bool operator==(const ChunkKey&) const = default;
};

struct IndexState {
  std::string fingerprint; // identifies the Packages text (see publish.cpp)
  std::vector<ChunkKey> chunks;
  std::map<std::string, FileState> files; // "Packages", "Packages.gz", ...
};

// The by-hash names ("SHA256/<hex>") one generation added to a directory.
struct ByHashGeneration {
  uint64_t generation = 0;
  std::vector<std::string> names;
};

struct GenerationState {
  int64_t date = 0;                          // the Release Date, seconds since the epoch
  std::map<std::string, IndexState> indexes; // by directory: "main/binary-amd64"
  std::map<std::string, std::vector<ByHashGeneration>> by_hash; // by directory, newest first
};

// STATE as JSON.
[[nodiscard]] std::string state_to_json(const GenerationState& state);

// Reads what state_to_json wrote; any other text is an error.
[[nodiscard]] Expected<GenerationState> state_from_json(std::string_view json);

} // namespace aptship::index
