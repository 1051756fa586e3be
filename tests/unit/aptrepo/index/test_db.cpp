#include "aptrepo/index/db.hpp"

#include <set>
#include <string>
#include <tuple>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "testutil.hpp"

namespace fs = std::filesystem;
using aptship::index::Database;
using aptship::index::k_schema_version;
using aptship::index::Membership;
using aptship::index::PackageRecord;
using aptship::test::ScopedTempDir;

namespace {

PackageRecord record(const std::string& name, const std::string& version,
                     const std::string& arch = "all") {
  PackageRecord r;
  r.name = name;
  r.version = version;
  r.architecture = arch;
  r.filename =
      fmt::format("pool/main/{}/{}/{}_{}_{}.deb", name.substr(0, 1), name, name, version, arch);
  r.size = 1234;
  r.digests.md5 = "md5-" + name + version;
  r.digests.sha1 = "sha1-" + name + version;
  r.digests.sha256 = "sha256-" + name + version;
  r.digests.sha512 = "sha512-" + name + version;
  r.stanza = fmt::format("Package: {}\nVersion: {}\nArchitecture: {}\n", name, version, arch);
  r.added_at = 1700000000;
  return r;
}

Database open_db(const fs::path& path = "db/aptship.sqlite") {
  auto db = Database::open(path);
  REQUIRE(db);
  return std::move(*db);
}

int64_t insert(Database& db, const PackageRecord& r) {
  auto id = db.insert_package(r);
  REQUIRE(id);
  return *id;
}

// A PRAGMA's value read with SQLite directly, not through Database.
std::string pragma(const fs::path& path, const char* sql) {
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw, sql, -1, &stmt, nullptr) == SQLITE_OK);
  std::string value;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
  return value;
}

} // namespace

TEST_CASE("db: a new database has the current schema, in WAL mode", "[db]") {
  ScopedTempDir tmp;
  {
    Database db = open_db();
    auto version = db.schema_version();
    REQUIRE(version);
    CHECK(*version == k_schema_version);
  }
  CHECK(fs::exists("db/aptship.sqlite"));
  CHECK(pragma("db/aptship.sqlite", "PRAGMA journal_mode") == "wal");
  CHECK(pragma("db/aptship.sqlite", "PRAGMA user_version") == std::to_string(k_schema_version));
}

TEST_CASE("db: a newer schema is refused", "[db]") {
  ScopedTempDir tmp;
  { Database db = open_db(); }
  pragma("db/aptship.sqlite", "PRAGMA user_version = 99");
  auto db = Database::open("db/aptship.sqlite");
  REQUIRE_FALSE(db);
  CHECK(db.error().message().find("schema version 99 is newer than this aptship supports") !=
        std::string::npos);
}

TEST_CASE("db: packages are stored once per name, version and architecture", "[db]") {
  ScopedTempDir tmp;
  Database db = open_db();
  PackageRecord hello = record("hello", "1.0");
  int64_t id = insert(db, hello);
  CHECK(id > 0);

  auto found = db.find_package("hello", "1.0", "all");
  REQUIRE(found);
  REQUIRE(*found);
  CHECK((*found)->id == id);
  CHECK((*found)->filename == hello.filename);
  CHECK((*found)->size == 1234);
  CHECK((*found)->digests.md5 == hello.digests.md5);
  CHECK((*found)->digests.sha1 == hello.digests.sha1);
  CHECK((*found)->digests.sha256 == hello.digests.sha256);
  CHECK((*found)->digests.sha512 == hello.digests.sha512);
  CHECK((*found)->stanza == hello.stanza);
  CHECK((*found)->added_at == 1700000000);

  auto absent = db.find_package("hello", "1.0", "amd64");
  REQUIRE(absent);
  CHECK_FALSE(*absent);

  PackageRecord again = record("hello", "1.0");
  again.filename = "pool/elsewhere.deb";
  CHECK_FALSE(db.insert_package(again));

  insert(db, record("hello", "2.0"));
  insert(db, record("hello", "2.0", "amd64"));
  auto versions = db.find_packages("hello", "all");
  REQUIRE(versions);
  REQUIRE(versions->size() == 2);
  CHECK((*versions)[0].version == "1.0");
  CHECK((*versions)[1].version == "2.0");
}

TEST_CASE("db: memberships list packages in suites and components", "[db]") {
  ScopedTempDir tmp;
  Database db = open_db();
  int64_t hello1 = insert(db, record("hello", "1.0"));
  int64_t hello2 = insert(db, record("hello", "2.0"));
  int64_t app = insert(db, record("app", "3.0", "amd64"));

  auto added = db.add_membership("stable", "main", hello1, 100);
  REQUIRE(added);
  CHECK(*added);
  auto again = db.add_membership("stable", "main", hello1, 200);
  REQUIRE(again);
  CHECK_FALSE(*again);
  REQUIRE(db.add_membership("stable", "main", hello2, 101));
  REQUIRE(db.add_membership("stable", "contrib", app, 102));
  REQUIRE(db.add_membership("testing", "main", hello2, 103));
  REQUIRE(db.mark_dirty("stable"));
  REQUIRE(db.mark_dirty("testing"));

  auto stable = db.memberships("stable");
  REQUIRE(stable);
  REQUIRE(stable->size() == 3);
  CHECK((*stable)[0].component == "contrib");
  CHECK((*stable)[0].name == "app");
  CHECK((*stable)[1].version == "1.0");
  CHECK((*stable)[1].added_at == 100); // the second add changed nothing
  CHECK((*stable)[2].version == "2.0");
  CHECK((*stable)[2].sha256 == "sha256-hello2.0");

  auto all = db.memberships();
  REQUIRE(all);
  CHECK(all->size() == 4);

  auto of = db.memberships_of("stable", "hello");
  REQUIRE(of);
  CHECK(of->size() == 2);
  auto of_main = db.memberships_of("stable", "app", "main");
  REQUIRE(of_main);
  CHECK(of_main->empty());
  auto of_arch = db.memberships_of("stable", "app", "contrib", "amd64");
  REQUIRE(of_arch);
  CHECK(of_arch->size() == 1);

  auto packages = db.suite_packages("stable");
  REQUIRE(packages);
  REQUIRE(packages->size() == 3);
  CHECK((*packages)[0].name == "app");
  CHECK((*packages)[0].component == "contrib");
  CHECK((*packages)[0].architecture == "amd64");
  CHECK((*packages)[0].stanza == "Package: app\nVersion: 3.0\nArchitecture: amd64\n");

  auto suites = db.suites();
  REQUIRE(suites);
  CHECK(*suites == std::vector<std::string>{"stable", "testing"});

  REQUIRE(db.remove_membership("stable", "main", hello1));
  auto listed = db.listed_filenames();
  REQUIRE(listed);
  CHECK(listed->count(record("hello", "1.0").filename) == 0);
  CHECK(listed->count(record("hello", "2.0").filename) == 1);
  auto unlisted = db.unlisted_packages();
  REQUIRE(unlisted);
  REQUIRE(unlisted->size() == 1);
  CHECK((*unlisted)[0].id == hello1);

  REQUIRE(db.delete_package(hello1));
  auto gone = db.find_package("hello", "1.0", "all");
  REQUIRE(gone);
  CHECK_FALSE(*gone);
}

TEST_CASE("db: groups_over finds the groups listing more than a number", "[db]") {
  ScopedTempDir tmp;
  Database db = open_db();
  for (const char* version : {"1.0", "2.0", "3.0"}) {
    REQUIRE(db.add_membership("stable", "main", insert(db, record("hello", version)), 100));
  }
  int64_t amd64 = insert(db, record("hello", "1.0", "amd64"));
  REQUIRE(db.add_membership("stable", "main", amd64, 100));
  REQUIRE(db.add_membership("stable", "contrib", amd64, 100));
  REQUIRE(db.add_membership("testing", "main", insert(db, record("app", "1.0")), 100));

  using Group = std::tuple<std::string, std::string, std::string>;
  auto two = db.groups_over("stable", 2);
  REQUIRE(two);
  CHECK(*two == std::set<Group>{{"main", "hello", "all"}});
  auto none = db.groups_over("stable", 3);
  REQUIRE(none);
  CHECK(none->empty());
  auto zero = db.groups_over("stable", 0);
  REQUIRE(zero);
  CHECK(zero->size() == 3);
  auto other = db.groups_over("testing", 0);
  REQUIRE(other);
  CHECK(*other == std::set<Group>{{"main", "app", "all"}});
}

TEST_CASE("db: a listed package cannot be deleted", "[db]") {
  ScopedTempDir tmp;
  Database db = open_db();
  int64_t id = insert(db, record("hello", "1.0"));
  REQUIRE(db.add_membership("stable", "main", id, 1));
  CHECK_FALSE(db.delete_package(id));
}

TEST_CASE("db: suites are marked dirty until published", "[db]") {
  ScopedTempDir tmp;
  Database db = open_db();
  REQUIRE(db.mark_dirty("stable"));
  REQUIRE(db.mark_dirty("testing"));
  auto dirty = db.dirty_suites();
  REQUIRE(dirty);
  CHECK(*dirty == std::vector<std::string>{"stable", "testing"});
  REQUIRE(db.mark_published("stable"));
  dirty = db.dirty_suites();
  REQUIRE(dirty);
  CHECK(*dirty == std::vector<std::string>{"testing"});
  // A published suite stays known.
  auto suites = db.suites();
  REQUIRE(suites);
  CHECK(*suites == std::vector<std::string>{"stable", "testing"});
}

TEST_CASE("db: a transaction not committed changes nothing", "[db]") {
  ScopedTempDir tmp;
  Database db = open_db();
  {
    auto tx = db.begin();
    REQUIRE(tx);
    insert(db, record("hello", "1.0"));
    REQUIRE(db.mark_dirty("stable"));
  }
  auto found = db.find_package("hello", "1.0", "all");
  REQUIRE(found);
  CHECK_FALSE(*found);
  auto dirty = db.dirty_suites();
  REQUIRE(dirty);
  CHECK(dirty->empty());

  {
    auto tx = db.begin();
    REQUIRE(tx);
    insert(db, record("hello", "1.0"));
    REQUIRE(tx->commit());
  }
  found = db.find_package("hello", "1.0", "all");
  REQUIRE(found);
  CHECK(*found);
}

TEST_CASE("db: what is committed survives reopening", "[db]") {
  ScopedTempDir tmp;
  {
    Database db = open_db();
    auto tx = db.begin();
    REQUIRE(tx);
    int64_t id = insert(db, record("hello", "1.0"));
    REQUIRE(db.add_membership("stable", "main", id, 5));
    REQUIRE(tx->commit());
  }
  Database db = open_db();
  auto members = db.memberships("stable");
  REQUIRE(members);
  REQUIRE(members->size() == 1);
  CHECK((*members)[0].name == "hello");
  CHECK((*members)[0].filename == "pool/main/h/hello/hello_1.0_all.deb");
}

TEST_CASE("db: a second connection reads while the first writes", "[db]") {
  ScopedTempDir tmp;
  Database writer = open_db();
  int64_t id = insert(writer, record("hello", "1.0"));
  REQUIRE(writer.add_membership("stable", "main", id, 1));
  auto tx = writer.begin();
  REQUIRE(tx);
  insert(writer, record("hello", "2.0"));
  // WAL: the reader sees the committed state, without waiting for the writer.
  Database reader = open_db();
  auto members = reader.memberships("stable");
  REQUIRE(members);
  CHECK(members->size() == 1);
  REQUIRE(tx->commit());
}

TEST_CASE("db: an unusable path is reported", "[db]") {
  ScopedTempDir tmp;
  aptship::test::write("db", "a file where the folder should be");
  auto db = Database::open("db/aptship.sqlite");
  REQUIRE_FALSE(db);
  CHECK(db.error().message().find("db") != std::string::npos);
}
