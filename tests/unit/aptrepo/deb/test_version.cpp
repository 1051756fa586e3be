#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/deb/version.hpp"
#include "testutil.hpp"

using aptship::deb::compare;
using aptship::deb::Version;

namespace {

bool have_dpkg() {
  return access("/usr/bin/dpkg", X_OK) == 0;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int sign(int value) {
  return (value > 0) - (value < 0);
}

int compare_text(std::string_view a, std::string_view b) {
  auto va = Version::parse(a);
  auto vb = Version::parse(b);
  REQUIRE(va);
  REQUIRE(vb);
  return sign(compare(*va, *vb));
}

std::string error_of(std::string_view text) {
  auto version = Version::parse(text);
  REQUIRE_FALSE(version);
  return version.error().message();
}

// Builds syntactically valid versions from the pieces that make ordering
// interesting: epochs, '~', '+', '.', letters, leading zeros, long digit
// runs, revisions. The engine is seeded so every run tests the same table.
class VersionGenerator {
public:
  struct Parts {
    std::string epoch; // with its ':' or empty
    std::string upstream;
    std::string revision; // with its '-' or empty
    [[nodiscard]] std::string text() const { return epoch + upstream + revision; }
  };

  size_t pick(size_t n) { return static_cast<size_t>(m_rng() % n); }
  template <size_t N> const char* one_of(const std::array<const char*, N>& items) {
    return items[pick(N)];
  }

  std::string number() {
    static const std::array<const char*, 18> k_numbers = {
        "0",   "1",  "2",  "3",   "9",   "10",  "11",  "99",       "100",
        "007", "00", "01", "010", "123", "255", "256", "20240101", "4294967296"};
    switch (pick(8)) {
    case 0: {
      // Longer than any integer type, so only digit-by-digit comparison works.
      std::string digits = std::to_string(1 + pick(9));
      size_t length = 10 + pick(20);
      while (digits.size() < length) {
        digits += static_cast<char>('0' + pick(10));
      }
      return digits;
    }
    case 1:
      return std::to_string(pick(30));
    default:
      return one_of(k_numbers);
    }
  }

  std::string word() {
    static const std::array<const char*, 14> k_words = {
        "a", "b", "z", "A", "Z", "rc", "alpha", "beta", "dfsg", "git", "ubuntu", "deb", "pre", "r"};
    return one_of(k_words);
  }

  std::string upstream(bool with_epoch, bool with_revision) {
    std::string out = number();
    size_t segments = pick(5);
    for (size_t i = 0; i < segments; ++i) {
      switch (pick(12)) {
      case 0:
      case 1:
      case 2:
        out += "." + number();
        break;
      case 3:
        out += "~" + word() + (pick(2) == 0 ? number() : "");
        break;
      case 4:
        out += "~";
        break;
      case 5:
        out += "+" + (pick(2) == 0 ? word() : number());
        break;
      case 6:
        out += word();
        break;
      case 7:
        out += "." + word();
        break;
      case 8:
        // A '-' in the upstream part needs a revision after the last one.
        out += with_revision ? "-" + number() : "." + number();
        break;
      case 9:
        // A ':' in the upstream part needs an epoch before the first one,
        // and no '-' before it: without the revision that '-' would start one.
        out += with_epoch && out.find('-') == std::string::npos ? ":" + number() : "+" + number();
        break;
      case 10:
        out += "+";
        break;
      default:
        out += number();
        break;
      }
    }
    return out;
  }

  std::string revision() {
    static const std::array<const char*, 14> k_revisions = {
        "0",    "00", "1",         "2",        "10", "1.1", "0ubuntu1",
        "1+b1", "1~", "1~bpo11+1", "0.1~exp1", "a",  "~",   "2+deb12u1"};
    if (pick(3) == 0) {
      return one_of(k_revisions);
    }
    std::string out = pick(4) == 0 ? word() : number();
    size_t segments = pick(3);
    for (size_t i = 0; i < segments; ++i) {
      static const std::array<const char*, 4> k_separators = {".", "+", "~", ""};
      out += one_of(k_separators);
      out += pick(3) == 0 ? word() : number();
    }
    return out;
  }

  Parts random() {
    static const std::array<const char*, 8> k_epochs = {
        "0:", "1:", "2:", "01:", "10:", "00:", "2147483647:", "3:"};
    Parts parts;
    if (pick(5) < 2) {
      parts.epoch = one_of(k_epochs);
    }
    bool with_revision = pick(2) == 0;
    parts.upstream = upstream(!parts.epoch.empty(), with_revision);
    if (with_revision) {
      parts.revision = "-" + revision();
    }
    return parts;
  }

  // A version close to PARTS, so that the pair exercises one rule.
  Parts mutate(Parts parts) {
    switch (pick(12)) {
    case 0:
      // Without an epoch a ':' in the upstream part would be read as one.
      if (parts.epoch.empty()) {
        parts.epoch = "0:";
      } else if (parts.upstream.find(':') == std::string::npos) {
        parts.epoch.clear();
      }
      break;
    case 1:
      parts.epoch = parts.epoch == "1:" ? "01:" : "1:";
      break;
    case 2: {
      // A leading zero on some digit run: equal under dpkg's rules.
      size_t at = parts.upstream.find_first_of("0123456789", pick(parts.upstream.size()));
      if (at != std::string::npos && (at == 0 || !is_digit(parts.upstream[at - 1]))) {
        parts.upstream.insert(at, "0");
      } else {
        parts.upstream.insert(0, "0");
      }
      break;
    }
    case 3: {
      static const std::array<const char*, 9> k_suffixes = {"~",  "~1", "~~", "+1",  "a",
                                                            ".0", "0",  ".",  "~rc1"};
      parts.upstream += one_of(k_suffixes);
      break;
    }
    case 4:
      parts.revision = parts.revision.empty() ? "-0" : "";
      break;
    case 5:
      parts.revision = parts.revision.empty() ? "-1" : parts.revision + "~";
      break;
    case 6:
      parts.revision = parts.revision == "-00" ? "-0" : "-00";
      break;
    case 7: {
      // Bumps the last digit of the upstream part when it has one.
      size_t at = parts.upstream.find_last_of("0123456789");
      if (at != std::string::npos && parts.upstream[at] != '9') {
        ++parts.upstream[at];
      }
      break;
    }
    case 8:
      if (parts.upstream.size() > 1 && is_digit(parts.upstream[parts.upstream.size() - 2])) {
        parts.upstream.pop_back();
      }
      break;
    case 9:
      parts.upstream += "." + number();
      break;
    default:
      break; // identical
    }
    return parts;
  }

  // Any short string: mostly invalid, some valid, for the syntax check.
  std::string garbage() {
    static const std::string k_alphabet = "0123456789abzAZ.+~-:_!@, \t\r\n\xc3\xa9";
    std::string out;
    if (pick(4) != 0) {
      out += static_cast<char>('0' + pick(10));
    }
    size_t length = pick(9);
    for (size_t i = 0; i < length; ++i) {
      out += k_alphabet[pick(k_alphabet.size())];
    }
    return out;
  }

private:
  std::mt19937 m_rng{20240517};
};

// Writes STRINGS NUL-separated, so that any byte but NUL survives the trip
// through the shell loop unchanged.
void write_nul_separated(const std::string& path, const std::vector<std::string>& strings) {
  std::string data;
  for (const std::string& text : strings) {
    data += text;
    data.push_back('\0');
  }
  aptship::test::write(path, data);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(line);
  }
  return out;
}

// dpkg reads the epoch with strtol(), which also takes a sign and leading
// whitespace ("+1:2", "\n1:2"); aptship wants plain digits there.
bool dpkg_strtol_epoch(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  std::string_view epoch = text.substr(0, colon);
  size_t i = epoch.find_first_not_of(" \t\n\v\f\r");
  if (i == std::string_view::npos) {
    return false;
  }
  if (epoch[i] == '+' || epoch[i] == '-') {
    ++i;
  }
  if (i == epoch.size() || epoch.find_first_not_of("0123456789", i) != std::string_view::npos) {
    return false;
  }
  return epoch.find_first_not_of("0123456789") != std::string_view::npos;
}

} // namespace

TEST_CASE("version: parse splits epoch, upstream and revision") {
  auto version = Version::parse("1:2.0~rc1+dfsg-3ubuntu1~22.04");
  REQUIRE(version);
  CHECK(version->epoch == 1);
  CHECK(version->upstream == "2.0~rc1+dfsg");
  CHECK(version->revision == "3ubuntu1~22.04");
  CHECK(version->to_string() == "1:2.0~rc1+dfsg-3ubuntu1~22.04");

  auto hyphens = Version::parse("0:1.2-beta-4");
  REQUIRE(hyphens);
  CHECK(hyphens->epoch == 0);
  CHECK(hyphens->upstream == "1.2-beta");
  CHECK(hyphens->revision == "4");
  CHECK(hyphens->to_string() == "1.2-beta-4");

  auto colons = Version::parse("2:1:2");
  REQUIRE(colons);
  CHECK(colons->epoch == 2);
  CHECK(colons->upstream == "1:2");
  auto zero_colons = Version::parse("0:1:2");
  REQUIRE(zero_colons);
  CHECK(zero_colons->to_string() == "0:1:2");

  auto blanks = Version::parse(" \t1.0 ");
  REQUIRE(blanks);
  CHECK(blanks->to_string() == "1.0");

  auto big = Version::parse("2147483647:1");
  REQUIRE(big);
  CHECK(big->epoch == 2147483647U);
}

TEST_CASE("version: syntax errors say what is wrong") {
  CHECK(error_of("") == "version '' is empty");
  CHECK(error_of("  ") == "version '  ' is empty");
  CHECK(error_of("1.0 x") == "version '1.0 x' contains whitespace");
  CHECK(error_of(":1") == "version ':1' has an empty epoch");
  CHECK(error_of("a:1") == "version 'a:1' has an epoch that is not a number");
  CHECK(error_of("+1:1") == "version '+1:1' has an epoch that is not a number");
  CHECK(error_of("2147483648:1") == "version '2147483648:1' has an epoch that is too big");
  CHECK(error_of("99999999999999999999999:1") ==
        "version '99999999999999999999999:1' has an epoch that is too big");
  CHECK(error_of("1:") == "version '1:' has nothing after the epoch colon");
  CHECK(error_of("1.0-") == "version '1.0-' has an empty revision after '-'");
  CHECK(error_of("0:-1") == "version '0:-1' has an empty upstream version");
  CHECK(error_of("v1.0") == "version 'v1.0' does not start with a digit");
  CHECK(error_of("1.0_1") ==
        "version '1.0_1' has an invalid character '_' in the upstream version");
  CHECK(error_of("1.0-a_b") == "version '1.0-a_b' has an invalid character '_' in the revision");
  CHECK(error_of("1:2-3:4") == "version '1:2-3:4' has an invalid character ':' in the revision");
  CHECK(error_of("1.0\n") ==
        "version '1.0\\n' has an invalid character byte 0x0a in the upstream version");
}

TEST_CASE("version: compare follows dpkg's ordering rules") {
  CHECK(compare_text("1.0~rc1", "1.0") < 0);
  CHECK(compare_text("1.0~~", "1.0~") < 0);
  CHECK(compare_text("1.0", "1.0+b1") < 0);
  CHECK(compare_text("1.0", "1.0a") < 0);
  CHECK(compare_text("1.0a", "1.0+") < 0);
  CHECK(compare_text("1.0", "1.00") == 0);
  CHECK(compare_text("1.0", "1.0-0") == 0);
  CHECK(compare_text("1.0-0", "1.0-00") == 0);
  CHECK(compare_text("0:1.0", "1.0") == 0);
  CHECK(compare_text("1:0.1", "9.9") > 0);
  CHECK(compare_text("1.9", "1.10") < 0);
  CHECK(compare_text("10000000000000000000000001", "10000000000000000000000002") < 0);
  CHECK(compare_text("1.0-1", "1.0-1~bpo1") > 0);
  CHECK(compare_text("1.0-2", "1.0-10") < 0);
  CHECK(compare_text("1.0", "1.0.") < 0);
  CHECK(compare_text("1.0Z", "1.0a") < 0);

  auto a = Version::parse("2.0");
  auto b = Version::parse("2.0-0");
  auto c = Version::parse("2.1");
  REQUIRE((a && b && c));
  CHECK(*a == *b);
  CHECK(*a < *c);
  CHECK(*c > *b);
}

TEST_CASE("version: compare agrees with dpkg --compare-versions on a generated table") {
  if (!have_dpkg()) {
    WARN("dpkg is not installed; skipping the comparison with dpkg");
    return;
  }
  aptship::test::ScopedTempDir tmp;
  VersionGenerator generator;
  std::vector<std::pair<std::string, std::string>> pairs;
  constexpr size_t k_pairs = 5000;
  while (pairs.size() < k_pairs) {
    VersionGenerator::Parts a = generator.random();
    VersionGenerator::Parts b = generator.pick(5) < 2 ? generator.random() : generator.mutate(a);
    if (generator.pick(2) == 0) {
      std::swap(a, b);
    }
    pairs.emplace_back(a.text(), b.text());
  }

  std::vector<std::string> flat;
  for (const auto& [a, b] : pairs) {
    flat.push_back(a);
    flat.push_back(b);
  }
  write_nul_separated("pairs", flat);
  // One shell runs the whole table; "lt" or else "eq" keeps it to about
  // 1.5 dpkg runs per pair.
  aptship::test::write("compare.sh", R"(set -u
export LC_ALL=C
while IFS= read -r -d '' a && IFS= read -r -d '' b; do
  if dpkg --compare-versions -- "$a" lt "$b"; then echo lt
  elif dpkg --compare-versions -- "$a" eq "$b"; then echo eq
  else echo gt
  fi
done < "$1"
)");
  auto result = aptship::run({"bash", "compare.sh", "pairs"});
  REQUIRE(result);
  INFO(result->err);
  REQUIRE(result->ok());
  // Every generated version is valid, so dpkg must not have warned.
  REQUIRE(result->err.empty());
  std::vector<std::string> verdicts = lines_of(result->out);
  REQUIRE(verdicts.size() == pairs.size());

  size_t counts[3] = {0, 0, 0};
  size_t mismatches = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& [a, b] = pairs[i];
    auto va = Version::parse(a);
    auto vb = Version::parse(b);
    INFO(a << " vs " << b);
    REQUIRE(va);
    REQUIRE(vb);
    auto canonical = Version::parse(va->to_string());
    REQUIRE(canonical);
    CHECK(compare(*canonical, *va) == 0);
    int ours = sign(compare(*va, *vb));
    int reverse = sign(compare(*vb, *va));
    int dpkg = verdicts[i] == "lt" ? -1 : verdicts[i] == "eq" ? 0 : 1;
    ++counts[dpkg + 1];
    if (ours != dpkg || reverse != -dpkg) {
      ++mismatches;
      FAIL_CHECK("dpkg says " << verdicts[i] << ", compare() says " << ours);
    }
  }
  CHECK(mismatches == 0);
  // The table is only meaningful if it has plenty of each outcome.
  CHECK(counts[0] > 500);
  CHECK(counts[1] > 500);
  CHECK(counts[2] > 500);
}

TEST_CASE("version: parse accepts exactly what dpkg accepts without a warning") {
  if (!have_dpkg()) {
    WARN("dpkg is not installed; skipping the comparison with dpkg");
    return;
  }
  aptship::test::ScopedTempDir tmp;
  std::vector<std::string> versions = {
      "1.0",
      " 1.0",
      "1.0\t",
      "1 .0",
      "1.0\n",
      "\n1.0",
      "a1",
      "1a",
      ":1",
      "1:",
      "1:a",
      "a:1",
      "1::1",
      "1:1:1",
      "1-",
      "-1",
      "1--1",
      "1-1-",
      "0:-1",
      "1-a_b",
      "1_0",
      "1:2-3:4",
      "1.0-1:2",
      "+1:1",
      "-0:1",
      "-1:1",
      "\n1:2",
      " 1:2",
      "2147483647:1",
      "2147483648:1",
      "99999999999999999999:1",
      "1~",
      "1+",
      "1-~",
      "1.0-+",
      "1\xc3\xa9",
      "1.0-\xc3\xa9",
      "1\r",
      "1\v",
      "1.0~-1",
      "00:0",
      "0-0",
      "1:-",
      "1.0--",
      "1.0-a-",
      "1.0-a.b+c~d",
      "1.0-A",
      "9Z",
  };
  VersionGenerator generator;
  for (int i = 0; i < 1500; ++i) {
    versions.push_back(generator.garbage());
  }
  for (int i = 0; i < 500; ++i) {
    versions.push_back(generator.random().text());
  }
  write_nul_separated("versions", versions);
  // In a UTF-8 locale bash's read mangles invalid multibyte sequences.
  aptship::test::write("accept.sh", R"(set -u
export LC_ALL=C
while IFS= read -r -d '' v; do
  err=$(dpkg --compare-versions -- "$v" eq "$v" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne 0 ]; then echo error
  elif [ -n "$err" ]; then echo warn
  else echo ok
  fi
done < "$1"
)");
  auto result = aptship::run({"bash", "accept.sh", "versions"});
  REQUIRE(result);
  INFO(result->err);
  REQUIRE(result->ok());
  std::vector<std::string> verdicts = lines_of(result->out);
  REQUIRE(verdicts.size() == versions.size());

  size_t accepted = 0;
  size_t refused = 0;
  for (size_t i = 0; i < versions.size(); ++i) {
    const std::string& text = versions[i];
    bool ours = Version::parse(text).has_value();
    bool dpkg = verdicts[i] == "ok";
    INFO("version '" << text << "': dpkg " << verdicts[i]);
    std::string_view trimmed = text;
    trimmed.remove_prefix(std::min(trimmed.find_first_not_of(" \t"), trimmed.size()));
    if (dpkg && !ours && (trimmed.empty() || dpkg_strtol_epoch(trimmed))) {
      // Known and wanted differences: dpkg takes an empty version as
      // "none" and a signed or space-led epoch via strtol().
      continue;
    }
    CHECK(ours == dpkg);
    ++(ours ? accepted : refused);
  }
  CHECK(accepted > 200);
  CHECK(refused > 200);
}
