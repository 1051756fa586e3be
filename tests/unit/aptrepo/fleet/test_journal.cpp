#include <catch2/catch.hpp>

#include "aptrepo/fleet/journal.hpp"
#include "testutil.hpp"

using namespace aptship;
using namespace aptship::fleet;

TEST_CASE("journal: a run read back, resumed and ended", "[journal]") {
  aptship::test::ScopedTempDir dir;
  auto path = dir.path() / "fleet" / "hello.journal";
  auto empty = read_journal(path);
  REQUIRE(empty);
  CHECK(empty->empty);
  {
    auto journal = Journal::open(path, "run1");
    REQUIRE(journal);
    REQUIRE(journal->start("hello", RolloutMode::upgrade, "2.0",
                           {{"web1", {"1.0", "2.0", ""}}, {"web2", {"1.0", "2.0", ""}}},
                           Journal::Resume::no));
    REQUIRE(journal->step("web1", host_state::drain));
    REQUIRE(journal->step("web1", host_state::maint));
    REQUIRE(journal->step("web1", host_state::done));
    REQUIRE(journal->step("web2", host_state::drain));
  }
  auto state = read_journal(path);
  REQUIRE(state);
  CHECK_FALSE(state->empty);
  CHECK(state->run == "run1");
  CHECK(state->app == "hello");
  CHECK(state->version == "2.0");
  CHECK_FALSE(state->ended);
  CHECK(state->hosts.at("web1").state == "done");
  CHECK(state->hosts.at("web2").state == "drain");
  CHECK(out_of_service(state->hosts.at("web2").state));
  CHECK(state->hosts.at("web2").from == "1.0");

  {
    auto journal = Journal::open(path, "run2");
    REQUIRE(journal);
    // A resume keeps what the first run recorded.
    REQUIRE(journal->start("hello", RolloutMode::upgrade, "2.0", {{"web2", {"1.0", "2.0", ""}}},
                           Journal::Resume::yes));
    REQUIRE(journal->step("web2", host_state::done));
    REQUIRE(journal->end("done"));
  }
  state = read_journal(path);
  REQUIRE(state);
  CHECK(state->run == "run2");
  CHECK(state->ended);
  CHECK(state->result == "done");
  CHECK(state->hosts.at("web1").state == "done");
  CHECK(state->hosts.at("web2").state == "done");

  {
    auto journal = Journal::open(path, "run3");
    REQUIRE(journal);
    REQUIRE(journal->start("hello", RolloutMode::rollback, "", {{"web1", {"2.0", "1.0", ""}}},
                           Journal::Resume::no));
  }
  state = read_journal(path);
  REQUIRE(state);
  CHECK(state->mode == RolloutMode::rollback);
  CHECK(state->hosts.size() == 1); // a new run starts afresh
  CHECK(state->hosts.at("web1").to == "1.0");
}

TEST_CASE("journal: a torn last line is ignored, a bad middle line is an error", "[journal]") {
  aptship::test::ScopedTempDir dir;
  std::string start = R"({"run":"r","event":"start","app":"hello","mode":"upgrade","version":"2",)"
                      R"("hosts":{"web1":{"from":"1","to":"2"}}})";
  aptship::test::write(
      "torn.journal", start + "\n" + R"({"run":"r","event":"step","host":"web1","state":"maint"})" +
                          "\n{\"run\":\"r\",\"ev");
  auto torn = read_journal("torn.journal");
  REQUIRE(torn);
  CHECK(torn->hosts.at("web1").state == "maint");
  aptship::test::write("bad.journal", start + "\nnot json\n" + start + "\n");
  auto bad = read_journal("bad.journal");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("bad.journal:2: not a JSON object") != std::string::npos);
}
