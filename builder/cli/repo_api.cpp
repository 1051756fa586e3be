#include "builder/cli/repo_api.hpp"

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "aptrepo/core/log.hpp"
#include "aptrepo/index/db.hpp"
#include "aptrepo/sign/signer.hpp"

namespace aptship::cli {

namespace {

serve::AppResponse json_response(int status, const nlohmann::json& body) {
  return serve::AppResponse{status, "application/json", body.dump(2) + "\n"};
}

serve::AppResponse json_error(int status, std::string_view message) {
  return json_response(status, nlohmann::json{{"error", message}});
}

} // namespace

Expected<std::shared_ptr<RepoApi>> RepoApi::create(const DataDir& data) {
  TRY_ASSIGN(sign::Signer signer, sign::Signer::open(data.gnupg()));
  TRY_ASSIGN(std::string key, signer.export_public(sign::Armor::yes));
  return std::shared_ptr<RepoApi>(new RepoApi(data, std::move(key)));
}

std::optional<serve::AppResponse> RepoApi::handle(const serve::AppRequest& request) const {
  Expected<serve::AppResponse> response = tl::unexpected(Error("not found"));
  if (request.path == "/api/v1/suites") {
    response = suites();
  } else if (request.path == "/api/v1/packages") {
    response = packages(request);
  } else if (request.path == "/aptship.sources") {
    response = sources(request);
  } else {
    return std::nullopt;
  }
  if (!response) {
    log::error("{}: {}", request.path, response.error().message());
    return json_error(500, response.error().message());
  }
  return *response;
}

Expected<serve::AppResponse> RepoApi::suites() const {
  TRY_ASSIGN(index::Database db, index::Database::open(m_data.db()));
  TRY_ASSIGN(std::vector<index::Membership> all, db.memberships());
  struct Summary {
    size_t packages = 0;
    std::set<std::string> components;
    std::set<std::string> architectures;
  };
  std::map<std::string, Summary> by_suite;
  TRY_ASSIGN(std::vector<std::string> names, db.suites());
  for (const std::string& name : names) {
    by_suite[name];
  }
  for (const index::Membership& m : all) {
    Summary& s = by_suite[m.suite];
    ++s.packages;
    s.components.insert(m.component);
    s.architectures.insert(m.architecture);
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, s] : by_suite) {
    out.push_back({{"suite", name},
                   {"packages", s.packages},
                   {"components", s.components},
                   {"architectures", s.architectures}});
  }
  return json_response(200, out);
}

Expected<serve::AppResponse> RepoApi::packages(const serve::AppRequest& request) const {
  auto suite = request.query.find("suite");
  if (suite == request.query.end() || suite->second.empty()) {
    return json_error(400, "the 'suite' parameter is required: /api/v1/packages?suite=NAME");
  }
  TRY_ASSIGN(index::Database db, index::Database::open(m_data.db()));
  TRY_ASSIGN(std::vector<std::string> names, db.suites());
  if (std::find(names.begin(), names.end(), suite->second) == names.end()) {
    return json_error(404, fmt::format("no suite '{}'", suite->second));
  }
  TRY_ASSIGN(std::vector<index::Membership> members, db.memberships(suite->second));
  nlohmann::json out = nlohmann::json::array();
  for (const index::Membership& m : members) {
    out.push_back({{"name", m.name},
                   {"version", m.version},
                   {"architecture", m.architecture},
                   {"component", m.component},
                   {"filename", m.filename},
                   {"sha256", m.sha256},
                   {"added_at", m.added_at}});
  }
  return json_response(200, out);
}

Expected<serve::AppResponse> RepoApi::sources(const serve::AppRequest& request) const {
  TRY_ASSIGN(index::Database db, index::Database::open(m_data.db()));
  TRY_ASSIGN(std::vector<std::string> suites, db.suites());
  TRY_ASSIGN(std::vector<index::Membership> all, db.memberships());
  std::set<std::string> components;
  for (const index::Membership& m : all) {
    components.insert(m.component);
  }
  if (components.empty()) {
    components.insert("main");
  }
  const std::string host = request.host.empty() ? "127.0.0.1" : request.host;
  // deb822 (sources.list(5)): the key goes inline in Signed-By, each line
  // indented and an empty line written as " .".
  std::string key;
  size_t start = 0;
  while (start < m_armored_key.size()) {
    size_t end = m_armored_key.find('\n', start);
    if (end == std::string::npos) {
      end = m_armored_key.size();
    }
    std::string_view line(m_armored_key.data() + start, end - start);
    key += line.empty() ? " .\n" : fmt::format(" {}\n", line);
    start = end + 1;
  }
  std::string text =
      fmt::format("Types: deb\nURIs: http://{}/\nSuites: {}\nComponents: {}\nSigned-By:\n{}", host,
                  fmt::join(suites, " "), fmt::join(components, " "), key);
  return serve::AppResponse{200, "text/plain; charset=utf-8", std::move(text)};
}

} // namespace aptship::cli
