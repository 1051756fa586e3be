#include "aptrepo/index/publish_state.hpp"

#include <nlohmann/json.hpp>

namespace aptship::index {

namespace {

using nlohmann::json;

// Bumped whenever the meaning of a field changes, so that an older state
// is ignored (the next publish then recomputes everything) instead of
// misread.
constexpr int k_format = 1;

json digests_to_json(const Digests& d) {
  return json{{"md5", d.md5}, {"sha1", d.sha1}, {"sha256", d.sha256}, {"sha512", d.sha512}};
}

// Readers that never throw: a wrong type or a missing key sets OK false.
struct Reader {
  bool ok = true;

  const json& member(const json& object, const char* key) {
    static const json k_null;
    if (!object.is_object()) {
      ok = false;
      return k_null;
    }
    auto it = object.find(key);
    if (it == object.end()) {
      ok = false;
      return k_null;
    }
    return *it;
  }
  std::string string(const json& value) {
    if (!value.is_string()) {
      ok = false;
      return {};
    }
    return value.get<std::string>();
  }
  uint64_t unsigned_number(const json& value) {
    if (!value.is_number_unsigned()) {
      ok = false;
      return 0;
    }
    return value.get<uint64_t>();
  }
  int64_t number(const json& value) {
    if (!value.is_number_integer()) {
      ok = false;
      return 0;
    }
    return value.get<int64_t>();
  }
  Digests digests(const json& value) {
    return Digests{string(member(value, "md5")), string(member(value, "sha1")),
                   string(member(value, "sha256")), string(member(value, "sha512"))};
  }
  const json& array(const json& value) {
    static const json k_empty = json::array();
    if (!value.is_array()) {
      ok = false;
      return k_empty;
    }
    return value;
  }
  const json& object(const json& value) {
    static const json k_empty = json::object();
    if (!value.is_object()) {
      ok = false;
      return k_empty;
    }
    return value;
  }
};

} // namespace

std::string state_to_json(const GenerationState& state) {
  json indexes = json::object();
  for (const auto& [dir, index] : state.indexes) {
    json chunks = json::array();
    for (const ChunkKey& chunk : index.chunks) {
      chunks.push_back(json::array({chunk.sha256, chunk.size}));
    }
    json files = json::object();
    for (const auto& [name, file] : index.files) {
      json units = json::array();
      for (const UnitPlace& unit : file.units) {
        units.push_back(json::array({unit.offset, unit.length, unit.unpadded_size}));
      }
      files[name] = json{{"size", file.size},
                         {"digests", digests_to_json(file.digests)},
                         {"codec", file.codec},
                         {"units", std::move(units)}};
    }
    indexes[dir] =
        json{{"fingerprint", index.fingerprint}, {"chunks", std::move(chunks)}, {"files", files}};
  }
  json by_hash = json::object();
  for (const auto& [dir, generations] : state.by_hash) {
    json list = json::array();
    for (const ByHashGeneration& generation : generations) {
      list.push_back(json{{"generation", generation.generation}, {"names", generation.names}});
    }
    by_hash[dir] = std::move(list);
  }
  json root{{"format", k_format},
            {"date", state.date},
            {"indexes", std::move(indexes)},
            {"by_hash", std::move(by_hash)}};
  return root.dump(1) + "\n";
}

Expected<GenerationState> state_from_json(std::string_view text) {
  json root = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return make_error("publish state is not valid JSON");
  }
  Reader r;
  if (r.number(r.member(root, "format")) != k_format || !r.ok) {
    return make_error("publish state has an unknown format");
  }
  GenerationState state;
  state.date = r.number(r.member(root, "date"));
  for (const auto& [dir, index_json] : r.object(r.member(root, "indexes")).items()) {
    IndexState index;
    index.fingerprint = r.string(r.member(index_json, "fingerprint"));
    for (const json& chunk : r.array(r.member(index_json, "chunks"))) {
      const json& pair = r.array(chunk);
      if (pair.size() != 2) {
        r.ok = false;
        break;
      }
      index.chunks.push_back(ChunkKey{r.string(pair[0]), r.unsigned_number(pair[1])});
    }
    for (const auto& [name, file_json] : r.object(r.member(index_json, "files")).items()) {
      FileState file;
      file.size = r.unsigned_number(r.member(file_json, "size"));
      file.digests = r.digests(r.member(file_json, "digests"));
      file.codec = r.string(r.member(file_json, "codec"));
      for (const json& unit : r.array(r.member(file_json, "units"))) {
        const json& triple = r.array(unit);
        if (triple.size() != 3) {
          r.ok = false;
          break;
        }
        file.units.push_back(UnitPlace{r.unsigned_number(triple[0]), r.unsigned_number(triple[1]),
                                       r.unsigned_number(triple[2])});
      }
      index.files.emplace(name, std::move(file));
    }
    state.indexes.emplace(dir, std::move(index));
  }
  for (const auto& [dir, list] : r.object(r.member(root, "by_hash")).items()) {
    std::vector<ByHashGeneration>& generations = state.by_hash[dir];
    for (const json& entry : r.array(list)) {
      ByHashGeneration generation;
      generation.generation = r.unsigned_number(r.member(entry, "generation"));
      for (const json& name : r.array(r.member(entry, "names"))) {
        generation.names.push_back(r.string(name));
      }
      generations.push_back(std::move(generation));
    }
  }
  if (!r.ok) {
    return make_error("publish state is incomplete or has fields of the wrong type");
  }
  return state;
}

} // namespace aptship::index
