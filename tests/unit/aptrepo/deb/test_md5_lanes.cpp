#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/hash.hpp"
#include "aptrepo/deb/md5_lanes.hpp"

using aptship::Digest;
using aptship::hex_digest;
using aptship::deb::md5_lane_shape;
using aptship::deb::md5_many;

TEST_CASE("md5_lanes: RFC 1321's test suite") {
  std::string eighty;
  for (int i = 0; i < 8; ++i) {
    eighty += "1234567890";
  }
  const std::vector<std::string_view> messages = {
      "",
      "a",
      "abc",
      "message digest",
      "abcdefghijklmnopqrstuvwxyz",
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
      eighty};
  const std::vector<std::string> expected = {
      "d41d8cd98f00b204e9800998ecf8427e", "0cc175b9c0f1b6a831c399e269772661",
      "900150983cd24fb0d6963f7d28e17f72", "f96b697d7cb7938d525a2f31aaf161d0",
      "c3fcd3d76192e4007dfb496cca67e13b", "d174ab98d277d9f5a5611c2c9f419d9f",
      "57edf4a22be3c955ac49da2e2107b67a"};
  // Every width this CPU has: sixteen lanes, eight, one at a time.
  for (size_t lanes : {16U, 8U, 1U}) {
    INFO("at most " << lanes << " lanes");
    CHECK(md5_many(messages, lanes) == expected);
  }
}

TEST_CASE("md5_lanes: every length around the block and padding edges, in any mix") {
  std::mt19937 rng(7);
  std::string pool(70000, '\0');
  for (char& c : pool) {
    c = static_cast<char>(rng());
  }
  std::vector<std::string_view> messages;
  for (size_t n = 0; n <= 200; ++n) {
    messages.emplace_back(pool.data() + n, n);
  }
  for (size_t n : {1000U, 4095U, 4096U, 4097U, 65536U, 69999U}) {
    messages.emplace_back(pool.data(), n);
  }
  std::shuffle(messages.begin(), messages.end(), rng);
  for (size_t lanes : {16U, 8U}) {
    for (size_t count : {size_t{1}, size_t{3}, size_t{8}, size_t{9}, size_t{17}, messages.size()}) {
      const std::vector<std::string_view> some(messages.begin(),
                                               messages.begin() + static_cast<long>(count));
      const std::vector<std::string> got = md5_many(some, lanes);
      REQUIRE(got.size() == some.size());
      for (size_t i = 0; i < some.size(); ++i) {
        INFO("at most " << lanes << " lanes, " << count << " messages, length " << some[i].size());
        CHECK(got[i] == hex_digest(Digest::md5, some[i]));
      }
    }
  }
}

TEST_CASE("md5_lanes: the shape never exceeds the width asked for") {
  CHECK(md5_lane_shape(1).lanes == 1);
  CHECK(md5_lane_shape(8).lanes <= 8);
  CHECK(md5_lane_shape().lanes <= 16);
  CHECK(md5_lane_shape().step_cost >= 1.0);
}
