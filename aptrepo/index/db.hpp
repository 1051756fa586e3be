#pragma once

// The package database (SQLite in WAL mode, DATA/db/aptship.sqlite): every
// package file once, with its sizes, digests and complete Packages stanza,
// and which suite and component list it. Publishing reads the indexes from
// here, never from the .deb files.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/hash.hpp"
#include "aptrepo/index/publish.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace aptship::index {

// The schema this build writes (PRAGMA user_version); older databases are
// migrated on open, newer ones refused.
inline constexpr int k_schema_version = 1;

struct PackageRecord {
  int64_t id = 0;
  std::string name;
  std::string version;
  std::string architecture;
  std::string filename; // relative to the public root: "pool/main/h/hello/hello_1.0_all.deb"
  uint64_t size = 0;
  Digests digests;
  std::string stanza;   // the complete Packages stanza, ending in "\n"
  int64_t added_at = 0; // Unix time
};

// One package listed in one suite and component (without its stanza).
struct Membership {
  std::string suite;
  std::string component;
  int64_t package_id = 0;
  std::string name;
  std::string version;
  std::string architecture;
  std::string filename;
  std::string sha256;
  int64_t added_at = 0; // when it entered the suite
};

class Database {
public:
  // Opens (creating it and its folder if needed) the database at PATH, in
  // WAL mode with a busy timeout, migrating an older schema.
  [[nodiscard]] static Expected<Database> open(const std::filesystem::path& path);
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // A write transaction, rolled back on destruction unless committed.
  class Transaction {
  public:
    Transaction(Transaction&& other) noexcept;
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();
    // Makes every change since begin() durable at once.
    [[nodiscard]] Expected<void> commit();

  private:
    friend class Database;
    explicit Transaction(Database* db) : m_db(db) {}
    Database* m_db;
  };
  // Starts a write transaction (BEGIN IMMEDIATE).
  [[nodiscard]] Expected<Transaction> begin();

  // The schema version stored in the file.
  [[nodiscard]] Expected<int> schema_version();

  // Every version of NAME for ARCHITECTURE, with stanzas.
  [[nodiscard]] Expected<std::vector<PackageRecord>> find_packages(std::string_view name,
                                                                   std::string_view architecture);
  // The package with exactly this name, version text and architecture.
  [[nodiscard]] Expected<std::optional<PackageRecord>>
  find_package(std::string_view name, std::string_view version, std::string_view architecture);
  // Records RECORD (its id is ignored) and returns the new id.
  [[nodiscard]] Expected<int64_t> insert_package(const PackageRecord& record);
  // Forgets the package ID; it must be listed nowhere.
  [[nodiscard]] Expected<void> delete_package(int64_t id);
  // Packages no suite lists (stanzas not loaded).
  [[nodiscard]] Expected<std::vector<PackageRecord>> unlisted_packages();

  // Lists package ID in SUITE/COMPONENT; false if it already was. The
  // caller records a changed suite with mark_dirty(), which also makes it
  // one of suites().
  [[nodiscard]] Expected<bool> add_membership(std::string_view suite, std::string_view component,
                                              int64_t package_id, int64_t added_at);
  // Removes package ID from SUITE/COMPONENT.
  [[nodiscard]] Expected<void> remove_membership(std::string_view suite, std::string_view component,
                                                 int64_t package_id);
  // What SUITE lists (every suite when empty), ordered by suite, component,
  // name, architecture.
  [[nodiscard]] Expected<std::vector<Membership>> memberships(std::string_view suite = {});
  // What SUITE lists of package NAME, only in COMPONENT and for
  // ARCHITECTURE when those are not empty.
  [[nodiscard]] Expected<std::vector<Membership>>
  memberships_of(std::string_view suite, std::string_view name, std::string_view component = {},
                 std::string_view architecture = {});
  // The (component, name, architecture) groups in which SUITE lists more
  // than KEEP packages: one pass over the suite, for retention after a
  // large add where a query per group would cost more.
  [[nodiscard]] Expected<std::set<std::tuple<std::string, std::string, std::string>>>
  groups_over(std::string_view suite, unsigned keep);
  // What SUITE lists, with stanzas, as the publisher takes it (in no
  // particular order: the publisher sorts).
  [[nodiscard]] Expected<std::vector<ListedPackage>> suite_packages(std::string_view suite);
  // The pool file names some suite lists.
  [[nodiscard]] Expected<std::set<std::string>> listed_filenames();

  // Every suite that has ever been marked dirty or published.
  [[nodiscard]] Expected<std::vector<std::string>> suites();
  // Records that SUITE changed and needs publishing.
  [[nodiscard]] Expected<void> mark_dirty(std::string_view suite);
  // Records that SUITE's published state matches the database.
  [[nodiscard]] Expected<void> mark_published(std::string_view suite);
  // Suites whose changes are not yet published (a publish failed or was
  // interrupted after the change was committed).
  [[nodiscard]] Expected<std::vector<std::string>> dirty_suites();

private:
  class Statement;
  Database(sqlite3* db, std::filesystem::path path);
  [[nodiscard]] Expected<void> exec(const char* sql);
  [[nodiscard]] Expected<Statement> prepare(const char* sql);
  [[nodiscard]] Error error(std::string_view what) const;
  [[nodiscard]] Expected<void> migrate();
  void close() noexcept;

  sqlite3* m_db = nullptr;
  std::filesystem::path m_path;
  std::map<const char*, sqlite3_stmt*> m_statements; // prepared once, keyed by SQL text
};

} // namespace aptship::index
