#pragma once

// The repository operations behind `aptship repo`. Each one holds the
// repository lock, changes the database in one transaction, then publishes
// the suites it changed. A pool file is complete and durable before the
// database names it, and the database commits before the publish: a crash
// at any point leaves a consistent repository, and a suite whose publish did
// not finish is published by the next operation.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/data_dir.hpp"
#include "aptrepo/core/error.hpp"
#include "aptrepo/index/config.hpp"
#include "aptrepo/index/db.hpp"
#include "aptrepo/index/lock.hpp"
#include "aptrepo/index/pool.hpp"
#include "aptrepo/index/publish.hpp"

namespace aptship::sign {
class Signer;
}

namespace aptship::index {

struct RepoOptions {
  LockOptions lock;
  // Threads that copy, hash and validate the files of an add.
  unsigned threads = 2;
};

// A suite published by an operation.
struct PublishedSuite {
  std::string suite;
  PublishResult result;
};

struct AddRequest {
  std::string suite = "stable";
  std::string component = "main";
  // .deb files, and folders whose .deb files (recursively) are added.
  std::vector<std::filesystem::path> inputs;
};

struct AddResult {
  std::vector<Membership> added;          // newly listed in the suite
  std::vector<Membership> already_listed; // identical file already listed: nothing done
  std::vector<Membership> pruned;         // left the suite by its retention setting
  std::vector<PublishedSuite> published;
};

struct RemoveResult {
  std::vector<Membership> removed;
  std::vector<PublishedSuite> published;
};

struct PromoteResult {
  std::vector<Membership> promoted;       // newly listed in the target suite
  std::vector<Membership> already_listed; // already there
  std::vector<Membership> pruned;         // left the target by its retention setting
  std::vector<PublishedSuite> published;
};

struct GcResult {
  std::vector<std::string> removed_files; // "pool/..." names
  size_t forgotten_packages = 0;          // database rows of files now gone
};

// "NAME" or "NAME=VERSION" as the commands take it.
struct PackageSpec {
  std::string name;
  std::optional<std::string> version;
};

// Parses "NAME[=VERSION]", checking the name's and the version's syntax.
[[nodiscard]] Expected<PackageSpec> parse_package_spec(std::string_view text);

// The Packages stanza of a package: its control fields in their order
// (minus any the pool sets), then Filename, Size, MD5sum, SHA1, SHA256,
// SHA512.
[[nodiscard]] std::string packages_stanza(std::string_view control_fields,
                                          const std::string& filename, uint64_t size,
                                          const Digests& digests);

class Repository {
public:
  // Takes the lock of DATA (which `aptship init` must have created), reads
  // its configuration and database, and publishes any suite an interrupted
  // operation left unpublished.
  [[nodiscard]] static Expected<Repository> open(const DataDir& data,
                                                 const RepoOptions& options = {});
  Repository(Repository&&) noexcept;
  Repository& operator=(Repository&&) noexcept;
  ~Repository();

  // Adds the .deb files of REQUEST to its suite and component. Every file
  // is validated and checked against the pool first: one bad or conflicting
  // file refuses the whole batch and changes nothing.
  [[nodiscard]] Expected<AddResult> add(const AddRequest& request);
  // Removes each of SPECS (every architecture and component) from SUITE;
  // a spec that matches nothing refuses the whole call.
  [[nodiscard]] Expected<RemoveResult> remove(std::string_view suite,
                                              const std::vector<PackageSpec>& specs);
  // Lists every architecture of SPEC (a version is required) that FROM
  // lists in TO too, in the same component: same pool file, same hashes.
  [[nodiscard]] Expected<PromoteResult> promote(const PackageSpec& spec, std::string_view from,
                                                std::string_view to);
  // Publishes SUITE, or every suite when empty, refreshing Valid-Until.
  [[nodiscard]] Expected<std::vector<PublishedSuite>> publish(std::string_view suite = {});
  // Removes pool files that no suite lists and no kept generation names,
  // and forgets the database rows of files that are gone.
  [[nodiscard]] Expected<GcResult> gc();

  // Suites that publish() without a name publishes: those of the database
  // and of the configuration.
  [[nodiscard]] Expected<std::vector<std::string>> suites();
  // The database, for reading.
  [[nodiscard]] Database& database() { return m_db; }
  // Suites published by open() to catch up with an interrupted operation.
  [[nodiscard]] const std::vector<PublishedSuite>& caught_up() const { return m_caught_up; }

private:
  Repository(DataDir data, RepoOptions options, RepoLock lock, Config config, Database db);
  [[nodiscard]] Expected<PublishedSuite> publish_one(const std::string& suite);
  // publish_one after a committed change, saying so if it fails.
  [[nodiscard]] Expected<PublishedSuite> publish_committed(const std::string& suite);
  [[nodiscard]] Expected<std::vector<PublishedSuite>>
  publish_all(const std::vector<std::string>& suites);
  [[nodiscard]] Expected<std::vector<Membership>>
  apply_retention(const std::string& suite, const std::vector<Membership>& touched);
  [[nodiscard]] Expected<void> check_architecture(std::string_view suite,
                                                  std::string_view architecture) const;

  DataDir m_data;
  RepoOptions m_options;
  RepoLock m_lock;
  Config m_config;
  Database m_db;
  Pool m_pool;
  std::unique_ptr<sign::Signer> m_signer; // opened at the first publish
  std::string m_signed_by;                // its key's fingerprint, once known
  std::vector<PublishedSuite> m_caught_up;
};

// What SUITE lists (every suite when empty), ordered by name, version
// (dpkg's order), architecture, suite and component. Reads without the
// lock: the database's WAL mode gives a consistent snapshot.
[[nodiscard]] Expected<std::vector<Membership>> list_packages(const DataDir& data,
                                                              std::string_view suite = {});

// Checks that DATA was set up by `aptship init`, without creating anything.
[[nodiscard]] Expected<void> check_initialized(const DataDir& data);

} // namespace aptship::index
