#include "builder/pipeline/build_record.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace aptship::pipeline {

namespace {

nlohmann::json to_json(const BuildRecord& r) {
  return nlohmann::json{{"app", r.app},       {"number", r.number},   {"commit", r.commit},
                        {"pusher", r.pusher}, {"suite", r.suite},     {"version", r.version},
                        {"result", r.result}, {"started", r.started}, {"seconds", r.seconds},
                        {"phases", r.phases}, {"log", r.log}};
}

BuildRecord from_json(const nlohmann::json& j) {
  BuildRecord r;
  r.app = j.value("app", "");
  r.number = j.value("number", uint64_t{0});
  r.commit = j.value("commit", "");
  r.pusher = j.value("pusher", "");
  r.suite = j.value("suite", "");
  r.version = j.value("version", "");
  r.result = j.value("result", "");
  r.started = j.value("started", int64_t{0});
  r.seconds = j.value("seconds", 0.0);
  r.log = j.value("log", "");
  if (auto it = j.find("phases"); it != j.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (v.is_number()) {
        r.phases[k] = v.get<double>();
      }
    }
  }
  return r;
}

std::filesystem::path records_file(const DataDir& data, std::string_view app) {
  return builds_dir(data, app) / "builds.jsonl";
}

} // namespace

std::filesystem::path builds_dir(const DataDir& data, std::string_view app) {
  return data.root() / "builds" / std::string(app);
}

Expected<std::vector<BuildRecord>> read_records(const DataDir& data, std::string_view app) {
  std::vector<BuildRecord> records;
  const std::filesystem::path file = records_file(data, app);
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    return records;
  }
  TRY_ASSIGN(std::string text, read_file(file));
  size_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    // A last line without its newline is a record cut short by a crash:
    // ignored, it is rewritten by nobody and harms nothing.
    if (end == std::string::npos) {
      break;
    }
    ++line_number;
    nlohmann::json j = nlohmann::json::parse(text.substr(start, end - start), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return make_error("{}:{}: not a build record", file.string(), line_number);
    }
    records.push_back(from_json(j));
    start = end + 1;
  }
  return records;
}

Expected<void> append_record(const DataDir& data, const BuildRecord& record) {
  const std::filesystem::path dir = builds_dir(data, record.app);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return make_error("creating {}: {}", dir.string(), ec.message());
  }
  const std::filesystem::path file = records_file(data, record.app);
  int raw = open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (raw < 0) {
    return errno_error(file.string(), errno);
  }
  Fd fd(raw);
  TRY_CTX(fd.write_all(to_json(record).dump() + "\n"), file.string());
  if (fsync(fd.get()) != 0) {
    return errno_error(fmt::format("fsync {}", file.string()), errno);
  }
  return {};
}

Expected<uint64_t> next_build_number(const DataDir& data, std::string_view app) {
  TRY_ASSIGN(std::vector<BuildRecord> records, read_records(data, app));
  uint64_t last = 0;
  for (const BuildRecord& r : records) {
    last = std::max(last, r.number);
  }
  return last + 1;
}

} // namespace aptship::pipeline
