#include "aptrepo/index/publish_state.hpp"

#include <catch2/catch.hpp>

using aptship::Digests;
using aptship::index::ByHashGeneration;
using aptship::index::ChunkKey;
using aptship::index::FileState;
using aptship::index::GenerationState;
using aptship::index::IndexState;
using aptship::index::state_from_json;
using aptship::index::state_to_json;
using aptship::index::UnitPlace;

namespace {

GenerationState sample_state() {
  GenerationState state;
  state.date = 1795669399;
  IndexState index;
  index.fingerprint = std::string(64, 'f');
  index.chunks = {ChunkKey{std::string(64, '1'), 70000}, ChunkKey{std::string(64, '2'), 12}};
  FileState plain;
  plain.size = 70012;
  plain.digests = Digests{"m", "s1", "s256", "s512"};
  FileState xz;
  xz.size = 9000;
  xz.digests = Digests{"xm", "xs1", "xs256", "xs512"};
  xz.codec = "xz-6-crc64";
  xz.units = {UnitPlace{12, 8900, 8890}, UnitPlace{8912, 40, 37}};
  index.files = {{"Packages", plain}, {"Packages.xz", xz}};
  state.indexes["main/binary-amd64"] = index;
  state.by_hash["main/binary-amd64"] = {
      ByHashGeneration{7, {"SHA256/aa", "SHA512/bb"}},
      ByHashGeneration{6, {"SHA256/cc"}},
  };
  return state;
}

} // namespace

TEST_CASE("the publish state reads back what was written", "[publish_state]") {
  GenerationState state = sample_state();
  auto back = state_from_json(state_to_json(state));
  REQUIRE(back);
  CHECK(back->date == state.date);
  REQUIRE(back->indexes.size() == 1);
  const IndexState& index = back->indexes.at("main/binary-amd64");
  CHECK(index.fingerprint == std::string(64, 'f'));
  CHECK(index.chunks == state.indexes.at("main/binary-amd64").chunks);
  const FileState& xz = index.files.at("Packages.xz");
  CHECK(xz.size == 9000);
  CHECK(xz.codec == "xz-6-crc64");
  CHECK(xz.digests.sha512 == "xs512");
  REQUIRE(xz.units.size() == 2);
  CHECK(xz.units[1].offset == 8912);
  CHECK(xz.units[1].length == 40);
  CHECK(xz.units[1].unpadded_size == 37);
  CHECK(index.files.at("Packages").codec.empty());
  const auto& generations = back->by_hash.at("main/binary-amd64");
  REQUIRE(generations.size() == 2);
  CHECK(generations[0].generation == 7);
  CHECK(generations[0].names == std::vector<std::string>{"SHA256/aa", "SHA512/bb"});
  CHECK(generations[1].generation == 6);
}

TEST_CASE("a damaged or foreign publish state is an error, never a guess", "[publish_state]") {
  CHECK_FALSE(state_from_json(""));
  CHECK_FALSE(state_from_json("{not json"));
  CHECK_FALSE(state_from_json("[]"));
  CHECK_FALSE(state_from_json(R"({"format": 99, "date": 1, "indexes": {}, "by_hash": {}})"));
  CHECK(state_from_json(R"({"format": 1, "date": 1, "indexes": {}, "by_hash": {}})"));
  CHECK_FALSE(state_from_json(R"({"format": 1, "date": "x", "indexes": {}, "by_hash": {}})"));
  std::string text = state_to_json(sample_state());
  // A unit entry with a missing number.
  size_t at = text.find("8890");
  REQUIRE(at != std::string::npos);
  std::string broken = text;
  broken.replace(at, 4, "\"x\"");
  CHECK_FALSE(state_from_json(broken));
  // Truncated, as by a crash while writing (the generation would not have
  // been published, but the reader must not trust it either).
  CHECK_FALSE(state_from_json(text.substr(0, text.size() / 2)));
}
