#pragma once

// The read-only JSON API and the client .sources file that `aptship serve`
// answers beside the published tree.

#include <memory>
#include <optional>
#include <string>

#include "aptrepo/core/data_dir.hpp"
#include "aptrepo/core/error.hpp"
#include "aptrepo/serve/server.hpp"

namespace aptship::cli {

class RepoApi {
public:
  // Reads the data dir's public key once (for the .sources file); the
  // database is opened per request, so the API always shows what the
  // repository holds now.
  [[nodiscard]] static Expected<std::shared_ptr<RepoApi>> create(const DataDir& data);

  // /api/v1/suites, /api/v1/packages?suite=S and /aptship.sources.
  [[nodiscard]] std::optional<serve::AppResponse> handle(const serve::AppRequest& request) const;

private:
  RepoApi(DataDir data, std::string armored_key)
      : m_data(std::move(data)), m_armored_key(std::move(armored_key)) {}
  [[nodiscard]] Expected<serve::AppResponse> suites() const;
  [[nodiscard]] Expected<serve::AppResponse> packages(const serve::AppRequest& request) const;
  [[nodiscard]] Expected<serve::AppResponse> sources(const serve::AppRequest& request) const;

  DataDir m_data;
  std::string m_armored_key;
};

} // namespace aptship::cli
