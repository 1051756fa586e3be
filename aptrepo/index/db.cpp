#include "aptrepo/index/db.hpp"

#include <cerrno>
#include <system_error>
#include <utility>

#include <sqlite3.h>

namespace aptship::index {

namespace fs = std::filesystem;

namespace {

// Version 1: packages, memberships and suites with their publish flag.
constexpr const char* k_schema_v1 = R"(
CREATE TABLE packages (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  architecture TEXT NOT NULL,
  filename TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  md5 TEXT NOT NULL,
  sha1 TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  sha512 TEXT NOT NULL,
  stanza TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  UNIQUE (name, architecture, version)
);
CREATE TABLE memberships (
  suite TEXT NOT NULL,
  component TEXT NOT NULL,
  package_id INTEGER NOT NULL REFERENCES packages(id),
  added_at INTEGER NOT NULL,
  PRIMARY KEY (suite, component, package_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_package ON memberships(package_id);
CREATE TABLE suites (
  name TEXT PRIMARY KEY,
  dirty INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
)";

// How long a statement waits for another connection's write (a reader
// during a checkpoint); writers are serialized by the repository lock.
constexpr int k_busy_timeout_ms = 60'000;

std::string text_column(sqlite3_stmt* stmt, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  if (text == nullptr) {
    return {};
  }
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, column)));
}

} // namespace

// A cached prepared statement, reset and unbound when this handle goes.
class Database::Statement {
public:
  Statement(const Database* db, sqlite3_stmt* stmt) : m_db(db), m_stmt(stmt) {}
  Statement(Statement&& other) noexcept
      : m_db(other.m_db), m_stmt(std::exchange(other.m_stmt, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() {
    if (m_stmt != nullptr) {
      sqlite3_reset(m_stmt);
      sqlite3_clear_bindings(m_stmt);
    }
  }

  Statement& bind(int index, std::string_view text) {
    // A null pointer would bind SQL NULL, not the empty string.
    const char* data = text.data() != nullptr ? text.data() : "";
    sqlite3_bind_text(m_stmt, index, data, static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int index, int64_t value) {
    sqlite3_bind_int64(m_stmt, index, value);
    return *this;
  }
  // Advances: true when a row is available, false when done.
  Expected<bool> step() {
    int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) {
      return true;
    }
    if (rc == SQLITE_DONE) {
      return false;
    }
    return tl::unexpected(m_db->error("query"));
  }
  // Runs a statement that returns no rows.
  Expected<void> run() {
    TRY(step());
    return {};
  }
  [[nodiscard]] std::string text(int column) const { return text_column(m_stmt, column); }
  [[nodiscard]] int64_t integer(int column) const { return sqlite3_column_int64(m_stmt, column); }

private:
  const Database* m_db;
  sqlite3_stmt* m_stmt;
};

Database::Database(sqlite3* db, fs::path path) : m_db(db), m_path(std::move(path)) {}

Database::Database(Database&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)), m_path(std::move(other.m_path)),
      m_statements(std::move(other.m_statements)) {
  other.m_statements.clear();
}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    close();
    m_db = std::exchange(other.m_db, nullptr);
    m_path = std::move(other.m_path);
    m_statements = std::move(other.m_statements);
    other.m_statements.clear();
  }
  return *this;
}

Database::~Database() {
  close();
}

void Database::close() noexcept {
  for (auto& [sql, stmt] : m_statements) {
    sqlite3_finalize(stmt);
  }
  m_statements.clear();
  if (m_db != nullptr) {
    sqlite3_close(m_db);
    m_db = nullptr;
  }
}

Error Database::error(std::string_view what) const {
  return Error(fmt::format("database {}: {}: {}", m_path.string(), what, sqlite3_errmsg(m_db)));
}

Expected<void> Database::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(m_db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errmsg(m_db);
    sqlite3_free(message);
    return make_error("database {}: {}", m_path.string(), text);
  }
  return {};
}

Expected<Database::Statement> Database::prepare(const char* sql) {
  auto it = m_statements.find(sql);
  if (it == m_statements.end()) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      return tl::unexpected(error("preparing a query"));
    }
    it = m_statements.emplace(sql, stmt).first;
  }
  return Statement(this, it->second);
}

Expected<Database> Database::open(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return errno_error(fmt::format("creating {}", path.parent_path().string()), ec.value());
  }
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Database db(raw, path);
  if (rc != SQLITE_OK) {
    if (raw == nullptr) {
      return make_error("database {}: out of memory", path.string());
    }
    return tl::unexpected(db.error("opening"));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, k_busy_timeout_ms);
  // WAL lets `repo list` and the server's API read while a writer works;
  // synchronous=FULL makes a commit durable before the publish that follows.
  // Publishing reads every stanza of a suite: memory-mapped reads and a
  // larger page cache keep that fast for suites of 100,000 packages.
  TRY(db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
              "PRAGMA mmap_size=1073741824; PRAGMA cache_size=-65536;"));
  TRY(db.migrate());
  return db;
}

Expected<int> Database::schema_version() {
  TRY_ASSIGN(Statement stmt, prepare("PRAGMA user_version"));
  TRY_ASSIGN(bool row, stmt.step());
  return row ? static_cast<int>(stmt.integer(0)) : 0;
}

Expected<void> Database::migrate() {
  // Checked first without a write lock, so that a reader opening the
  // database never waits for a writer's transaction.
  TRY_ASSIGN(int current, schema_version());
  if (current == k_schema_version) {
    return {};
  }
  TRY_ASSIGN(Transaction tx, begin());
  TRY_ASSIGN(int version, schema_version());
  if (version > k_schema_version) {
    return make_error("database {}: schema version {} is newer than this aptship supports ({})",
                      m_path.string(), version, k_schema_version);
  }
  if (version == k_schema_version) {
    return {};
  }
  // Each step takes the schema one version further; future versions add
  // their ALTER/CREATE statements here.
  if (version < 1) {
    TRY(exec(k_schema_v1));
  }
  TRY(exec(fmt::format("PRAGMA user_version = {}", k_schema_version).c_str()));
  return tx.commit();
}

Database::Transaction::Transaction(Transaction&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)) {}

Database::Transaction::~Transaction() {
  if (m_db != nullptr) {
    // Nothing useful can be done if the rollback fails: the connection
    // closes with the transaction unfinished, which SQLite rolls back.
    (void)m_db->exec("ROLLBACK");
  }
}

Expected<void> Database::Transaction::commit() {
  Database* db = std::exchange(m_db, nullptr);
  if (db == nullptr) {
    return make_error("commit without a transaction");
  }
  auto result = db->exec("COMMIT");
  if (!result) {
    (void)db->exec("ROLLBACK");
  }
  return result;
}

Expected<Database::Transaction> Database::begin() {
  TRY(exec("BEGIN IMMEDIATE"));
  return Transaction(this);
}

// The columns read_package() reads, in its order.
#define APTSHIP_PACKAGE_COLUMNS                                                                    \
  "id, name, version, architecture, filename, size, md5, sha1, sha256, sha512, stanza, added_at"

namespace {

template <typename Stmt> PackageRecord read_package(const Stmt& stmt) {
  PackageRecord r;
  r.id = stmt.integer(0);
  r.name = stmt.text(1);
  r.version = stmt.text(2);
  r.architecture = stmt.text(3);
  r.filename = stmt.text(4);
  r.size = static_cast<uint64_t>(stmt.integer(5));
  r.digests.md5 = stmt.text(6);
  r.digests.sha1 = stmt.text(7);
  r.digests.sha256 = stmt.text(8);
  r.digests.sha512 = stmt.text(9);
  r.stanza = stmt.text(10);
  r.added_at = stmt.integer(11);
  return r;
}

} // namespace

Expected<std::vector<PackageRecord>> Database::find_packages(std::string_view name,
                                                             std::string_view architecture) {
  TRY_ASSIGN(Statement stmt,
             prepare("SELECT " APTSHIP_PACKAGE_COLUMNS
                     " FROM packages WHERE name = ?1 AND architecture = ?2 ORDER BY id"));
  stmt.bind(1, name).bind(2, architecture);
  std::vector<PackageRecord> out;
  for (;;) {
    TRY_ASSIGN(bool row, stmt.step());
    if (!row) {
      break;
    }
    out.push_back(read_package(stmt));
  }
  return out;
}

Expected<std::optional<PackageRecord>> Database::find_package(std::string_view name,
                                                              std::string_view version,
                                                              std::string_view architecture) {
  TRY_ASSIGN(Statement stmt,
             prepare("SELECT " APTSHIP_PACKAGE_COLUMNS
                     " FROM packages WHERE name = ?1 AND architecture = ?2 AND version = ?3"));
  stmt.bind(1, name).bind(2, architecture).bind(3, version);
  TRY_ASSIGN(bool row, stmt.step());
  if (!row) {
    return std::optional<PackageRecord>();
  }
  return std::optional<PackageRecord>(read_package(stmt));
}

Expected<int64_t> Database::insert_package(const PackageRecord& r) {
  TRY_ASSIGN(Statement stmt,
             prepare("INSERT INTO packages (name, version, architecture, filename, size, md5, "
                     "sha1, sha256, sha512, stanza, added_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
  stmt.bind(1, r.name)
      .bind(2, r.version)
      .bind(3, r.architecture)
      .bind(4, r.filename)
      .bind(5, static_cast<int64_t>(r.size))
      .bind(6, r.digests.md5)
      .bind(7, r.digests.sha1)
      .bind(8, r.digests.sha256)
      .bind(9, r.digests.sha512)
      .bind(10, r.stanza)
      .bind(11, r.added_at);
  TRY(stmt.run());
  return sqlite3_last_insert_rowid(m_db);
}

Expected<void> Database::delete_package(int64_t id) {
  TRY_ASSIGN(Statement stmt, prepare("DELETE FROM packages WHERE id = ?1"));
  stmt.bind(1, id);
  return stmt.run();
}

Expected<std::vector<PackageRecord>> Database::unlisted_packages() {
  TRY_ASSIGN(Statement stmt,
             prepare("SELECT id, name, version, architecture, filename, size, md5, sha1, sha256, "
                     "sha512, '', added_at FROM packages WHERE NOT EXISTS "
                     "(SELECT 1 FROM memberships m WHERE m.package_id = packages.id) ORDER BY id"));
  std::vector<PackageRecord> out;
  for (;;) {
    TRY_ASSIGN(bool row, stmt.step());
    if (!row) {
      break;
    }
    out.push_back(read_package(stmt));
  }
  return out;
}

Expected<bool> Database::add_membership(std::string_view suite, std::string_view component,
                                        int64_t package_id, int64_t added_at) {
  TRY_ASSIGN(Statement stmt,
             prepare("INSERT INTO memberships (suite, component, package_id, added_at) "
                     "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"));
  stmt.bind(1, suite).bind(2, component).bind(3, package_id).bind(4, added_at);
  TRY(stmt.run());
  return sqlite3_changes(m_db) > 0;
}

Expected<void> Database::remove_membership(std::string_view suite, std::string_view component,
                                           int64_t package_id) {
  TRY_ASSIGN(Statement stmt, prepare("DELETE FROM memberships WHERE suite = ?1 AND component = ?2 "
                                     "AND package_id = ?3"));
  stmt.bind(1, suite).bind(2, component).bind(3, package_id);
  return stmt.run();
}

namespace {

template <typename Stmt> Expected<std::vector<Membership>> read_memberships(Stmt& stmt) {
  std::vector<Membership> out;
  for (;;) {
    TRY_ASSIGN(bool row, stmt.step());
    if (!row) {
      break;
    }
    Membership m;
    m.suite = stmt.text(0);
    m.component = stmt.text(1);
    m.package_id = stmt.integer(2);
    m.name = stmt.text(3);
    m.version = stmt.text(4);
    m.architecture = stmt.text(5);
    m.filename = stmt.text(6);
    m.sha256 = stmt.text(7);
    m.added_at = stmt.integer(8);
    out.push_back(std::move(m));
  }
  return out;
}

} // namespace

#define APTSHIP_MEMBERSHIP_SELECT                                                                  \
  "SELECT m.suite, m.component, m.package_id, p.name, p.version, p.architecture, p.filename, "     \
  "p.sha256, m.added_at FROM memberships m JOIN packages p ON p.id = m.package_id "

Expected<std::vector<Membership>> Database::memberships(std::string_view suite) {
  TRY_ASSIGN(Statement stmt,
             prepare(APTSHIP_MEMBERSHIP_SELECT
                     "WHERE ?1 = '' OR m.suite = ?1 "
                     "ORDER BY m.suite, m.component, p.name, p.architecture, p.id"));
  stmt.bind(1, suite);
  return read_memberships(stmt);
}

Expected<std::vector<Membership>> Database::memberships_of(std::string_view suite,
                                                           std::string_view name,
                                                           std::string_view component,
                                                           std::string_view architecture) {
  // CROSS JOIN fixes the join order: from the package name's index to the
  // few memberships of those packages, never a scan of the whole suite.
  TRY_ASSIGN(Statement stmt,
             prepare("SELECT m.suite, m.component, m.package_id, p.name, p.version, "
                     "p.architecture, p.filename, p.sha256, m.added_at "
                     "FROM packages p CROSS JOIN memberships m ON m.package_id = p.id "
                     "WHERE p.name = ?2 AND m.suite = ?1 AND (?3 = '' OR m.component = ?3) "
                     "AND (?4 = '' OR p.architecture = ?4) "
                     "ORDER BY m.component, p.architecture, p.id"));
  stmt.bind(1, suite).bind(2, name).bind(3, component).bind(4, architecture);
  return read_memberships(stmt);
}

Expected<std::set<std::tuple<std::string, std::string, std::string>>>
Database::groups_over(std::string_view suite, unsigned keep) {
  TRY_ASSIGN(Statement stmt,
             prepare("SELECT m.component, p.name, p.architecture FROM memberships m "
                     "JOIN packages p ON p.id = m.package_id WHERE m.suite = ?1 "
                     "GROUP BY m.component, p.name, p.architecture HAVING COUNT(*) > ?2"));
  stmt.bind(1, suite).bind(2, static_cast<int64_t>(keep));
  std::set<std::tuple<std::string, std::string, std::string>> out;
  for (;;) {
    TRY_ASSIGN(bool row, stmt.step());
    if (!row) {
      return out;
    }
    out.emplace(stmt.text(0), stmt.text(1), stmt.text(2));
  }
}

Expected<std::vector<ListedPackage>> Database::suite_packages(std::string_view suite) {
  TRY_ASSIGN(Statement stmt,
             prepare("SELECT p.name, p.version, p.architecture, m.component, p.stanza "
                     "FROM memberships m JOIN packages p ON p.id = m.package_id "
                     "WHERE m.suite = ?1"));
  stmt.bind(1, suite);
  std::vector<ListedPackage> out;
  for (;;) {
    TRY_ASSIGN(bool row, stmt.step());
    if (!row) {
      break;
    }
    out.push_back(
        ListedPackage{stmt.text(0), stmt.text(1), stmt.text(2), stmt.text(3), stmt.text(4)});
  }
  return out;
}

Expected<std::set<std::string>> Database::listed_filenames() {
  TRY_ASSIGN(Statement stmt,
             prepare("SELECT DISTINCT p.filename FROM memberships m JOIN packages p "
                     "ON p.id = m.package_id"));
  std::set<std::string> out;
  for (;;) {
    TRY_ASSIGN(bool row, stmt.step());
    if (!row) {
      break;
    }
    out.insert(stmt.text(0));
  }
  return out;
}

Expected<std::vector<std::string>> Database::suites() {
  TRY_ASSIGN(Statement stmt, prepare("SELECT name FROM suites ORDER BY name"));
  std::vector<std::string> out;
  for (;;) {
    TRY_ASSIGN(bool row, stmt.step());
    if (!row) {
      break;
    }
    out.push_back(stmt.text(0));
  }
  return out;
}

Expected<void> Database::mark_dirty(std::string_view suite) {
  TRY_ASSIGN(Statement stmt, prepare("INSERT INTO suites (name, dirty) VALUES (?1, 1) "
                                     "ON CONFLICT (name) DO UPDATE SET dirty = 1"));
  stmt.bind(1, suite);
  return stmt.run();
}

Expected<void> Database::mark_published(std::string_view suite) {
  TRY_ASSIGN(Statement stmt, prepare("INSERT INTO suites (name, dirty) VALUES (?1, 0) "
                                     "ON CONFLICT (name) DO UPDATE SET dirty = 0"));
  stmt.bind(1, suite);
  return stmt.run();
}

Expected<std::vector<std::string>> Database::dirty_suites() {
  TRY_ASSIGN(Statement stmt, prepare("SELECT name FROM suites WHERE dirty != 0 ORDER BY name"));
  std::vector<std::string> out;
  for (;;) {
    TRY_ASSIGN(bool row, stmt.step());
    if (!row) {
      break;
    }
    out.push_back(stmt.text(0));
  }
  return out;
}

} // namespace aptship::index
