#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/deb/control.hpp"
#include "aptrepo/deb/deb822.hpp"
#include "testutil.hpp"

using aptship::deb::check_architecture;
using aptship::deb::check_binary_control;
using aptship::deb::check_package_name;
using aptship::deb::Paragraph;

namespace {

const std::string k_valid = "Package: hello-world\n"
                            "Version: 1:2.0~rc1-1\n"
                            "Architecture: amd64\n"
                            "Maintainer: A Person <a@example.org>\n"
                            "Installed-Size: 1024\n"
                            "Depends: libc6 (>= 2.36)\n"
                            "Description: says hello\n"
                            " A longer text.\n";

Paragraph control_of(const std::string& text) {
  auto paragraph = aptship::deb::parse_one(text, "test");
  REQUIRE(paragraph);
  return *paragraph;
}

// The valid control with FIELD replaced by VALUE, or removed when VALUE
// is null.
Paragraph with(std::string_view field, const char* value) {
  Paragraph paragraph = control_of(k_valid);
  if (value == nullptr) {
    paragraph.remove(field);
  } else {
    paragraph.set(field, value);
  }
  return paragraph;
}

std::string error_of(const Paragraph& paragraph) {
  auto result = check_binary_control(paragraph, "DEBIAN/control");
  REQUIRE_FALSE(result);
  return result.error().message();
}

} // namespace

TEST_CASE("control: package names follow policy") {
  for (const char* name : {"hello", "h2", "0ad", "libstdc++6", "foo.bar-baz+1", "a-"}) {
    INFO(name);
    CHECK(check_package_name(name));
  }
  for (const char* name : {"", "a", "Hello", "-foo", "+foo", ".foo", "foo_bar", "foo bar", "föo"}) {
    INFO(name);
    CHECK_FALSE(check_package_name(name));
  }
  CHECK(check_package_name("Foo").error().message() ==
        "invalid package name 'Foo': it needs at least two characters, lowercase letters, "
        "digits, '+', '-' and '.', starting with a letter or digit");
}

TEST_CASE("control: architecture names") {
  for (const char* arch : {"all", "any", "amd64", "arm64", "kfreebsd-amd64", "x32", "linux-any"}) {
    INFO(arch);
    CHECK(check_architecture(arch));
  }
  for (const char* arch : {"", "AMD64", "-amd64", "amd_64", "amd64 i386", "all,any"}) {
    INFO(arch);
    CHECK_FALSE(check_architecture(arch));
  }
  CHECK(check_architecture("AMD64").error().message() ==
        "invalid architecture name 'AMD64': it needs lowercase letters, digits and '-', starting "
        "with a letter or digit");
}

TEST_CASE("control: a complete paragraph passes") {
  CHECK(check_binary_control(control_of(k_valid), "DEBIAN/control"));
  CHECK(check_binary_control(with("Architecture", "all"), "x"));
  CHECK(check_binary_control(with("Installed-Size", nullptr), "x"));
  CHECK(check_binary_control(with("Description", "synopsis only"), "x"));
}

TEST_CASE("control: each field problem is named") {
  CHECK(error_of(with("Package", nullptr)) == "DEBIAN/control: field 'Package' is missing");
  CHECK(error_of(with("Package", "")) == "DEBIAN/control: field 'Package': is empty");
  CHECK(error_of(with("Package", "Hello")) ==
        "DEBIAN/control: field 'Package': invalid package name 'Hello': it needs at least two "
        "characters, lowercase letters, digits, '+', '-' and '.', starting with a letter or digit");
  CHECK(error_of(with("Version", "1.0-")) ==
        "DEBIAN/control: field 'Version': version '1.0-' has an empty revision after '-'");
  CHECK(error_of(with("Architecture", "amd64 i386")) ==
        "DEBIAN/control: field 'Architecture': 'amd64 i386' is a list; a binary package has "
        "exactly one architecture");
  CHECK(error_of(with("Architecture", "any\n i386")).find("is a list") != std::string::npos);
  CHECK(error_of(with("Architecture", "Amd64")) ==
        "DEBIAN/control: field 'Architecture': invalid architecture name 'Amd64': it needs "
        "lowercase letters, digits and '-', starting with a letter or digit");
  CHECK(error_of(with("Maintainer", nullptr)) == "DEBIAN/control: field 'Maintainer' is missing");
  CHECK(error_of(with("Maintainer", "")) == "DEBIAN/control: field 'Maintainer': is empty");
  CHECK(error_of(with("Description", nullptr)) == "DEBIAN/control: field 'Description' is missing");
  CHECK(error_of(with("Description", "\n only the long part")) ==
        "DEBIAN/control: field 'Description': the first line (the synopsis) is empty");
  CHECK(error_of(with("Description", "")) ==
        "DEBIAN/control: field 'Description': the first line (the synopsis) is empty");
  CHECK(error_of(with("Installed-Size", "12k")) ==
        "DEBIAN/control: field 'Installed-Size': '12k' is not a number of KiB");
  CHECK(error_of(with("Installed-Size", "")) ==
        "DEBIAN/control: field 'Installed-Size': '' is not a number of KiB");
}

TEST_CASE("control: all problems come in one message") {
  Paragraph paragraph = control_of("package: Bad_Name\nversion: v1\nInstalled-Size: -1\n");
  CHECK(error_of(paragraph) ==
        "DEBIAN/control: field 'Package': invalid package name 'Bad_Name': it needs at least two "
        "characters, lowercase letters, digits, '+', '-' and '.', starting with a letter or digit; "
        "field 'Version': version 'v1' does not start with a digit; "
        "field 'Architecture' is missing; field 'Maintainer' is missing; "
        "field 'Description' is missing; "
        "field 'Installed-Size': '-1' is not a number of KiB");
  auto unnamed = check_binary_control(Paragraph(), "");
  REQUIRE_FALSE(unnamed);
  CHECK(unnamed.error().message().rfind("field 'Package' is missing; ", 0) == 0);
}

TEST_CASE("control: what dpkg-deb refuses or warns about is refused") {
  aptship::test::ScopedTempDir tmp;
  auto dpkg_deb_build = [](const Paragraph& control) {
    aptship::test::write("pkg/DEBIAN/control", control.to_string());
    auto built = aptship::run({"dpkg-deb", "--root-owner-group", "--build", "pkg", "p.deb"});
    REQUIRE(built);
    return *built;
  };

  auto clean = dpkg_deb_build(control_of(k_valid));
  INFO(clean.err);
  CHECK(clean.ok());
  CHECK(clean.err.find("warning") == std::string::npos);

  const std::vector<Paragraph> bad = {
      with("Package", nullptr),
      with("Version", nullptr),
      with("Version", "abc"),
      with("Version", "1.0-"),
      with("Version", "1:"),
      with("Architecture", nullptr),
      with("Architecture", "amd64 i386"),
      with("Maintainer", nullptr),
      with("Description", nullptr),
  };
  for (const Paragraph& control : bad) {
    INFO(control.to_string());
    CHECK_FALSE(check_binary_control(control, "DEBIAN/control"));
    auto result = dpkg_deb_build(control);
    INFO(result.err);
    CHECK((!result.ok() || result.err.find("warning") != std::string::npos));
  }
}
