#include "aptrepo/index/repo.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aptrepo/core/hash.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/deb/deb_reader.hpp"
#include "aptrepo/deb/deb_writer.hpp"
#include "aptrepo/sign/signer.hpp"
#include "testutil.hpp"

namespace fs = std::filesystem;
using aptship::DataDir;
using aptship::Digest;
using aptship::hex_digest;
using aptship::index::AddRequest;
using aptship::index::AddResult;
using aptship::index::Database;
using aptship::index::list_packages;
using aptship::index::Membership;
using aptship::index::PackageSpec;
using aptship::index::RepoLock;
using aptship::index::RepoOptions;
using aptship::index::Repository;
using aptship::test::read;
using aptship::test::ScopedTempDir;
using aptship::test::write;

namespace {

// A data dir as `aptship init` leaves it (a signing key, an optional
// config), and a folder of test packages. The GnuPG agent is stopped at
// the end so that none outlives the test case.
class TestRepo {
public:
  explicit TestRepo(std::string_view config = {}) : m_data(m_tmp.path() / "data") {
    fs::create_directories(m_data.root());
    if (!config.empty()) {
      write(m_data.config(), config);
    }
    auto signer = aptship::sign::Signer::open(m_data.gnupg());
    REQUIRE(signer);
    REQUIRE(signer->generate_key("aptship test <test@example.invalid>"));
  }
  TestRepo(const TestRepo&) = delete;
  TestRepo& operator=(const TestRepo&) = delete;
  ~TestRepo() {
    (void)aptship::run({"gpgconf", "--homedir", m_data.gnupg().string(), "--kill", "all"});
  }

  [[nodiscard]] const DataDir& data() const { return m_data; }
  [[nodiscard]] fs::path path(std::string_view name) const { return m_tmp.path() / name; }
  [[nodiscard]] fs::path published(std::string_view name) const {
    return m_data.public_root() / name;
  }

  Repository open(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    RepoOptions options;
    options.lock.timeout = timeout;
    auto repo = Repository::open(m_data, options);
    if (!repo) {
      FAIL(repo.error().message());
    }
    return std::move(*repo);
  }

  // Builds NAME_VERSION_ARCH.deb into FOLDER (debs/ by default); PAYLOAD
  // makes two builds of one version differ.
  fs::path deb(const std::string& name, const std::string& version, const std::string& arch = "all",
               const std::string& payload = "payload", const std::string& folder = "debs") {
    fs::path tree = path("trees") / fmt::format("{}_{}_{}_{}", name, version, arch, m_count++);
    write(tree / "DEBIAN/control",
          fmt::format("Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: Tests "
                      "<tests@example.org>\nInstalled-Size: 1\nSection: misc\nPriority: "
                      "optional\nDescription: test package {}\n built by the unit tests\n",
                      name, version, arch, name));
    write(tree / "usr/share" / name / "payload", payload);
    aptship::deb::PackOptions options;
    options.compression = aptship::archive::Compression::gzip;
    options.source_date_epoch = 1700000000;
    options.threads = 1;
    std::string file_version = version;
    std::replace(file_version.begin(), file_version.end(), ':', '_');
    fs::path out = path(folder) / fmt::format("{}_{}_{}.deb", name, file_version, arch);
    fs::create_directories(out.parent_path());
    auto packed = aptship::deb::pack(tree, out, options);
    REQUIRE(packed);
    return out;
  }

  std::vector<Membership> list(std::string_view suite = {}) {
    auto rows = list_packages(m_data, suite);
    REQUIRE(rows);
    return *rows;
  }

  // Every file below the pool, sorted.
  std::vector<std::string> pool_files() {
    std::vector<std::string> out;
    fs::path pool = m_data.public_root() / "pool";
    if (!fs::exists(pool)) {
      return out;
    }
    for (const auto& entry : fs::recursive_directory_iterator(pool)) {
      if (entry.is_regular_file()) {
        out.push_back(entry.path().lexically_relative(m_data.public_root()).generic_string());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

private:
  ScopedTempDir m_tmp;
  DataDir m_data;
  int m_count = 0;
};

AddRequest request(std::vector<fs::path> inputs, std::string suite = "stable",
                   std::string component = "main") {
  AddRequest r;
  r.suite = std::move(suite);
  r.component = std::move(component);
  r.inputs = std::move(inputs);
  return r;
}

AddResult add_ok(Repository& repo, const AddRequest& r) {
  auto result = repo.add(r);
  if (!result) {
    FAIL(result.error().message());
  }
  return std::move(*result);
}

std::string add_error(Repository& repo, const AddRequest& r) {
  auto result = repo.add(r);
  REQUIRE_FALSE(result);
  return result.error().message();
}

// "name version arch suite component" for each row.
std::vector<std::string> rows(const std::vector<Membership>& list) {
  std::vector<std::string> out;
  for (const auto& m : list) {
    out.push_back(
        fmt::format("{} {} {} {} {}", m.name, m.version, m.architecture, m.suite, m.component));
  }
  return out;
}

// The Packages index of SUITE/COMPONENT for ARCH as published.
std::string packages_index(const TestRepo& t, const std::string& suite,
                           const std::string& component = "main",
                           const std::string& arch = "amd64") {
  return read(t.published(fmt::format("dists/{}/{}/binary-{}/Packages", suite, component, arch)));
}

// The stanza of NAME VERSION in INDEX ("" if absent).
std::string stanza_of(const std::string& index, const std::string& name,
                      const std::string& version) {
  std::string head = fmt::format("Package: {}\n", name);
  for (size_t pos = 0; pos < index.size();) {
    size_t end = index.find("\n\n", pos);
    if (end == std::string::npos) {
      end = index.size();
    } else {
      end += 1;
    }
    std::string stanza = index.substr(pos, end - pos);
    if (stanza.starts_with(head) &&
        stanza.find(fmt::format("\nVersion: {}\n", version)) != std::string::npos) {
      return stanza;
    }
    pos = end + 1;
  }
  return {};
}

uint64_t generation(const TestRepo& t, const std::string& suite) {
  std::error_code ec;
  fs::path target = fs::read_symlink(t.published("dists/" + suite), ec);
  if (ec) {
    return 0;
  }
  return std::stoull(target.filename().string());
}

} // namespace

TEST_CASE("repo: an added package lands in the pool, the database and the index", "[repo]") {
  TestRepo t;
  fs::path deb = t.deb("hello", "1:2.0-1", "all");
  fs::path lib = t.deb("libfoo1", "1.0", "amd64");
  Repository repo = t.open();
  AddResult result = add_ok(repo, request({deb, lib}));
  CHECK(result.added.size() == 2);
  CHECK(result.already_listed.empty());
  REQUIRE(result.published.size() == 1);
  CHECK(result.published[0].suite == "stable");

  const std::string hello_file = "pool/main/h/hello/hello_1%3a2.0-1_all.deb";
  const std::string lib_file = "pool/main/libf/libfoo1/libfoo1_1.0_amd64.deb";
  CHECK(t.pool_files() == std::vector<std::string>{hello_file, lib_file});
  CHECK(read(t.published(hello_file)) == read(deb));

  CHECK(rows(t.list()) ==
        std::vector<std::string>{"hello 1:2.0-1 all stable main", "libfoo1 1.0 amd64 stable main"});

  // The stanza: the control fields in order, then the pool file's facts.
  const std::string content = read(deb);
  std::string stanza = stanza_of(packages_index(t, "stable"), "hello", "1:2.0-1");
  auto contents = aptship::deb::read_deb(deb, aptship::deb::ListFiles::no);
  REQUIRE(contents);
  CHECK(stanza.starts_with("Package: hello\nVersion: 1:2.0-1\nArchitecture: all\n"));
  CHECK(stanza == fmt::format("{}Filename: {}\nSize: {}\nMD5sum: {}\nSHA1: {}\nSHA256: {}\n"
                              "SHA512: {}\n",
                              contents->control.to_string(), hello_file, content.size(),
                              hex_digest(Digest::md5, content), hex_digest(Digest::sha1, content),
                              hex_digest(Digest::sha256, content),
                              hex_digest(Digest::sha512, content)));
  // Architecture all is listed in every architecture's index.
  CHECK_FALSE(stanza_of(packages_index(t, "stable"), "libfoo1", "1.0").empty());
  CHECK(fs::exists(t.published("dists/stable/InRelease")));
}

TEST_CASE("repo: folders are searched for .deb files recursively", "[repo]") {
  TestRepo t;
  t.deb("alpha", "1.0", "all", "a", "in/one");
  t.deb("beta", "1.0", "all", "b", "in/one/deeper");
  t.deb("gamma", "1.0", "all", "c", "in/two");
  write(t.path("in/README"), "not a package");
  Repository repo = t.open();
  AddResult result = add_ok(repo, request({t.path("in")}));
  CHECK(result.added.size() == 3);
  CHECK(t.list().size() == 3);

  write(t.path("empty/notes.txt"), "nothing here");
  std::string error = add_error(repo, request({t.path("empty")}));
  CHECK(error.find("no .deb files below this folder") != std::string::npos);
  std::string missing = add_error(repo, request({t.path("missing.deb")}));
  CHECK(missing.find("missing.deb") != std::string::npos);
}

TEST_CASE("repo: adding an identical file again changes nothing", "[repo]") {
  TestRepo t;
  fs::path deb = t.deb("hello", "1.0");
  Repository repo = t.open();
  add_ok(repo, request({deb}));
  uint64_t before = generation(t, "stable");
  struct stat st_before {};
  REQUIRE(::stat(t.published("pool/main/h/hello/hello_1.0_all.deb").c_str(), &st_before) == 0);

  AddResult again = add_ok(repo, request({deb, deb}));
  CHECK(again.added.empty());
  CHECK(again.already_listed.size() == 1);
  CHECK(again.published.empty());
  CHECK(generation(t, "stable") == before);
  struct stat st_after {};
  REQUIRE(::stat(t.published("pool/main/h/hello/hello_1.0_all.deb").c_str(), &st_after) == 0);
  CHECK(st_after.st_ino == st_before.st_ino);
  CHECK(t.list().size() == 1);
}

TEST_CASE("repo: a different file under a known name, version and architecture is refused",
          "[repo]") {
  TestRepo t;
  fs::path first = t.deb("hello", "1.0", "all", "first", "a");
  fs::path second = t.deb("hello", "1.0", "all", "second", "b");
  fs::path other = t.deb("other", "1.0", "all", "x", "b");
  Repository repo = t.open();
  add_ok(repo, request({first}));
  uint64_t before = generation(t, "stable");

  std::string error = add_error(repo, request({other, second}));
  CHECK(error == fmt::format("{}: a different file with the same name, version and architecture "
                             "is already in the pool (sha256 {} vs {})",
                             second.string(), hex_digest(Digest::sha256, read(first)),
                             hex_digest(Digest::sha256, read(second))));
  // Nothing changed: not even the good file of the batch went in.
  CHECK(read(t.published("pool/main/h/hello/hello_1.0_all.deb")) == read(first));
  CHECK(rows(t.list()) == std::vector<std::string>{"hello 1.0 all stable main"});
  CHECK(t.pool_files() == std::vector<std::string>{"pool/main/h/hello/hello_1.0_all.deb"});
  CHECK(generation(t, "stable") == before);

  // The same holds in another suite: the pool has one file per version.
  std::string elsewhere = add_error(repo, request({second}, "testing"));
  CHECK(elsewhere.find("already in the pool") != std::string::npos);
  // dpkg's equal versions are the same version.
  fs::path zero_epoch = t.deb("hello", "0:1.0", "all", "third", "c");
  CHECK(add_error(repo, request({zero_epoch})).find("already in the pool") != std::string::npos);
}

TEST_CASE("repo: two different files for one version in a batch are refused", "[repo]") {
  TestRepo t;
  fs::path first = t.deb("hello", "1.0", "all", "first", "a");
  fs::path second = t.deb("hello", "1.0", "all", "second", "b");
  Repository repo = t.open();
  std::string error = add_error(repo, request({first, second}));
  CHECK(error.find("is also in this batch") != std::string::npos);
  CHECK(t.list().empty());
  CHECK(t.pool_files().empty());
}

TEST_CASE("repo: one bad .deb in a batch changes nothing", "[repo]") {
  TestRepo t;
  fs::path good1 = t.deb("alpha", "1.0");
  fs::path good2 = t.deb("gamma", "1.0");
  write(t.path("debs/beta_1.0_all.deb"), "!<arch>\nthis is not a package\n");
  Repository repo = t.open();
  std::string error = add_error(repo, request({t.path("debs")}));
  CHECK(error.starts_with(t.path("debs/beta_1.0_all.deb").string() + ": "));
  CHECK(error.find('\n') == std::string::npos);
  CHECK(error.find("/proc/") == std::string::npos); // names the input
  CHECK(t.list().empty());
  CHECK(t.pool_files().empty());
  CHECK_FALSE(fs::exists(t.published("dists")));
  CHECK_FALSE(fs::exists(t.published("pool")));

  // Every bad file is named, in one line.
  write(t.path("debs/delta_1.0_all.deb"), "garbage");
  std::string both = add_error(repo, request({t.path("debs")}));
  CHECK(both.find("beta_1.0_all.deb") != std::string::npos);
  CHECK(both.find("delta_1.0_all.deb") != std::string::npos);
  CHECK(both.find('\n') == std::string::npos);
}

TEST_CASE("repo: a package whose data.tar escapes the tree is refused", "[repo]") {
  TestRepo t;
  // A hand-made .deb: data.tar holds "./../evil".
  fs::path tree = t.path("evil-tree");
  write(tree / "DEBIAN/control",
        "Package: evil\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.org>\n"
        "Description: evil\n");
  write(tree / "x/evil", "bad");
  fs::path deb = t.path("evil.deb");
  auto made = aptship::run({"sh", "-c",
                            "set -e; cd \"$1\"; echo 2.0 > debian-binary; "
                            "tar -C DEBIAN -czf control.tar.gz ./control; "
                            "tar -C x -czf data.tar.gz --transform 's,^\\./,./../,' ./evil; "
                            "ar rc \"$2\" debian-binary control.tar.gz data.tar.gz",
                            "sh", tree.string(), deb.string()});
  REQUIRE(made);
  REQUIRE(made->ok());
  Repository repo = t.open();
  std::string error = add_error(repo, request({deb}));
  CHECK(error.starts_with(deb.string() + ": "));
  CHECK(error.find("..") != std::string::npos);
  CHECK(t.pool_files().empty());
}

TEST_CASE("repo: the pool file of a known package is restored if it went missing", "[repo]") {
  TestRepo t;
  fs::path deb = t.deb("hello", "1.0");
  Repository repo = t.open();
  add_ok(repo, request({deb}));
  fs::remove(t.published("pool/main/h/hello/hello_1.0_all.deb"));
  AddResult again = add_ok(repo, request({deb}));
  CHECK(again.already_listed.size() == 1);
  CHECK(read(t.published("pool/main/h/hello/hello_1.0_all.deb")) == read(deb));
}

TEST_CASE("repo: a package known under another component keeps its one pool file", "[repo]") {
  TestRepo t;
  fs::path deb = t.deb("hello", "1.0");
  Repository repo = t.open();
  add_ok(repo, request({deb}));
  AddResult other = add_ok(repo, request({deb}, "stable", "contrib"));
  CHECK(other.added.size() == 1);
  CHECK(t.pool_files() == std::vector<std::string>{"pool/main/h/hello/hello_1.0_all.deb"});
  std::string stanza = stanza_of(packages_index(t, "stable", "contrib"), "hello", "1.0");
  CHECK(stanza.find("Filename: pool/main/h/hello/hello_1.0_all.deb\n") != std::string::npos);
  CHECK_FALSE(fs::exists(t.published("pool/contrib")));
}

TEST_CASE("repo: a pool file no database row names is replaced", "[repo]") {
  TestRepo t;
  // What an add interrupted between the pool and the commit leaves.
  write(t.published("pool/main/h/hello/hello_1.0_all.deb"), "half a package");
  fs::path deb = t.deb("hello", "1.0");
  Repository repo = t.open();
  add_ok(repo, request({deb}));
  CHECK(read(t.published("pool/main/h/hello/hello_1.0_all.deb")) == read(deb));
}

TEST_CASE("repo: retention keeps the newest versions in dpkg's order", "[repo]") {
  TestRepo t("[suites.stable]\nretention = 2\n");
  Repository repo = t.open();
  add_ok(repo, request({t.deb("hello", "1.9"), t.deb("hello", "1.10")}));
  add_ok(repo, request({t.deb("hello", "1.9", "amd64"), t.deb("hello", "1.2", "amd64")}));
  AddResult result = add_ok(repo, request({t.deb("hello", "1.2")}));
  // 1.2 is older than both kept versions: it goes straight out again.
  REQUIRE(result.pruned.size() == 1);
  CHECK(result.pruned[0].version == "1.2");
  AddResult newer = add_ok(repo, request({t.deb("hello", "2.0~rc1")}));
  REQUIRE(newer.pruned.size() == 1);
  CHECK(newer.pruned[0].version == "1.9");
  CHECK(newer.pruned[0].architecture == "all");
  CHECK(rows(t.list()) ==
        std::vector<std::string>{"hello 1.2 amd64 stable main", "hello 1.9 amd64 stable main",
                                 "hello 1.10 all stable main", "hello 2.0~rc1 all stable main"});
  // Pruned versions leave the suite, not the pool.
  CHECK(fs::exists(t.published("pool/main/h/hello/hello_1.9_all.deb")));
  CHECK(stanza_of(packages_index(t, "stable"), "hello", "1.9").find("amd64") != std::string::npos);

  // Another suite has its own setting: the default keeps 10.
  add_ok(repo, request({t.path("debs")}, "testing"));
  CHECK(t.list("testing").size() == 6);
}

TEST_CASE("repo: retention after a bulk add prunes only the crowded groups", "[repo]") {
  // More groups than retention checks one by one: the suite is scanned for
  // the groups over the limit instead, with the same outcome.
  TestRepo t("[suites.stable]\nretention = 1\n");
  Repository repo = t.open();
  add_ok(repo, request({t.deb("crowded", "1.0", "all", "payload", "first")}));
  for (int i = 0; i < 70; ++i) {
    t.deb(fmt::format("single{}", i), "1.0", "all", "payload", "bulk");
  }
  t.deb("crowded", "2.0", "all", "payload", "bulk");
  AddResult result = add_ok(repo, request({t.path("bulk")}));
  CHECK(result.added.size() == 71);
  REQUIRE(result.pruned.size() == 1);
  CHECK(result.pruned[0].name == "crowded");
  CHECK(result.pruned[0].version == "1.0");
  CHECK(t.list("stable").size() == 71);
}

TEST_CASE("repo: retention 0 keeps every version", "[repo]") {
  TestRepo t("[suites.stable]\nretention = 0\n");
  Repository repo = t.open();
  std::vector<fs::path> debs;
  for (int i = 1; i <= 12; ++i) {
    debs.push_back(t.deb("hello", fmt::format("1.{}", i)));
  }
  AddResult result = add_ok(repo, request(debs));
  CHECK(result.pruned.empty());
  CHECK(t.list().size() == 12);
}

TEST_CASE("repo: the default retention keeps 10 versions", "[repo]") {
  TestRepo t;
  Repository repo = t.open();
  std::vector<fs::path> debs;
  for (int i = 1; i <= 12; ++i) {
    debs.push_back(t.deb("hello", fmt::format("1.{}", i)));
  }
  AddResult result = add_ok(repo, request(debs));
  CHECK(result.pruned.size() == 2);
  auto listed = t.list();
  REQUIRE(listed.size() == 10);
  CHECK(listed.front().version == "1.3");
  CHECK(listed.back().version == "1.12");
}

TEST_CASE("repo: remove takes a package or one version out of a suite", "[repo]") {
  TestRepo t;
  Repository repo = t.open();
  add_ok(repo, request({t.deb("hello", "1.0"), t.deb("hello", "2.0"),
                        t.deb("hello", "2.0", "amd64"), t.deb("other", "1.0")}));
  add_ok(repo, request({t.deb("hello", "1.0")}, "testing"));

  auto removed = repo.remove("stable", {PackageSpec{"hello", "2.0"}});
  REQUIRE(removed);
  CHECK(removed->removed.size() == 2); // every architecture
  CHECK(rows(t.list("stable")) ==
        std::vector<std::string>{"hello 1.0 all stable main", "other 1.0 all stable main"});
  CHECK(stanza_of(packages_index(t, "stable"), "hello", "2.0").empty());

  auto none =
      repo.remove("stable", {PackageSpec{"other", std::nullopt}, PackageSpec{"hello", "3.0"}});
  REQUIRE_FALSE(none);
  CHECK(none.error().message() == "no package hello=3.0 in suite stable");
  CHECK(t.list("stable").size() == 2); // "other" stayed too

  auto all = repo.remove("stable", {PackageSpec{"hello", std::nullopt}});
  REQUIRE(all);
  CHECK(rows(t.list("stable")) == std::vector<std::string>{"other 1.0 all stable main"});
  // Other suites are untouched.
  CHECK(t.list("testing").size() == 1);
  auto unknown = repo.remove("stable", {PackageSpec{"nothing", std::nullopt}});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message() == "no package nothing in suite stable");
}

TEST_CASE("repo: promote lists the same file in another suite", "[repo]") {
  TestRepo t;
  Repository repo = t.open();
  add_ok(repo, request({t.deb("hello", "1.0", "amd64"), t.deb("hello", "1.0", "arm64"),
                        t.deb("hello", "2.0", "amd64")},
                       "testing", "apps"));
  auto promoted = repo.promote(PackageSpec{"hello", "1.0"}, "testing", "stable");
  REQUIRE(promoted);
  CHECK(promoted->promoted.size() == 2);
  REQUIRE(promoted->published.size() == 1);
  CHECK(promoted->published[0].suite == "stable");
  CHECK(rows(t.list("stable")) ==
        std::vector<std::string>{"hello 1.0 amd64 stable apps", "hello 1.0 arm64 stable apps"});
  // Same pool file, same hashes: the stanzas are identical.
  std::string from = stanza_of(packages_index(t, "testing", "apps"), "hello", "1.0");
  std::string to = stanza_of(packages_index(t, "stable", "apps"), "hello", "1.0");
  CHECK_FALSE(from.empty());
  CHECK(from == to);
  CHECK(to.find("Filename: pool/apps/h/hello/hello_1.0_amd64.deb\n") != std::string::npos);
  CHECK(t.pool_files().size() == 3);

  auto again = repo.promote(PackageSpec{"hello", "1.0"}, "testing", "stable");
  REQUIRE(again);
  CHECK(again->promoted.empty());
  CHECK(again->already_listed.size() == 2);
  CHECK(again->published.empty());

  auto missing = repo.promote(PackageSpec{"hello", "3.0"}, "testing", "stable");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message() == "no package hello=3.0 in suite testing");
  auto no_version = repo.promote(PackageSpec{"hello", std::nullopt}, "testing", "stable");
  REQUIRE_FALSE(no_version);
  auto same = repo.promote(PackageSpec{"hello", "1.0"}, "testing", "testing");
  REQUIRE_FALSE(same);
}

TEST_CASE("repo: suite settings limit architectures and components", "[repo]") {
  TestRepo t("[suites.stable]\narchitectures = [\"amd64\"]\ncomponents = [\"main\"]\n");
  Repository repo = t.open();
  std::string arch = add_error(repo, request({t.deb("hello", "1.0", "arm64")}));
  CHECK(arch.find("architecture arm64 is not one of suite stable's architectures (amd64)") !=
        std::string::npos);
  std::string component =
      add_error(repo, request({t.deb("hello", "1.0", "amd64")}, "stable", "contrib"));
  CHECK(component == "component contrib is not one of suite stable's components (main)");
  add_ok(repo, request({t.deb("hello", "1.0", "amd64"), t.deb("tool", "1.0", "all")}));
  CHECK(t.list().size() == 2);
  CHECK(fs::exists(t.published("dists/stable/main/binary-amd64/Packages")));
  CHECK_FALSE(fs::exists(t.published("dists/stable/main/binary-arm64")));
  CHECK_FALSE(add_error(repo, request({t.deb("xy", "1")}, "../evil")).empty());
}

TEST_CASE("repo: gc removes unlisted pool files once no generation names them", "[repo]") {
  TestRepo t("[suites.stable]\nby_hash_keep = 2\n");
  Repository repo = t.open();
  add_ok(repo, request({t.deb("hello", "1.0"), t.deb("hello", "2.0")}));
  write(t.published("pool/main/s/stray/stray_1_all.deb"), "left by a crash");
  write(t.published("pool/main/h/hello/hello_3.0_all.deb.tmp.123"), "left by a crash");
  REQUIRE(repo.remove("stable", {PackageSpec{"hello", "1.0"}}));

  auto first = repo.gc();
  REQUIRE(first);
  // The stray file goes; hello 1.0 stays, since the kept previous
  // generation still names it.
  CHECK(first->removed_files ==
        std::vector<std::string>{"pool/main/h/hello/hello_3.0_all.deb.tmp.123",
                                 "pool/main/s/stray/stray_1_all.deb"});
  CHECK(fs::exists(t.published("pool/main/h/hello/hello_1.0_all.deb")));
  CHECK(first->forgotten_packages == 0);

  // Publishing again retires the generation that named it.
  for (int i = 0; i < 3; ++i) {
    REQUIRE(repo.publish("stable"));
  }
  auto second = repo.gc();
  REQUIRE(second);
  CHECK(second->removed_files == std::vector<std::string>{"pool/main/h/hello/hello_1.0_all.deb"});
  CHECK(second->forgotten_packages == 1);
  CHECK(t.pool_files() == std::vector<std::string>{"pool/main/h/hello/hello_2.0_all.deb"});
  // Forgotten, the version can be added again, even as different bytes.
  add_ok(repo, request({t.deb("hello", "1.0", "all", "new bytes", "again")}));
}

TEST_CASE("repo: gc never removes a file a kept generation names", "[repo]") {
  TestRepo t;
  Repository repo = t.open();
  add_ok(repo, request({t.deb("hello", "1.0")}));
  REQUIRE(repo.remove("stable", {PackageSpec{"hello", std::nullopt}}));
  // Nothing lists it, but the previous generation does.
  auto named = aptship::index::published_pool_files(t.data().public_root());
  REQUIRE(named);
  REQUIRE(std::find(named->begin(), named->end(), "pool/main/h/hello/hello_1.0_all.deb") !=
          named->end());
  auto result = repo.gc();
  REQUIRE(result);
  CHECK(result->removed_files.empty());
  CHECK(fs::exists(t.published("pool/main/h/hello/hello_1.0_all.deb")));
}

TEST_CASE("repo: publish refreshes suites, one or all", "[repo]") {
  TestRepo t("[suites.empty]\ndescription = \"nothing yet\"\n");
  Repository repo = t.open();
  add_ok(repo, request({t.deb("hello", "1.0")}));
  uint64_t before = generation(t, "stable");
  auto one = repo.publish("stable");
  REQUIRE(one);
  REQUIRE(one->size() == 1);
  CHECK(generation(t, "stable") == before + 1);
  auto all = repo.publish();
  REQUIRE(all);
  CHECK(all->size() == 2); // the configured suite is published too, empty
  CHECK(fs::exists(t.published("dists/empty/InRelease")));
  auto unknown = repo.publish("nosuch");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message().starts_with("unknown suite nosuch"));
}

TEST_CASE("repo: a suite left unpublished is published by the next operation", "[repo]") {
  TestRepo t;
  {
    Repository repo = t.open();
    add_ok(repo, request({t.deb("hello", "1.0")}));
  }
  uint64_t before = generation(t, "stable");
  {
    // What a crash between the commit and the publish leaves.
    auto db = Database::open(t.data().db());
    REQUIRE(db);
    auto tx = db->begin();
    REQUIRE(tx);
    auto rowsb = db->memberships("stable");
    REQUIRE(rowsb);
    REQUIRE(db->remove_membership("stable", "main", (*rowsb)[0].package_id));
    REQUIRE(db->mark_dirty("stable"));
    REQUIRE(tx->commit());
  }
  CHECK_FALSE(stanza_of(packages_index(t, "stable"), "hello", "1.0").empty());
  Repository repo = t.open();
  REQUIRE(repo.caught_up().size() == 1);
  CHECK(repo.caught_up()[0].suite == "stable");
  CHECK(generation(t, "stable") == before + 1);
  CHECK(stanza_of(packages_index(t, "stable"), "hello", "1.0").empty());
  auto dirty = repo.database().dirty_suites();
  REQUIRE(dirty);
  CHECK(dirty->empty());
}

TEST_CASE("repo: a publish that fails after the commit is caught up later", "[repo]") {
  TestRepo t;
  {
    Repository repo = t.open();
    add_ok(repo, request({t.deb("hello", "1.0")}));
  }
  // Signing fails while the secret key is away.
  fs::path keys = t.data().gnupg() / "private-keys-v1.d";
  fs::path away = t.path("private-keys-away");
  (void)aptship::run({"gpgconf", "--homedir", t.data().gnupg().string(), "--kill", "all"});
  fs::rename(keys, away);
  {
    Repository repo = t.open();
    auto result = repo.add(request({t.deb("world", "1.0")}));
    REQUIRE_FALSE(result);
    CHECK(result.error().message().starts_with("the change is recorded, but not yet published"));
    auto dirty = repo.database().dirty_suites();
    REQUIRE(dirty);
    CHECK(*dirty == std::vector<std::string>{"stable"});
  }
  CHECK(stanza_of(packages_index(t, "stable"), "world", "1.0").empty());
  CHECK(t.list().size() == 2); // recorded

  // While signing still fails, every operation says what is pending.
  RepoOptions options;
  auto blocked = Repository::open(t.data(), options);
  REQUIRE_FALSE(blocked);
  CHECK(blocked.error().message().starts_with(
      "publishing what an earlier operation left unpublished: publishing suite stable: "));

  (void)aptship::run({"gpgconf", "--homedir", t.data().gnupg().string(), "--kill", "all"});
  fs::rename(away, keys);
  Repository repo = t.open();
  REQUIRE(repo.caught_up().size() == 1);
  CHECK_FALSE(stanza_of(packages_index(t, "stable"), "world", "1.0").empty());
}

TEST_CASE("repo: an uninitialized data dir is refused without creating anything", "[repo]") {
  ScopedTempDir tmp;
  DataDir data(tmp.path() / "nothing");
  auto repo = Repository::open(data);
  REQUIRE_FALSE(repo);
  CHECK(repo.error().message().find("run 'aptship init' first") != std::string::npos);
  CHECK_FALSE(fs::exists(data.root()));
  auto rows = list_packages(data);
  REQUIRE_FALSE(rows);
}

TEST_CASE("repo: a bad config is reported before anything else", "[repo]") {
  TestRepo t("[suites.stable]\nretension = 3\n");
  auto repo = Repository::open(t.data());
  REQUIRE_FALSE(repo);
  CHECK(repo.error().message().ends_with("aptship.toml: suites.stable.retension: unknown key"));
}

TEST_CASE("repo: the lock makes a second operation wait, then time out", "[repo][lock]") {
  TestRepo t;
  auto held = RepoLock::acquire(t.data().lock());
  REQUIRE(held);
  RepoOptions options;
  options.lock.timeout = std::chrono::milliseconds(200);
  std::vector<pid_t> announced;
  options.lock.on_wait = [&](pid_t pid) { announced.push_back(pid); };
  auto start = std::chrono::steady_clock::now();
  auto repo = Repository::open(t.data(), options);
  REQUIRE_FALSE(repo);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(200));
  CHECK(repo.error().message() ==
        fmt::format("timed out after 0.2 s waiting for the repository lock held by pid {}",
                    ::getpid()));
  CHECK(announced == std::vector<pid_t>{::getpid()});
}

TEST_CASE("repo: the lock is free again once its holder is gone", "[repo][lock]") {
  TestRepo t;
  {
    auto held = RepoLock::acquire(t.data().lock());
    REQUIRE(held);
  }
  RepoOptions options;
  options.lock.timeout = std::chrono::milliseconds(0);
  auto repo = Repository::open(t.data(), options);
  CHECK(repo);
}

TEST_CASE("repo: two processes adding at once both succeed", "[repo][lock]") {
  TestRepo t;
  std::vector<fs::path> debs = {t.deb("alpha", "1.0"), t.deb("beta", "1.0"), t.deb("gamma", "1.0"),
                                t.deb("delta", "1.0")};
  std::vector<pid_t> children;
  for (const fs::path& deb : debs) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      RepoOptions options;
      options.lock.timeout = std::chrono::seconds(60);
      auto repo = Repository::open(t.data(), options);
      bool ok = repo && repo->add(request({deb}));
      ::_exit(ok ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(rows(t.list()) ==
        std::vector<std::string>{"alpha 1.0 all stable main", "beta 1.0 all stable main",
                                 "delta 1.0 all stable main", "gamma 1.0 all stable main"});
  std::string index = packages_index(t, "stable");
  for (const char* name : {"alpha", "beta", "gamma", "delta"}) {
    CHECK_FALSE(stanza_of(index, name, "1.0").empty());
  }
}

TEST_CASE("repo: the lock timeout comes from APTSHIP_LOCK_TIMEOUT", "[lock]") {
  using aptship::index::lock_timeout_from_env;
  ::unsetenv("APTSHIP_LOCK_TIMEOUT");
  CHECK(lock_timeout_from_env() == std::chrono::milliseconds(60'000));
  ::setenv("APTSHIP_LOCK_TIMEOUT", "2", 1);
  CHECK(lock_timeout_from_env() == std::chrono::milliseconds(2000));
  ::setenv("APTSHIP_LOCK_TIMEOUT", "0.25", 1);
  CHECK(lock_timeout_from_env() == std::chrono::milliseconds(250));
  ::setenv("APTSHIP_LOCK_TIMEOUT", "soon", 1);
  CHECK_FALSE(lock_timeout_from_env());
  ::setenv("APTSHIP_LOCK_TIMEOUT", "-1", 1);
  CHECK_FALSE(lock_timeout_from_env());
  ::unsetenv("APTSHIP_LOCK_TIMEOUT");
  CHECK(aptship::index::format_seconds(std::chrono::milliseconds(60'000)) == "60 s");
  CHECK(aptship::index::format_seconds(std::chrono::milliseconds(1500)) == "1.5 s");
}

TEST_CASE("repo: package specs are NAME or NAME=VERSION", "[repo]") {
  auto plain = aptship::index::parse_package_spec("hello");
  REQUIRE(plain);
  CHECK(plain->name == "hello");
  CHECK_FALSE(plain->version);
  auto versioned = aptship::index::parse_package_spec("hello=1:2.0-1");
  REQUIRE(versioned);
  CHECK(versioned->version == "1:2.0-1");
  CHECK_FALSE(aptship::index::parse_package_spec("Hello"));
  CHECK_FALSE(aptship::index::parse_package_spec("hello="));
  CHECK_FALSE(aptship::index::parse_package_spec("=1.0"));
}

TEST_CASE("repo: the list is ordered by name and dpkg version", "[repo]") {
  TestRepo t;
  Repository repo = t.open();
  add_ok(repo, request({t.deb("zeta", "1.0"), t.deb("alpha", "1.10"), t.deb("alpha", "1.9"),
                        t.deb("alpha", "1.9~beta")}));
  add_ok(repo, request({t.deb("alpha", "1.9")}, "testing"));
  CHECK(rows(t.list()) ==
        std::vector<std::string>{"alpha 1.9~beta all stable main", "alpha 1.9 all stable main",
                                 "alpha 1.9 all testing main", "alpha 1.10 all stable main",
                                 "zeta 1.0 all stable main"});
  CHECK(t.list("testing").size() == 1);
  CHECK(t.list("nosuch").empty());
}
