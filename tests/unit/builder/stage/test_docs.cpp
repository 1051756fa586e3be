#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "builder/stage/docs.hpp"
#include "stage_testutil.hpp"
#include "testutil.hpp"

using aptship::SubprocessOptions;
using aptship::stage::DocFile;
using aptship::test::run_ok;
using aptship::test::sample_spec;
using aptship::test::ScopedTempDir;

namespace {

std::string gunzip(const std::string& bytes) {
  SubprocessOptions options;
  options.input = bytes;
  auto result = run_ok({"gzip", "-dc"}, options);
  REQUIRE(result.ok());
  return result.out;
}

} // namespace

TEST_CASE("docs: dpkg-parsechangelog reads the changelog") {
  ScopedTempDir tmp;
  auto spec = sample_spec();
  spec.changes = {"Deploy abc1234 by alice", "Second line"};
  aptship::test::write("changelog", aptship::stage::render_changelog(spec, 1700000000));
  auto result = run_ok({"dpkg-parsechangelog", "-l", "changelog"});
  INFO(result.err);
  REQUIRE(result.ok());
  CHECK_THAT(result.out, Catch::Contains("Source: hello\n"));
  CHECK_THAT(result.out, Catch::Contains("Version: 1.2.0+b42.gabc1234\n"));
  CHECK_THAT(result.out, Catch::Contains("Distribution: unstable\n"));
  CHECK_THAT(result.out, Catch::Contains("Maintainer: Build Bot <bot@example.org>\n"));
  CHECK_THAT(result.out, Catch::Contains("Date: Tue, 14 Nov 2023 22:13:20 +0000\n"));
  CHECK_THAT(result.out, Catch::Contains("Timestamp: 1700000000\n"));
  CHECK_THAT(result.out, Catch::Contains("  * Deploy abc1234 by alice\n"));
  CHECK(result.err.empty());
  spec.changes.clear();
  CHECK_THAT(aptship::stage::render_changelog(spec, 0),
             Catch::Contains("  * Packaged by aptship.\n") &&
                 Catch::Contains("  Thu, 01 Jan 1970 00:00:00 +0000\n"));
}

TEST_CASE("docs: the manual page formats without warnings") {
  ScopedTempDir tmp;
  if (!aptship::test::have("man")) {
    WARN("man is not installed: skipped");
    return;
  }
  auto spec = sample_spec();
  spec.app = "my-app";
  aptship::test::write("my-app.1", aptship::stage::render_manpage(spec));
  SubprocessOptions options;
  options.env = std::map<std::string, std::string>{
      {"PATH", "/usr/bin:/bin"}, {"LC_ALL", "C.UTF-8"}, {"MANWIDTH", "80"}, {"MANROFFSEQ", ""}};
  // lintian's check: groff's warnings about the page.
  auto check =
      run_ok({"man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", "my-app.1"}, options);
  CHECK(check.ok());
  CHECK(check.err.empty());
  auto text = run_ok({"man", "-l", "-P", "cat", "my-app.1"}, options);
  REQUIRE(text.ok());
  for (const char* expected :
       {"my-app - run and configure the my-app application", "config:set key=value",
        "/etc/my-app/env", "Process types: web, worker.", "PORT+N"}) {
    CHECK_THAT(text.out, Catch::Contains(expected));
  }
}

TEST_CASE("docs: every file, compressed reproducibly, changelog named by version kind") {
  ScopedTempDir tmp;
  auto spec = sample_spec();
  auto docs = aptship::stage::render_docs(spec);
  REQUIRE(docs);
  std::vector<std::string> paths;
  for (const DocFile& doc : *docs) {
    paths.push_back(doc.path);
  }
  CHECK(paths == std::vector<std::string>{
                     "usr/share/doc/hello/copyright", "usr/share/doc/hello/changelog.gz",
                     "usr/share/man/man1/hello.1.gz", "usr/share/lintian/overrides/hello"});
  CHECK(gunzip((*docs)[1].bytes) == aptship::stage::render_changelog(spec, *spec.date));
  CHECK(gunzip((*docs)[2].bytes) == aptship::stage::render_manpage(spec));
  auto again = aptship::stage::render_docs(spec);
  REQUIRE(again);
  CHECK((*again)[1].bytes == (*docs)[1].bytes);
  CHECK((*again)[2].bytes == (*docs)[2].bytes);

  spec.version = "1.0-1";
  docs = aptship::stage::render_docs(spec);
  REQUIRE(docs);
  CHECK((*docs)[1].path == "usr/share/doc/hello/changelog.Debian.gz");
}

TEST_CASE("docs: without a date the changelog takes SOURCE_DATE_EPOCH") {
  auto spec = sample_spec();
  spec.date.reset();
  const char* saved = std::getenv("SOURCE_DATE_EPOCH");
  const std::optional<std::string> previous =
      saved != nullptr ? std::optional<std::string>(saved) : std::nullopt;
  REQUIRE(setenv("SOURCE_DATE_EPOCH", "86400", 1) == 0);
  auto docs = aptship::stage::render_docs(spec);
  REQUIRE(setenv("SOURCE_DATE_EPOCH", "yesterday", 1) == 0);
  auto bad = aptship::stage::render_docs(spec);
  REQUIRE((previous ? setenv("SOURCE_DATE_EPOCH", previous->c_str(), 1)
                    : unsetenv("SOURCE_DATE_EPOCH")) == 0);
  REQUIRE(docs);
  CHECK_THAT(gunzip((*docs)[1].bytes), Catch::Contains("Fri, 02 Jan 1970 00:00:00 +0000"));
  CHECK_FALSE(bad);
}

TEST_CASE("docs: the lintian overrides name the app's deliberate choices") {
  const std::string text = aptship::stage::render_lintian_overrides(sample_spec());
  CHECK_THAT(text, Catch::Contains("\nhello: dir-or-file-in-opt\n"));
  CHECK_THAT(text,
             Catch::Contains("\nhello: systemd-service-file-refers-to-unusual-wantedby-target "
                             "hello.target [lib/systemd/system/*]\n"));
  CHECK_THAT(text, Catch::Contains("\nhello: copyright-without-copyright-notice\n"));
}
