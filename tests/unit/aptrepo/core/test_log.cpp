#include <catch2/catch.hpp>

#include "aptrepo/core/log.hpp"

using aptship::log::Level;

namespace {

// Restores the global level after a case.
class ScopedLevel {
public:
  ScopedLevel() : m_saved(aptship::log::level()) {}
  ScopedLevel(const ScopedLevel&) = delete;
  ScopedLevel& operator=(const ScopedLevel&) = delete;
  ~ScopedLevel() { aptship::log::set_level(m_saved); }

private:
  Level m_saved;
};

} // namespace

TEST_CASE("parse_level accepts the five level names", "[log]") {
  Level level = Level::info;
  REQUIRE(aptship::log::parse_level("debug", level));
  CHECK(level == Level::debug);
  REQUIRE(aptship::log::parse_level("info", level));
  CHECK(level == Level::info);
  REQUIRE(aptship::log::parse_level("warning", level));
  CHECK(level == Level::warning);
  REQUIRE(aptship::log::parse_level("error", level));
  CHECK(level == Level::error);
  REQUIRE(aptship::log::parse_level("off", level));
  CHECK(level == Level::off);
}

TEST_CASE("parse_level rejects other text and leaves the output alone", "[log]") {
  Level level = Level::warning;
  CHECK_FALSE(aptship::log::parse_level("", level));
  CHECK_FALSE(aptship::log::parse_level("DEBUG", level));
  CHECK_FALSE(aptship::log::parse_level("warn", level));
  CHECK_FALSE(aptship::log::parse_level("info ", level));
  CHECK(level == Level::warning);
}

TEST_CASE("set_level changes the level that level() reports", "[log]") {
  ScopedLevel restore;
  for (Level l : {Level::debug, Level::info, Level::warning, Level::error, Level::off}) {
    aptship::log::set_level(l);
    CHECK(aptship::log::level() == l);
  }
  // Writing below the level is dropped; at level off nothing is written.
  aptship::log::info("not shown {}", 1);
  aptship::log::write(Level::error, "not shown either");
}
