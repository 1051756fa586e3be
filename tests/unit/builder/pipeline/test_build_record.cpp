#include <catch2/catch.hpp>

#include "builder/pipeline/build_record.hpp"
#include "testutil.hpp"

using aptship::DataDir;
using aptship::pipeline::append_record;
using aptship::pipeline::BuildRecord;
using aptship::pipeline::next_build_number;
using aptship::pipeline::read_records;
using aptship::test::ScopedTempDir;

TEST_CASE("build_record: records append, read back and number builds") {
  ScopedTempDir tmp;
  const DataDir data = DataDir::resolve((tmp.path() / "data").string());
  auto first = next_build_number(data, "hello");
  REQUIRE(first);
  CHECK(*first == 1);
  BuildRecord r;
  r.app = "hello";
  r.number = 1;
  r.commit = "abc";
  r.pusher = "alice";
  r.suite = "staging";
  r.version = "0.1.0+b1.gabc";
  r.result = "published";
  r.seconds = 1.5;
  r.phases = {{"build", 1.0}, {"pack", 0.25}};
  REQUIRE(append_record(data, r));
  r.number = 2;
  r.result = "failed: bin/compile exited with status 1";
  REQUIRE(append_record(data, r));
  auto records = read_records(data, "hello");
  REQUIRE(records);
  REQUIRE(records->size() == 2);
  CHECK((*records)[0].pusher == "alice");
  CHECK((*records)[0].phases.at("pack") == 0.25);
  CHECK((*records)[1].result == "failed: bin/compile exited with status 1");
  auto next = next_build_number(data, "hello");
  REQUIRE(next);
  CHECK(*next == 3);
  // Other apps count on their own.
  auto other = next_build_number(data, "other");
  REQUIRE(other);
  CHECK(*other == 1);
}

TEST_CASE("build_record: a last line cut short by a crash is ignored, a bad line is not") {
  ScopedTempDir tmp;
  const DataDir data = DataDir::resolve((tmp.path() / "data").string());
  aptship::test::write("data/builds/hello/builds.jsonl",
                       "{\"app\":\"hello\",\"number\":4}\n{\"app\":\"hel");
  auto next = next_build_number(data, "hello");
  REQUIRE(next);
  CHECK(*next == 5);
  aptship::test::write("data/builds/hello/builds.jsonl", "not json\n");
  auto bad = read_records(data, "hello");
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message(), Catch::Contains("builds.jsonl:1"));
}
