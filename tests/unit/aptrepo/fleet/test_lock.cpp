#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include "aptrepo/fleet/lock.hpp"
#include "testutil.hpp"

using namespace aptship;
using namespace aptship::fleet;

TEST_CASE("rollout lock: a second rollout is refused and told the owner", "[lock]") {
  aptship::test::ScopedTempDir dir;
  auto path = dir.path() / "fleet" / "hello.lock";
  auto first = RolloutLock::try_acquire(path);
  REQUIRE(first);
  REQUIRE(first->lock);
  CHECK_FALSE(first->stale);
  CHECK(aptship::test::read(path).find(fmt::format("\"pid\":{}", ::getpid())) != std::string::npos);

  auto second = RolloutLock::try_acquire(path);
  REQUIRE(second);
  CHECK_FALSE(second->lock);
  CHECK(second->holder.pid == ::getpid());
  CHECK(second->holder.host == this_host_name());
  CHECK(second->holder.describe().starts_with(fmt::format("pid {} on ", ::getpid())));

  first->lock.reset();
  CHECK(aptship::test::read(path).empty()); // a clean release
  auto third = RolloutLock::try_acquire(path);
  REQUIRE(third);
  CHECK(third->lock);
  CHECK_FALSE(third->stale);
}

TEST_CASE("rollout lock: the owner of a run that died is reported and replaced", "[lock]") {
  aptship::test::ScopedTempDir dir;
  pid_t child = ::fork();
  if (child == 0) {
    ::_exit(0);
  }
  REQUIRE(child > 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  aptship::test::write("hello.lock",
                       fmt::format(R"({{"pid":{},"host":"{}","started":"2025-01-01T10:00:00Z"}})",
                                   child, this_host_name()));
  auto attempt = RolloutLock::try_acquire("hello.lock");
  REQUIRE(attempt);
  REQUIRE(attempt->lock);
  REQUIRE(attempt->stale);
  CHECK(attempt->stale->pid == child);
  CHECK(attempt->stale->started == "2025-01-01T10:00:00Z");
  CHECK(attempt->stale_pid_dead);
  CHECK(aptship::test::read("hello.lock").find(fmt::format("\"pid\":{}", ::getpid())) !=
        std::string::npos);
}
