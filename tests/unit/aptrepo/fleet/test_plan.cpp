#include <catch2/catch.hpp>

#include "aptrepo/fleet/plan.hpp"

using namespace aptship::fleet;

namespace {

BatchSize hosts(int n) {
  return {n, BatchSize::Unit::hosts};
}
BatchSize percent(int n) {
  return {n, BatchSize::Unit::percent};
}

} // namespace

TEST_CASE("batch sizes over 5 hosts", "[plan]") {
  using V = std::vector<size_t>;
  CHECK(batch_sizes({hosts(1)}, 5) == V{1, 1, 1, 1, 1});
  CHECK(batch_sizes({percent(50)}, 5) == V{2, 2, 1});
  CHECK(batch_sizes({percent(100)}, 5) == V{5});
  CHECK(batch_sizes({hosts(1), percent(50), percent(100)}, 5) == V{1, 2, 2});
  CHECK(batch_sizes({percent(10)}, 5) == V{1, 1, 1, 1, 1}); // rounds down, at least 1
  CHECK(batch_sizes({hosts(2), hosts(10)}, 5) == V{2, 3});
  CHECK(batch_sizes({hosts(1)}, 0).empty());
}

TEST_CASE("capacity keeps min_healthy servers UP in every backend", "[plan]") {
  CHECK(capacity({5}, 1) == 4);
  CHECK(capacity({5, 3}, 1) == 2);
  CHECK(capacity({2}, 2) == 0);
  CHECK(capacity({1}, 3) == 0);
  CHECK(capacity({4}, 0) == 4);
}

TEST_CASE("waves inside a batch are limited by the capacity", "[plan]") {
  // 5 hosts, all in one batch, 5 UP and min_healthy 3: two at a time.
  auto batches = plan_batches({percent(100)}, 5, capacity({5}, 3));
  REQUIRE(batches.size() == 1);
  using W = std::vector<std::vector<size_t>>;
  CHECK(batches[0].waves == W{{0, 1}, {2, 3}, {4}});

  batches = plan_batches({hosts(1), percent(50), percent(100)}, 5, 5);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].waves == W{{0}});
  CHECK(batches[1].waves == W{{1, 2}});
  CHECK(batches[2].waves == W{{3, 4}});

  batches = plan_batches({percent(100)}, 3, 1);
  CHECK(batches[0].waves == W{{0}, {1}, {2}});
}
