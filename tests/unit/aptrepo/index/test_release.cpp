#include "aptrepo/index/release.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "aptrepo/core/subprocess.hpp"

using aptship::Digests;
using aptship::index::format_release_date;
using aptship::index::parse_release_date;
using aptship::index::release_field;
using aptship::index::ReleaseEntry;
using aptship::index::ReleaseFields;
using aptship::index::render_release;

namespace {

ReleaseFields sample_fields() {
  ReleaseFields fields;
  fields.origin = "aptship";
  fields.label = "aptship";
  fields.suite = "stable";
  fields.codename = "stable";
  fields.date = 1700000000;
  fields.valid_until = 1700000000 + 7 * 86400;
  fields.architectures = {"amd64", "arm64"};
  fields.components = {"main"};
  fields.signed_by = "0123456789ABCDEF0123456789ABCDEF01234567";
  return fields;
}

Digests digests(char c) {
  return Digests{std::string(32, c), std::string(40, c), std::string(64, c), std::string(128, c)};
}

} // namespace

TEST_CASE("Release dates are RFC 1123 in UTC with English names", "[release]") {
  CHECK(format_release_date(0) == "Thu, 01 Jan 1970 00:00:00 UTC");
  CHECK(format_release_date(1700000000) == "Tue, 14 Nov 2023 22:13:20 UTC");
  CHECK(format_release_date(1709164800) == "Thu, 29 Feb 2024 00:00:00 UTC");
  // The same text as date(1) in the C locale.
  aptship::SubprocessOptions options;
  options.env = std::map<std::string, std::string>{{"LC_ALL", "C"}};
  auto date =
      aptship::run({"date", "-u", "-d", "@1795669399", "+%a, %d %b %Y %H:%M:%S UTC"}, options);
  REQUIRE(date);
  REQUIRE(date->ok());
  CHECK(format_release_date(1795669399) + "\n" == date->out);
}

TEST_CASE("Release dates read back", "[release]") {
  for (int64_t epoch : {int64_t{0}, int64_t{951782400}, int64_t{1700000000}, int64_t{1795669399},
                        int64_t{4102444799}}) {
    auto parsed = parse_release_date(format_release_date(epoch));
    REQUIRE(parsed);
    CHECK(*parsed == epoch);
  }
  auto gmt = parse_release_date("Tue, 14 Nov 2023 22:13:20 GMT");
  REQUIRE(gmt);
  CHECK(*gmt == 1700000000);
  for (const char* bad : {"", "Tue, 14 Nov 2023 22:13:20", "Tue, 14 Foo 2023 22:13:20 UTC",
                          "Tue, 14 Nov 2023 22:13 UTC", "Tue, 32 Nov 2023 22:13:20 UTC",
                          "Tue, 14 Nov 2023 22:13:20 CET", "Tue, x Nov 2023 22:13:20 UTC"}) {
    INFO(bad);
    CHECK_FALSE(parse_release_date(bad));
  }
}

TEST_CASE("the Release text has its fields in order and one line per file", "[release]") {
  ReleaseFields fields = sample_fields();
  fields.description = "test repository";
  std::vector<ReleaseEntry> entries = {
      {"main/binary-amd64/Packages.gz", 1234, digests('b')},
      {"main/binary-amd64/Packages", 98765, digests('a')},
  };
  auto text = render_release(fields, entries);
  REQUIRE(text);
  // " HEX SIZE PATH", the size right-aligned in 16 columns.
  auto rows = [](size_t width) {
    return " " + std::string(width, 'a') + "            98765 main/binary-amd64/Packages\n" + " " +
           std::string(width, 'b') + "             1234 main/binary-amd64/Packages.gz\n";
  };
  std::string expected = "Origin: aptship\n"
                         "Label: aptship\n"
                         "Suite: stable\n"
                         "Codename: stable\n"
                         "Date: Tue, 14 Nov 2023 22:13:20 UTC\n"
                         "Valid-Until: Tue, 21 Nov 2023 22:13:20 UTC\n"
                         "Architectures: amd64 arm64\n"
                         "Components: main\n"
                         "Description: test repository\n"
                         "Acquire-By-Hash: yes\n"
                         "Signed-By: 0123456789ABCDEF0123456789ABCDEF01234567\n";
  expected += "MD5Sum:\n" + rows(32) + "SHA1:\n" + rows(40) + "SHA256:\n" + rows(64) + "SHA512:\n" +
              rows(128);
  CHECK(*text == expected);
}

TEST_CASE("Valid-Until and Description are left out when not set", "[release]") {
  ReleaseFields fields = sample_fields();
  fields.valid_until.reset();
  auto text = render_release(fields, {});
  REQUIRE(text);
  CHECK_FALSE(release_field(*text, "Valid-Until"));
  CHECK_FALSE(release_field(*text, "Description"));
  CHECK(release_field(*text, "Date") == "Tue, 14 Nov 2023 22:13:20 UTC");
  CHECK_THAT(*text, Catch::EndsWith("MD5Sum:\nSHA1:\nSHA256:\nSHA512:\n"));
}

TEST_CASE("a field value with a newline is refused", "[release]") {
  ReleaseFields fields = sample_fields();
  fields.description = "one\nSigned-By: someone else";
  auto text = render_release(fields, {});
  REQUIRE_FALSE(text);
  CHECK_THAT(text.error().message(), Catch::Contains("Description"));

  auto bad_path = render_release(sample_fields(), {{"main/x\ny", 1, digests('c')}});
  REQUIRE_FALSE(bad_path);
}

TEST_CASE("release_field finds a field by its exact name", "[release]") {
  std::string text = "Origin: a\nDate-Like: no\nDate:  Tue, 14 Nov 2023 22:13:20 UTC \nSHA256:\n";
  CHECK(release_field(text, "Date") == "Tue, 14 Nov 2023 22:13:20 UTC");
  CHECK(release_field(text, "Origin") == "a");
  CHECK(release_field(text, "SHA256") == "");
  CHECK_FALSE(release_field(text, "Label"));
}
