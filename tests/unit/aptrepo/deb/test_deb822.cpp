#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/deb/deb822.hpp"
#include "testutil.hpp"

using aptship::deb::Comments;
using aptship::deb::Field;
using aptship::deb::Paragraph;
using aptship::deb::parse;
using aptship::deb::parse_one;
using aptship::deb::write;

namespace {

using NameValues = std::vector<std::pair<std::string, std::string>>;

// Names and values only: line numbers legitimately change when comments
// are dropped by a rewrite.
NameValues fields_of(const Paragraph& paragraph) {
  NameValues out;
  for (const Field& field : paragraph.fields()) {
    out.emplace_back(field.name, field.value);
  }
  return out;
}

std::vector<NameValues> fields_of(const std::vector<Paragraph>& paragraphs) {
  std::vector<NameValues> out;
  for (const Paragraph& paragraph : paragraphs) {
    out.push_back(fields_of(paragraph));
  }
  return out;
}

std::string error_of(std::string_view text, Comments comments = Comments::forbidden) {
  auto result = parse(text, "DEBIAN/control", comments);
  REQUIRE_FALSE(result);
  return result.error().message();
}

} // namespace

TEST_CASE("deb822: fields keep their order, text and line numbers") {
  auto parsed =
      parse("Package: foo\nVersion:  1.0-1  \nArchitecture:all\nx-custom: Some Value\n", "test");
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 1);
  const Paragraph& paragraph = parsed->front();
  CHECK(fields_of(paragraph) == NameValues{{"Package", "foo"},
                                           {"Version", "1.0-1"},
                                           {"Architecture", "all"},
                                           {"x-custom", "Some Value"}});
  CHECK(paragraph.line() == 1);
  CHECK(paragraph.fields()[2].line == 3);
  CHECK(paragraph.get("VERSION") == "1.0-1");
  CHECK(paragraph.get("X-Custom") == "Some Value");
  CHECK_FALSE(paragraph.get("Depends"));
}

TEST_CASE("deb822: continuation lines keep their leading space and ' .'") {
  auto parsed = parse_one("Description: short\n long line  \n .\n\tindented by tab\nB: x", "t");
  REQUIRE(parsed);
  CHECK(parsed->get("Description") == "short\n long line\n .\n\tindented by tab");
  CHECK(parsed->get("B") == "x");

  auto empty_first = parse_one("Description:\n only extended\nX-Empty:\n", "t");
  REQUIRE(empty_first);
  CHECK(empty_first->get("Description") == "\n only extended");
  CHECK(empty_first->get("X-Empty") == "");
  CHECK(empty_first->to_string() == "Description:\n only extended\nX-Empty:\n");
}

TEST_CASE("deb822: paragraphs are separated by blank or whitespace-only lines") {
  auto parsed = parse("\n\nA: 1\nB: 2\n \t\n\n\nA: 3\n\t\nC: 4\n\n", "t");
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 3);
  CHECK(fields_of(*parsed) ==
        std::vector<NameValues>{{{"A", "1"}, {"B", "2"}}, {{"A", "3"}}, {{"C", "4"}}});
  CHECK((*parsed)[0].line() == 3);
  CHECK((*parsed)[1].line() == 8);
  CHECK((*parsed)[2].line() == 10);
}

TEST_CASE("deb822: empty, blank and comment-only input has no paragraphs") {
  CHECK(parse("", "t")->empty());
  CHECK(parse("\n \n\t\n", "t")->empty());
  CHECK(parse("# only\n#comments\n\n# here", "t", Comments::allowed)->empty());
  auto none = parse_one("", "debian/control");
  REQUIRE_FALSE(none);
  CHECK(none.error().message() ==
        "debian/control: no paragraph (the text is empty or only comments)");
}

TEST_CASE("deb822: comments are skipped when allowed, even between continuation lines") {
  auto parsed = parse("# head\nSource: foo\n# inside\nBuild-Depends: a,\n# between\n b\n\n"
                      "#sep\nPackage: foo\n",
                      "debian/control", Comments::allowed);
  REQUIRE(parsed);
  CHECK(fields_of(*parsed) ==
        std::vector<NameValues>{{{"Source", "foo"}, {"Build-Depends", "a,\n b"}},
                                {{"Package", "foo"}}});
  CHECK((*parsed)[0].line() == 2);
  CHECK((*parsed)[1].line() == 9);
}

TEST_CASE("deb822: comments are an error when forbidden") {
  CHECK(error_of("Package: foo\n# no\nVersion: 1\n") ==
        "DEBIAN/control: line 2: comment lines are not allowed here");
}

TEST_CASE("deb822: every problem is reported in one line") {
  std::string text = " leading continuation\n" // 1
                     "Package: foo\n"          // 2
                     "package: bar\n"          // 3
                     " its continuation\n"     // 4
                     "no colon here\n"         // 5
                     ": empty name\n"          // 6
                     "Bad Name: x\n"           // 7
                     "-Dash: x\n"              // 8
                     "Version: 1\r\n"          // 9
                     "Ctl\x01: x\n";           // 10
  CHECK(error_of(text) == "DEBIAN/control: line 1: continuation line before any field; "
                          "line 3: duplicate field 'package'; "
                          "line 5: line has no ':' after a field name; "
                          "line 6: empty field name; "
                          "line 7: field name 'Bad Name' contains a space; "
                          "line 8: field name '-Dash' starts with '-'; "
                          "line 9: carriage return (CRLF line ending?); "
                          "line 10: field name 'Ctl\\x01' contains byte 0x01");
}

TEST_CASE("deb822: CRLF files are rejected naming each line") {
  CHECK(error_of("A: 1\r\nB: 2\r\n") == "DEBIAN/control: line 1: carriage return (CRLF line "
                                        "ending?); line 2: carriage return (CRLF line ending?)");
  CHECK(error_of(std::string("A: 1\nB: x\0y\n", 12)) == "DEBIAN/control: line 2: NUL byte");
}

TEST_CASE("deb822: a flood of problems is cut short but counted") {
  std::string text;
  for (int i = 0; i < 30; ++i) {
    text += "junk\n";
  }
  std::string message = error_of(text);
  CHECK(message.find("line 20: line has no ':'") != std::string::npos);
  CHECK(message.find("line 21:") == std::string::npos);
  CHECK(message.find("; and 10 more problems") != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("deb822: parse_one wants exactly one paragraph") {
  auto two = parse_one("A: 1\n\nB: 2\n", "Release");
  REQUIRE_FALSE(two);
  CHECK(two.error().message() == "Release: line 3: a second paragraph where only one is expected");
  auto bad = parse_one("A 1\n", "Release");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message() == "Release: line 1: line has no ':' after a field name");
}

TEST_CASE("deb822: Paragraph edits") {
  auto parsed = parse_one("Package: foo\nVersion: 1\nDescription: d\n", "t");
  REQUIRE(parsed);
  Paragraph paragraph = *parsed;
  paragraph.set("version", "2");
  paragraph.set("Depends", "bar");
  paragraph.set_after("Architecture", "all", "Version");
  paragraph.set_after("Installed-Size", "4", "No-Such-Field");
  paragraph.set_after("Package", "foo2", "Depends");
  CHECK(fields_of(paragraph) == NameValues{{"Package", "foo2"},
                                           {"Version", "2"},
                                           {"Architecture", "all"},
                                           {"Description", "d"},
                                           {"Depends", "bar"},
                                           {"Installed-Size", "4"}});
  CHECK(paragraph.remove("DEPENDS"));
  CHECK_FALSE(paragraph.remove("Depends"));
  CHECK_FALSE(paragraph.has("depends"));
  CHECK(paragraph.has("installed-size"));
  CHECK(paragraph.to_string() == "Package: foo2\nVersion: 2\nArchitecture: all\nDescription: d\n"
                                 "Installed-Size: 4\n");
}

TEST_CASE("deb822: write separates paragraphs and round-trips") {
  std::string text = "# c\nPackage: a\nDescription:  syn \n more\n .\n\t tab\n\n\n \n"
                     "Package: b\nX-Empty:\nX-Ext:\n line\n";
  auto parsed = parse(text, "t", Comments::allowed);
  REQUIRE(parsed);
  std::string written = write(*parsed);
  CHECK(written == "Package: a\nDescription: syn\n more\n .\n\t tab\n\n"
                   "Package: b\nX-Empty:\nX-Ext:\n line\n");
  auto again = parse(written, "t");
  REQUIRE(again);
  CHECK(fields_of(*again) == fields_of(*parsed));
  CHECK(write(*again) == written);
  CHECK(write({}).empty());
  CHECK(write({Paragraph(), *parsed->begin()}) == parsed->begin()->to_string());
}

TEST_CASE("deb822: the dpkg status database parses and round-trips") {
  std::string status = aptship::test::read("/var/lib/dpkg/status");
  if (status.empty()) {
    WARN("no /var/lib/dpkg/status here");
    return;
  }
  auto parsed = parse(status, "/var/lib/dpkg/status");
  REQUIRE(parsed);
  REQUIRE(parsed->size() > 10);
  for (const Paragraph& paragraph : *parsed) {
    CHECK(paragraph.has("Package"));
    CHECK(paragraph.has("Status"));
  }
  auto again = parse(write(*parsed), "rewritten");
  REQUIRE(again);
  CHECK(fields_of(*again) == fields_of(*parsed));
}

TEST_CASE("deb822: dpkg-deb reads what write() produces") {
  aptship::test::ScopedTempDir tmp;
  auto control = parse_one("Package: roundtrip\nVersion: 1:2.0~rc1-3\nArchitecture: all\n"
                           "Maintainer: A Person <a@example.org>\nX-Empty-First:\n tail\n"
                           "Depends: libc6 (>= 2.36),\n  zlib1g\n"
                           "Description: synopsis here\n first paragraph\n .\n second one\n",
                           "t");
  REQUIRE(control);
  aptship::test::write("pkg/DEBIAN/control", write({*control}));
  auto built = aptship::run({"dpkg-deb", "--root-owner-group", "--build", "pkg", "p.deb"});
  REQUIRE(built);
  INFO(built->err);
  REQUIRE(built->ok());

  auto shown = aptship::run({"dpkg-deb", "--field", "p.deb"});
  REQUIRE(shown);
  REQUIRE(shown->ok());
  auto reread = parse_one(shown->out, "dpkg-deb --field");
  REQUIRE(reread);
  CHECK(fields_of(*reread) == fields_of(*control));

  auto description = aptship::run({"dpkg-deb", "--field", "p.deb", "Description"});
  REQUIRE(description);
  CHECK(description->out == std::string(*control->get("Description")) + "\n");
}

TEST_CASE("deb822: dpkg-deb refuses what parse() refuses") {
  aptship::test::ScopedTempDir tmp;
  std::string base = "Package: refused\nVersion: 1.0\nArchitecture: all\n"
                     "Maintainer: A Person <a@example.org>\nDescription: d\n";
  const std::vector<std::string> bad = {
      base + "package: again\n",
      "# comment\n" + base,
      " continuation first\n" + base,
      base + "no colon\n",
  };
  for (const std::string& text : bad) {
    INFO(text);
    CHECK_FALSE(parse(text, "DEBIAN/control"));
    aptship::test::write("pkg/DEBIAN/control", text);
    auto built = aptship::run({"dpkg-deb", "--root-owner-group", "--build", "pkg", "p.deb"});
    REQUIRE(built);
    CHECK_FALSE(built->ok());
  }
}
