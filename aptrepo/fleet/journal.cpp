#include "aptrepo/fleet/journal.hpp"

#include <cerrno>
#include <ctime>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "aptrepo/fleet/lock.hpp"

namespace aptship::fleet {

bool out_of_service(const std::string& state) {
  return state == host_state::drain || state == host_state::maint ||
         state == host_state::installed || state == host_state::left_maint;
}

std::string new_run_id() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y%m%dT%H%M%SZ", &tm);
  return fmt::format("{}-{}", text, ::getpid());
}

Expected<JournalState> read_journal(const std::filesystem::path& path) {
  JournalState state;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return state;
  }
  TRY_ASSIGN(std::string text, read_file(path));
  size_t line_no = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    bool last = end == std::string::npos;
    std::string line = text.substr(start, last ? std::string::npos : end - start);
    start = last ? text.size() : end + 1;
    ++line_no;
    if (line.empty()) {
      continue;
    }
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
      if (last) {
        break; // a write torn by a crash: everything before it stands
      }
      return make_error("{}:{}: not a JSON object", path.string(), line_no);
    }
    std::string event = json.value("event", "");
    if (event == "start") {
      bool resume = json.value("resume", false);
      if (!resume) {
        state.hosts.clear();
      }
      state.empty = false;
      state.run = json.value("run", "");
      state.app = json.value("app", "");
      state.mode =
          json.value("mode", "") == "rollback" ? RolloutMode::rollback : RolloutMode::upgrade;
      state.version = json.value("version", "");
      state.ended = false;
      state.result.clear();
      if (json.contains("hosts") && json["hosts"].is_object()) {
        for (const auto& [name, host] : json["hosts"].items()) {
          JournalHost& entry = state.hosts[name];
          entry.from = host.value("from", "");
          entry.to = host.value("to", "");
        }
      }
    } else if (event == "step") {
      state.hosts[json.value("host", "")].state = json.value("state", "");
    } else if (event == "end") {
      state.ended = true;
      state.result = json.value("result", "");
    }
  }
  return state;
}

Expected<Journal> Journal::open(const std::filesystem::path& path, std::string run) {
  std::error_code ec;
  if (!path.parent_path().empty()) {
    std::filesystem::create_directories(path.parent_path(), ec);
  }
  if (ec) {
    return make_error("creating {}: {}", path.parent_path().string(), ec.message());
  }
  TRY_ASSIGN(Fd fd, Fd::open(path, O_WRONLY | O_CREAT | O_APPEND, 0644));
  return Journal(std::move(fd), std::move(run));
}

Journal::Journal(Journal&& other) noexcept
    : m_fd(std::move(other.m_fd)), m_run(std::move(other.m_run)) {}

Expected<void> Journal::append(const std::string& line) {
  std::lock_guard lock(m_mutex);
  TRY_CTX(m_fd.write_all(line + "\n"), "writing the rollout journal");
  TRY_CTX(m_fd.sync(), "syncing the rollout journal");
  return {};
}

Expected<void> Journal::start(const std::string& app, RolloutMode mode, const std::string& version,
                              const std::map<std::string, JournalHost>& hosts, Resume resume) {
  nlohmann::json host_json = nlohmann::json::object();
  for (const auto& [name, host] : hosts) {
    host_json[name] = {{"from", host.from}, {"to", host.to}};
  }
  nlohmann::json json = {{"run", m_run},
                         {"time", utc_now()},
                         {"event", "start"},
                         {"app", app},
                         {"mode", mode == RolloutMode::rollback ? "rollback" : "upgrade"},
                         {"version", version},
                         {"resume", resume == Resume::yes},
                         {"hosts", host_json}};
  return append(json.dump());
}

Expected<void> Journal::step(const std::string& host, const std::string& state) {
  nlohmann::json json = {
      {"run", m_run}, {"time", utc_now()}, {"event", "step"}, {"host", host}, {"state", state}};
  return append(json.dump());
}

Expected<void> Journal::end(const std::string& result) {
  nlohmann::json json = {{"run", m_run}, {"time", utc_now()}, {"event", "end"}, {"result", result}};
  return append(json.dump());
}

} // namespace aptship::fleet
