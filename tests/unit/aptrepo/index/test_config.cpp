#include "aptrepo/index/config.hpp"

#include <string>

#include <catch2/catch.hpp>

#include "testutil.hpp"

using aptship::index::check_name;
using aptship::index::Config;
using aptship::index::IndexCompression;
using aptship::index::ListedPackage;
using aptship::index::load_config;
using aptship::index::parse_config;
using aptship::index::suite_settings;
using aptship::test::ScopedTempDir;

namespace {

// The error message of parsing TEXT, which must fail.
std::string failure(const std::string& text) {
  auto config = parse_config(text, "aptship.toml");
  REQUIRE_FALSE(config);
  return config.error().message();
}

ListedPackage listed(std::string name, std::string arch, std::string component) {
  return ListedPackage{std::move(name), "1.0", std::move(arch), std::move(component), ""};
}

} // namespace

TEST_CASE("config: the file aptship init writes is read", "[config]") {
  auto config = parse_config(R"(# aptship configuration (TOML).

[repository]
origin = "aptship"
label = "aptship"

[serve]
listen = "127.0.0.1:8080"
)",
                             "aptship.toml");
  REQUIRE(config);
  CHECK(config->origin == "aptship");
  CHECK(config->label == "aptship");
  CHECK(config->serve.listen == "127.0.0.1:8080");
  CHECK(config->suites.empty());
}

TEST_CASE("config: a missing file gives the defaults", "[config]") {
  ScopedTempDir tmp;
  auto config = load_config("aptship.toml");
  REQUIRE(config);
  CHECK(config->origin == "aptship");
  CHECK(config->suite("stable").retention == 10);
  CHECK(config->suite("stable").architectures.empty());
}

TEST_CASE("config: suite tables set every publishing setting", "[config]") {
  auto config = parse_config(R"(
[repository]
origin = "Example Corp"
label = "apps"

[serve]
listen = "0.0.0.0:80"
trusted_proxies = ["10.0.0.1"]

[suites.stable]
codename = "prod"
description = "what runs in production"
architectures = ["amd64", "arm64"]
components = ["main", "contrib"]
retention = 3
valid_days = 2
compressions = ["xz", "zst"]
by_hash_keep = 5

[suites.testing]
retention = 0
)",
                             "aptship.toml");
  REQUIRE(config);
  CHECK(config->origin == "Example Corp");
  CHECK(config->label == "apps");
  CHECK(config->serve.listen == "0.0.0.0:80");
  CHECK(config->serve.trusted_proxies == std::vector<std::string>{"10.0.0.1"});
  const auto& stable = config->suite("stable");
  CHECK(stable.codename == "prod");
  CHECK(stable.description == "what runs in production");
  CHECK(stable.architectures == std::vector<std::string>{"amd64", "arm64"});
  CHECK(stable.components == std::vector<std::string>{"main", "contrib"});
  CHECK(stable.retention == 3);
  CHECK(stable.valid_for == std::chrono::seconds(2 * 86400));
  CHECK(stable.compressions ==
        std::vector<IndexCompression>{IndexCompression::xz, IndexCompression::zst});
  CHECK(stable.by_hash_keep == 5U);
  CHECK(config->suite("testing").retention == 0);
  // A suite without a table gets the defaults.
  CHECK(config->suite("other").retention == 10);
  CHECK_FALSE(config->suite("other").codename);
}

TEST_CASE("config: an unknown key is an error naming its path", "[config]") {
  CHECK(failure("[suites.stable]\nretension = 3\n") ==
        "aptship.toml: suites.stable.retension: unknown key");
  CHECK(failure("[repository]\norign = \"x\"\n") == "aptship.toml: repository.orign: unknown key");
  CHECK(failure("[serv]\nlisten = \"x\"\n") == "aptship.toml: serv: unknown key");
  CHECK(failure("[suites.stable]\n\"odd key\" = 1\n") ==
        "aptship.toml: suites.stable.\"odd key\": unknown key");
}

TEST_CASE("config: every problem is reported at once", "[config]") {
  std::string message = failure(R"(
[repository]
origin = 3

[suites.stable]
retention = -1
valid_days = 0
compressions = ["gz", "bz2"]
architectures = ["amd64", "all", "amd64"]
components = ["main/sub"]
by_hash_keep = "three"
colour = "blue"

[suites."bad/name"]
)");
  CHECK(message.find('\n') == std::string::npos);
  CHECK(message.starts_with("aptship.toml: "));
  for (const char* part :
       {"repository.origin: expected a string", "suites.stable.retention: -1 is out of range",
        "suites.stable.valid_days: 0 is out of range",
        "suites.stable.compressions[1]: unknown compression 'bz2'",
        "suites.stable.architectures[1]: 'all' is not an index architecture",
        "suites.stable.architectures[2]: 'amd64' is listed twice",
        "suites.stable.components[0]: component name 'main/sub'",
        "suites.stable.by_hash_keep: expected an integer", "suites.stable.colour: unknown key",
        "suites.\"bad/name\": suite name"}) {
    INFO(part);
    CHECK(message.find(part) != std::string::npos);
  }
}

TEST_CASE("config: wrong shapes are errors", "[config]") {
  CHECK(failure("repository = \"x\"\n") == "aptship.toml: repository: expected a table");
  CHECK(failure("[suites]\nstable = 3\n") == "aptship.toml: suites.stable: expected a table");
  CHECK(failure("[suites.stable]\narchitectures = \"amd64\"\n") ==
        "aptship.toml: suites.stable.architectures: expected an array of strings");
  CHECK(failure("[suites.stable]\ndescription = \"two\\nlines\"\n") ==
        "aptship.toml: suites.stable.description: must be one line without control characters");
  CHECK(failure("[repository]\nlabel = \"\"\n") ==
        "aptship.toml: repository.label: must not be empty");
}

TEST_CASE("config: a syntax error names the line and column", "[config]") {
  std::string message = failure("[repository]\norigin = \"unterminated\n");
  CHECK(message.starts_with("aptship.toml: line 2, column "));
  CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("config: names that become paths are checked", "[config]") {
  CHECK(check_name("suite", "stable"));
  CHECK(check_name("suite", "bookworm-updates"));
  CHECK(check_name("component", "non-free+firmware_1.0"));
  CHECK_FALSE(check_name("suite", ""));
  CHECK_FALSE(check_name("suite", ".."));
  CHECK_FALSE(check_name("suite", ".hidden"));
  CHECK_FALSE(check_name("suite", "-rf"));
  CHECK_FALSE(check_name("suite", "a/b"));
  CHECK_FALSE(check_name("suite", "a b"));
  CHECK_FALSE(check_name("suite", std::string(101, 'a')));
  auto error = check_name("suite", "a\nb");
  REQUIRE_FALSE(error);
  CHECK(error.error().message().find('\n') == std::string::npos);
}

TEST_CASE("config: publisher settings derive what the suite table leaves out", "[config]") {
  Config config;
  config.origin = "Org";
  config.label = "Lab";
  std::vector<ListedPackage> packages = {listed("a", "all", "main"), listed("b", "arm64", "main"),
                                         listed("c", "amd64", "contrib")};
  auto settings = suite_settings(config, "stable", packages);
  CHECK(settings.suite == "stable");
  CHECK(settings.codename == "stable");
  CHECK(settings.origin == "Org");
  CHECK(settings.label == "Lab");
  CHECK(settings.architectures == std::vector<std::string>{"amd64", "arm64"});
  CHECK(settings.components == std::vector<std::string>{"contrib", "main"});
  aptship::index::SuiteSettings defaults;
  CHECK(settings.compressions == defaults.compressions);
  CHECK(settings.valid_for == defaults.valid_for);
  CHECK(settings.by_hash_keep == defaults.by_hash_keep);

  // An empty suite, or one of 'all' packages only, still has an index.
  auto empty = suite_settings(config, "stable", {});
  CHECK(empty.architectures == std::vector<std::string>{"amd64"});
  CHECK(empty.components == std::vector<std::string>{"main"});
  auto all_only = suite_settings(config, "stable", {listed("a", "all", "main")});
  CHECK(all_only.architectures == std::vector<std::string>{"amd64"});
}

TEST_CASE("config: configured lists replace the derived ones", "[config]") {
  auto config = parse_config(R"(
[suites.stable]
codename = "prod"
architectures = ["riscv64"]
components = ["apps"]
valid_days = 30
compressions = []
by_hash_keep = 1
)",
                             "aptship.toml");
  REQUIRE(config);
  auto settings = suite_settings(*config, "stable", {listed("b", "amd64", "main")});
  CHECK(settings.codename == "prod");
  CHECK(settings.architectures == std::vector<std::string>{"riscv64"});
  CHECK(settings.components == std::vector<std::string>{"apps"});
  CHECK(settings.valid_for == std::chrono::hours(24 * 30));
  CHECK(settings.compressions.empty());
  CHECK(settings.by_hash_keep == 1);
}
