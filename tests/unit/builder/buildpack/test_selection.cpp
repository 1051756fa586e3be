#include <catch2/catch.hpp>

#include "builder/buildpack/selection.hpp"
#include "testutil.hpp"

using namespace aptship::buildpack;
using aptship::test::ScopedTempDir;
using aptship::test::write;
namespace fs = std::filesystem;

TEST_CASE("detection tries language buildpacks first and procfile last") {
  std::vector<std::string> expected = {"nodejs", "python", "cmake", "static", "procfile"};
  CHECK(detection_order() == expected);
}

TEST_CASE(".buildpacks skips blank lines and comments") {
  auto specs =
      parse_buildpacks_file("# first\n\n  nodejs  \r\n#python\nfile:///x.git#v1\n   \n/srv/bp");
  std::vector<std::string> expected = {"nodejs", "file:///x.git#v1", "/srv/bp"};
  CHECK(specs == expected);
}

TEST_CASE("app.json buildpacks are objects with a url") {
  auto specs = parse_app_json_buildpacks(
      R"({"name":"x","buildpacks":[{"url":"heroku/nodejs"},{"url":" https://e.org/b.git "}]})");
  REQUIRE(specs);
  std::vector<std::string> expected = {"heroku/nodejs", "https://e.org/b.git"};
  CHECK(*specs == expected);

  auto none = parse_app_json_buildpacks(R"({"name":"x"})");
  REQUIRE(none);
  CHECK(none->empty());

  auto bad_entry = parse_app_json_buildpacks(R"({"buildpacks":["python"]})");
  REQUIRE(!bad_entry);
  CHECK(bad_entry.error().message() ==
        "app.json: buildpacks[0] is not an object with a \"url\" string");
  auto bad_json = parse_app_json_buildpacks("{nope");
  REQUIRE(!bad_json);
  CHECK(bad_json.error().message() == "app.json is not valid JSON");
  CHECK(!parse_app_json_buildpacks(R"({"buildpacks":{"url":"x"}})"));
  CHECK(!parse_app_json_buildpacks("[]"));
}

TEST_CASE("selection order: BUILDPACK_URL, .buildpacks, app.json, detection") {
  ScopedTempDir tmp;
  fs::path src = tmp.path() / "src";
  fs::create_directories(src);

  auto detection = select_buildpacks({}, src);
  REQUIRE(detection);
  CHECK(detection->source == SelectionSource::detection);
  CHECK(detection->specs.empty());

  write(src / "app.json", R"({"buildpacks":[{"url":"python"}]})");
  auto from_json = select_buildpacks({}, src);
  REQUIRE(from_json);
  CHECK(from_json->source == SelectionSource::app_json);
  CHECK(from_json->specs == std::vector<std::string>{"python"});

  write(src / ".buildpacks", "nodejs\ncmake\n");
  auto from_file = select_buildpacks({}, src);
  REQUIRE(from_file);
  CHECK(from_file->source == SelectionSource::buildpacks_file);
  CHECK(from_file->specs == std::vector<std::string>{"nodejs", "cmake"});

  auto from_env = select_buildpacks({{"BUILDPACK_URL", "file:///bp.git"}}, src);
  REQUIRE(from_env);
  CHECK(from_env->source == SelectionSource::buildpack_url);
  CHECK(from_env->specs == std::vector<std::string>{"file:///bp.git"});

  // An empty choice falls through to the next source.
  write(src / ".buildpacks", "# nothing yet\n");
  auto empty_file = select_buildpacks({{"BUILDPACK_URL", " "}}, src);
  REQUIRE(empty_file);
  CHECK(empty_file->source == SelectionSource::app_json);
}

TEST_CASE("a broken app.json is an error when it is consulted") {
  ScopedTempDir tmp;
  write(tmp.path() / "app.json", "{");
  auto selected = select_buildpacks({}, tmp.path());
  REQUIRE(!selected);
  CHECK(selected.error().message() == "app.json is not valid JSON");
}

TEST_CASE("specs resolve to built-ins, directories and git URLs") {
  ScopedTempDir tmp;
  fs::path builtin = tmp.path() / "builtin";
  fs::create_directories(builtin / "python");
  fs::create_directories(tmp.path() / "local");

  auto python = resolve_spec("python", builtin);
  REQUIRE(python);
  CHECK(python->kind == SourceKind::builtin);
  CHECK(python->directory == builtin / "python");
  CHECK(python->name() == "python");

  auto heroku = resolve_spec("heroku/python", builtin);
  REQUIRE(heroku);
  CHECK(heroku->directory == builtin / "python");

  auto local = resolve_spec((tmp.path() / "local").string(), builtin);
  REQUIRE(local);
  CHECK(local->kind == SourceKind::directory);

  auto pinned = resolve_spec("https://example.org/bp.git#v1.2", builtin);
  REQUIRE(pinned);
  CHECK(pinned->kind == SourceKind::git);
  CHECK(pinned->url == "https://example.org/bp.git");
  CHECK(pinned->ref == "v1.2");
  CHECK(pinned->name() == "https://example.org/bp.git#v1.2");

  auto ssh = resolve_spec("git@example.org:team/bp.git", builtin);
  REQUIRE(ssh);
  CHECK(ssh->kind == SourceKind::git);
  CHECK(ssh->ref.empty());

  auto unknown = resolve_spec("ruby", builtin);
  REQUIRE(!unknown);
  CHECK(unknown.error().message() ==
        "unknown buildpack 'ruby': not a built-in, an absolute directory or a git URL");
  CHECK(!resolve_spec("../python", builtin));
  CHECK(!resolve_spec("file:///x.git#", builtin));
  auto missing = resolve_spec("/nonexistent/bp", builtin);
  REQUIRE(!missing);
  CHECK(missing.error().message() == "buildpack /nonexistent/bp: no such directory");
}

TEST_CASE("passwords in buildpack URLs never reach the output") {
  CHECK(redact_url("https://user:t0ken@example.org/bp.git#v1") ==
        "https://user:***@example.org/bp.git#v1");
  CHECK(redact_url("https://t0ken@example.org/bp.git") == "https://t0ken@example.org/bp.git");
  CHECK(redact_url("https://example.org/a:b@c") == "https://example.org/a:b@c");
  CHECK(redact_url("git@example.org:team/bp.git") == "git@example.org:team/bp.git");
  CHECK(redact_url("python") == "python");
  auto spec = resolve_spec("https://me:secret@example.org/bp.git#main", "");
  REQUIRE(spec);
  CHECK(spec->name() == "https://me:***@example.org/bp.git#main");
  CHECK(spec->url == "https://me:secret@example.org/bp.git");
}
