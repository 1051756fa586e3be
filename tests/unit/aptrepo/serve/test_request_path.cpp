#include <catch2/catch.hpp>

#include <string>

#include "aptrepo/serve/request_path.hpp"

using aptship::serve::parse_target;
using aptship::serve::PlusIsSpace;
using aptship::serve::TargetError;

namespace {

TargetError error_of(std::string_view target) {
  auto parsed = parse_target(target);
  REQUIRE_FALSE(parsed);
  return parsed.error();
}

} // namespace

TEST_CASE("parse_target decodes and normalizes a plain path", "[serve][request_path]") {
  auto parsed = parse_target("/dists/stable//main/binary-amd64/Packages.xz");
  REQUIRE(parsed);
  CHECK(parsed->path == "/dists/stable/main/binary-amd64/Packages.xz");
  CHECK(parsed->segments ==
        std::vector<std::string>{"dists", "stable", "main", "binary-amd64", "Packages.xz"});
  CHECK_FALSE(parsed->trailing_slash);
  CHECK(parsed->query.empty());
}

TEST_CASE("parse_target keeps a trailing slash and treats / as a directory",
          "[serve][request_path]") {
  auto dir = parse_target("/pool/main/");
  REQUIRE(dir);
  CHECK(dir->path == "/pool/main/");
  CHECK(dir->trailing_slash);
  auto root = parse_target("/");
  REQUIRE(root);
  CHECK(root->path == "/");
  CHECK(root->segments.empty());
  CHECK(root->trailing_slash);
  auto slashes = parse_target("//");
  REQUIRE(slashes);
  CHECK(slashes->path == "/");
}

TEST_CASE("parse_target percent-decodes segments but never into separators",
          "[serve][request_path]") {
  auto parsed = parse_target("/pool/main/libf/libfoo/libfoo_1.0%2Bb1_amd64.deb");
  REQUIRE(parsed);
  CHECK(parsed->segments.back() == "libfoo_1.0+b1_amd64.deb");
  auto plus = parse_target("/a+b%20c");
  REQUIRE(plus);
  CHECK(plus->segments.back() == "a+b c"); // "+" is a space only in queries
  CHECK(error_of("/a%2fb") == TargetError::bad_request);
  CHECK(error_of("/a%2Fb") == TargetError::bad_request);
  CHECK(error_of("/a%5cb") == TargetError::bad_request);
  CHECK(error_of("/a\\b") == TargetError::bad_request);
}

TEST_CASE("parse_target refuses dot segments however they are written", "[serve][request_path]") {
  for (std::string_view target :
       {"/..", "/../etc/passwd", "/dists/../../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2e/x",
        "/.%2e/x", "/a/%2e%2e", "/a/./b", "/a/%2e/b", "/.", "/dists/..?x=1"}) {
    INFO(target);
    CHECK(error_of(target) == TargetError::bad_request);
  }
}

TEST_CASE("parse_target refuses NUL, control bytes and bad escapes", "[serve][request_path]") {
  for (std::string_view target : {"/a%00b", "/a%00", "/%0a", "/a%7f", "/a%", "/a%4", "/a%zz",
                                  "/a%%41", "/x?a=%00", "/x?a=%g1", "/x?%00=1"}) {
    INFO(target);
    CHECK(error_of(target) == TargetError::bad_request);
  }
  CHECK(error_of(std::string_view("/a\0b", 4)) == TargetError::bad_request);
}

TEST_CASE("parse_target answers hidden segments with not found", "[serve][request_path]") {
  CHECK(error_of("/.gen/stable/7/Release") == TargetError::not_found);
  CHECK(error_of("/dists/.hidden") == TargetError::not_found);
  CHECK(error_of("/%2egen/x") == TargetError::not_found);
  // A later ".." still makes the request a bad one.
  CHECK(error_of("/.gen/../x") == TargetError::bad_request);
}

TEST_CASE("parse_target needs an origin-form or absolute-form target", "[serve][request_path]") {
  CHECK(error_of("") == TargetError::bad_request);
  CHECK(error_of("*") == TargetError::bad_request);
  CHECK(error_of("dists/stable") == TargetError::bad_request);
  auto absolute = parse_target("http://repo.example:8080/dists/stable/InRelease");
  REQUIRE(absolute);
  CHECK(absolute->path == "/dists/stable/InRelease");
  auto bare = parse_target("HTTP://repo.example");
  REQUIRE(bare);
  CHECK(bare->path == "/");
}

TEST_CASE("parse_target decodes the query", "[serve][request_path]") {
  auto parsed = parse_target("/api/v1/packages?suite=stable%2Dnew&q=a+b%26c&flag&suite=other&=v");
  REQUIRE(parsed);
  CHECK(parsed->path == "/api/v1/packages");
  CHECK(parsed->query.at("suite") == "stable-new"); // the first of repeated keys
  CHECK(parsed->query.at("q") == "a b&c");
  CHECK(parsed->query.at("flag").empty());
  CHECK(parsed->query.at("") == "v");
  auto empty = parse_target("/x?");
  REQUIRE(empty);
  CHECK(empty->query.empty());
}

TEST_CASE("percent_decode reports malformed escapes", "[serve][request_path]") {
  std::string out;
  CHECK(aptship::serve::percent_decode("a%41%62+", PlusIsSpace::yes, out));
  CHECK(out == "aAb ");
  CHECK(aptship::serve::percent_decode("a%41%62+", PlusIsSpace::no, out));
  CHECK(out == "aAb+");
  CHECK_FALSE(aptship::serve::percent_decode("%4", PlusIsSpace::no, out));
  CHECK_FALSE(aptship::serve::percent_decode("%", PlusIsSpace::no, out));
  CHECK_FALSE(aptship::serve::percent_decode("%x1", PlusIsSpace::no, out));
}

TEST_CASE("percent_encode_path, html_escape and log_escape make text safe",
          "[serve][request_path]") {
  CHECK(aptship::serve::percent_encode_path("/pool/a b/c+d~e_f-1.0.deb") ==
        "/pool/a%20b/c%2Bd~e_f-1.0.deb");
  CHECK(aptship::serve::percent_encode_path("/\"<x>\n") == "/%22%3Cx%3E%0A");
  CHECK(aptship::serve::html_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(aptship::serve::log_escape("/a b\n\"x\"") == "/a\\x20b\\x0a\\x22x\\x22");
  CHECK(aptship::serve::log_escape("abcdef", 3) == "abc...");
}
