#include "aptrepo/sign/signer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/core/subprocess.hpp"
#include "testutil.hpp"

namespace fs = std::filesystem;
using aptship::sign::Armor;
using aptship::sign::Signer;
using aptship::test::read;
using aptship::test::ScopedTempDir;
using aptship::test::write;

namespace {

// A GnuPG home inside a fresh temporary directory, laid out as in a data
// dir. Its gpg-agent is killed before the directory goes away, so no agent
// outlives the test case.
class TestHome {
public:
  TestHome() { fs::create_directories(m_dir.path() / "data"); }
  TestHome(const TestHome&) = delete;
  TestHome& operator=(const TestHome&) = delete;
  ~TestHome() { (void)aptship::run({"gpgconf", "--homedir", home().string(), "--kill", "all"}); }

  [[nodiscard]] fs::path home() const { return m_dir.path() / "data" / "gnupg"; }
  [[nodiscard]] fs::path path(std::string_view name) const { return m_dir.path() / name; }

  // Opens the home and generates its key.
  Signer signer_with_key() {
    auto signer = Signer::open(home());
    REQUIRE(signer);
    auto fpr = signer->generate_key("aptship test <test@example.invalid>");
    REQUIRE(fpr);
    return std::move(*signer);
  }

  // An empty GnuPG home for gpg's own inspection commands.
  [[nodiscard]] fs::path scratch_home() {
    fs::path dir = m_dir.path() / "scratch-gnupg";
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all);
    return dir;
  }

private:
  ScopedTempDir m_dir;
};

aptship::SubprocessResult run_tool(const std::vector<std::string>& argv) {
  auto result = aptship::run(argv);
  REQUIRE(result);
  return *result;
}

// gpgv's verdict on SIGNATURE (and DATA, for a detached signature) with
// KEYRING as the only trusted key.
aptship::SubprocessResult gpgv(TestHome& t, const fs::path& keyring, const fs::path& signature,
                               const fs::path& data = {}) {
  std::vector<std::string> argv{"gpgv",      "--homedir",      t.scratch_home().string(),
                                "--keyring", keyring.string(), signature.string()};
  if (!data.empty()) {
    argv.push_back(data.string());
  }
  return run_tool(argv);
}

// Deterministic bytes of any length, not all printable.
std::string pattern(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    out[i] = static_cast<char>((i * 7919 + i / 251) & 0xff);
  }
  return out;
}

bool is_upper_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); });
}

} // namespace

TEST_CASE("a new home gets mode 0700 and one ed25519 key, never a second", "[sign]") {
  TestHome t;
  auto signer = Signer::open(t.home());
  REQUIRE(signer);
  struct stat st {};
  REQUIRE(::stat(t.home().c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);

  auto fpr = signer->generate_key("aptship test <test@example.invalid>");
  REQUIRE(fpr);
  CHECK(fpr->size() == 40);
  CHECK(is_upper_hex(*fpr));

  auto again = signer->fingerprint();
  REQUIRE(again);
  CHECK(*again == *fpr);

  auto second = signer->generate_key("another <other@example.invalid>");
  REQUIRE_FALSE(second);
  CHECK_THAT(second.error().message(), Catch::Contains("refusing"));
  CHECK_THAT(second.error().message(), Catch::Contains(*fpr));

  // A second Signer on the same home sees the same single key.
  auto reopened = Signer::open(t.home());
  REQUIRE(reopened);
  auto fpr2 = reopened->fingerprint();
  REQUIRE(fpr2);
  CHECK(*fpr2 == *fpr);
}

TEST_CASE("a home without a key says so and names the home", "[sign]") {
  TestHome t;
  auto signer = Signer::open(t.home());
  REQUIRE(signer);
  auto fpr = signer->fingerprint();
  REQUIRE_FALSE(fpr);
  CHECK(fpr.error().message() == "no signing key in " + t.home().string());

  auto sig = signer->sign_detached(std::string_view("data"), Armor::no);
  REQUIRE_FALSE(sig);
  CHECK_THAT(sig.error().message(), Catch::Contains("no signing key in " + t.home().string()));
}

TEST_CASE("opening a home whose parent is missing fails", "[sign]") {
  ScopedTempDir dir;
  auto signer = Signer::open(dir.path() / "missing" / "gnupg");
  REQUIRE_FALSE(signer);
  CHECK_THAT(signer.error().message(), Catch::Contains("creating GnuPG home"));
}

TEST_CASE("a home too long for gpg-agent's sockets is refused with the limit", "[sign]") {
  if (fs::exists("/run/user/" + std::to_string(::getuid()))) {
    // GnuPG puts the sockets under /run/user/UID there: any home works.
    SUCCEED("sockets live under /run/user");
    return;
  }
  ScopedTempDir dir;
  fs::path parent = dir.path() / std::string(100, 'x');
  fs::create_directories(parent);
  auto signer = Signer::open(parent / "gnupg");
  REQUIRE_FALSE(signer);
  CHECK_THAT(signer.error().message(), Catch::Contains("limit of UNIX sockets"));
}

TEST_CASE("the public key exports as a binary keyring and as armored text", "[sign]") {
  TestHome t;
  Signer signer = t.signer_with_key();
  auto fpr = signer.fingerprint();
  REQUIRE(fpr);

  auto binary = signer.export_public(Armor::no);
  REQUIRE(binary);
  REQUIRE_FALSE(binary->empty());
  // An OpenPGP packet header: bit 7 set; the first packet is a public key (tag 6).
  auto first = static_cast<unsigned char>((*binary)[0]);
  CHECK((first & 0x80) != 0);
  unsigned tag = (first & 0x40) != 0 ? (first & 0x3f) : ((first >> 2) & 0x0f);
  CHECK(tag == 6);

  auto armored = signer.export_public(Armor::yes);
  REQUIRE(armored);
  CHECK(armored->rfind("-----BEGIN PGP PUBLIC KEY BLOCK-----\n", 0) == 0);
  CHECK_THAT(*armored, Catch::Contains("-----END PGP PUBLIC KEY BLOCK-----"));

  // gpg itself reads both as the same single ed25519 signing key.
  for (const std::string* exported : {&*binary, &*armored}) {
    write(t.path("key"), *exported);
    auto shown = run_tool({"gpg", "--homedir", t.scratch_home().string(), "--batch",
                           "--with-colons", "--show-keys", t.path("key").string()});
    REQUIRE(shown.ok());
    CHECK_THAT(shown.out, Catch::Contains("fpr:::::::::" + *fpr + ":"));
    CHECK_THAT(shown.out, Catch::Contains(":ed25519:"));
    CHECK_THAT(shown.out, Catch::Contains("aptship test <test@example.invalid>"));
    CHECK_THAT(shown.out, !Catch::Contains("sec:"));
  }
}

TEST_CASE("a detached signature over streamed input verifies with gpgv", "[sign]") {
  TestHome t;
  Signer signer = t.signer_with_key();
  auto keyring = signer.export_public(Armor::no);
  REQUIRE(keyring);
  write(t.path("keyring.gpg"), *keyring);

  const std::string data = pattern(3 * 1024 * 1024 + 17);
  write(t.path("payload"), data);

  // Hands out at most 4000 bytes per call, so GPGME must pull repeatedly.
  size_t offset = 0;
  int calls = 0;
  aptship::sign::ReadFn read_fn = [&](void* buffer, size_t size) -> ssize_t {
    ++calls;
    size_t n = std::min({size, size_t{4000}, data.size() - offset});
    std::memcpy(buffer, data.data() + offset, n);
    offset += n;
    return static_cast<ssize_t>(n);
  };

  SECTION("binary") {
    auto sig = signer.sign_detached(read_fn, Armor::no);
    REQUIRE(sig);
    CHECK(offset == data.size());
    CHECK(calls > 1);
    write(t.path("payload.sig"), *sig);
  }
  SECTION("armored") {
    auto sig = signer.sign_detached(read_fn, Armor::yes);
    REQUIRE(sig);
    CHECK(sig->rfind("-----BEGIN PGP SIGNATURE-----\n", 0) == 0);
    write(t.path("payload.sig"), *sig);
  }

  auto good = gpgv(t, t.path("keyring.gpg"), t.path("payload.sig"), t.path("payload"));
  INFO(good.err);
  CHECK(good.ok());

  std::string modified = data;
  modified[modified.size() / 2] ^= 0x01;
  write(t.path("payload"), modified);
  auto bad = gpgv(t, t.path("keyring.gpg"), t.path("payload.sig"), t.path("payload"));
  CHECK_FALSE(bad.ok());
  CHECK_THAT(bad.err, Catch::Contains("BAD signature"));
}

TEST_CASE("a detached signature over a string verifies with gpgv and uses SHA512", "[sign]") {
  TestHome t;
  Signer signer = t.signer_with_key();
  auto keyring = signer.export_public(Armor::yes);
  REQUIRE(keyring);
  write(t.path("keyring.asc"), *keyring);
  // gpgv reads binary keyrings only; dearmor through gpg.
  auto dearmored =
      run_tool({"gpg", "--homedir", t.scratch_home().string(), "--batch", "--dearmor", "--output",
                t.path("keyring.gpg").string(), t.path("keyring.asc").string()});
  REQUIRE(dearmored.ok());

  const std::string text = "Origin: aptship\nSuite: stable\n";
  write(t.path("Release"), text);
  auto sig = signer.sign_detached(std::string_view(text), Armor::yes);
  REQUIRE(sig);
  write(t.path("Release.gpg"), *sig);

  auto verdict = gpgv(t, t.path("keyring.gpg"), t.path("Release.gpg"), t.path("Release"));
  INFO(verdict.err);
  CHECK(verdict.ok());

  auto packets = run_tool({"gpg", "--homedir", t.scratch_home().string(), "--batch",
                           "--list-packets", t.path("Release.gpg").string()});
  REQUIRE(packets.ok());
  // OpenPGP hash algorithm 10 is SHA512 (RFC 4880, 9.4); 22 is EdDSA.
  CHECK_THAT(packets.out, Catch::Contains(":signature packet: algo 22"));
  CHECK_THAT(packets.out, Catch::Contains("digest algo 10,"));
}

TEST_CASE("clearsigned text verifies with gpgv and yields the text back", "[sign]") {
  TestHome t;
  Signer signer = t.signer_with_key();
  auto keyring = signer.export_public(Armor::no);
  REQUIRE(keyring);
  write(t.path("keyring.gpg"), *keyring);

  const std::string text = "Origin: aptship\nLabel: aptship\nSuite: stable\n"
                           "-dash line\nSHA256:\n 0123 12 main/Packages\n";
  auto signed_text = signer.clearsign(text);
  REQUIRE(signed_text);
  CHECK(signed_text->rfind("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n", 0) == 0);
  write(t.path("InRelease"), *signed_text);

  auto verdict = run_tool({"gpgv", "--homedir", t.scratch_home().string(), "--keyring",
                           t.path("keyring.gpg").string(), "--output", t.path("out").string(),
                           t.path("InRelease").string()});
  INFO(verdict.err);
  CHECK(verdict.ok());
  CHECK(read(t.path("out")) == text);

  std::string tampered = *signed_text;
  auto at = tampered.find("stable");
  REQUIRE(at != std::string::npos);
  tampered.replace(at, 6, "stabme");
  write(t.path("InRelease"), tampered);
  auto bad = gpgv(t, t.path("keyring.gpg"), t.path("InRelease"));
  CHECK_FALSE(bad.ok());
}

TEST_CASE("signers of two homes in one process each sign with their own key", "[sign]") {
  // Whichever home the process opened first is GPGME's global one; the
  // other is set per operation. Both orders of use must keep them apart.
  TestHome a;
  TestHome b;
  Signer signer_a = a.signer_with_key();
  Signer signer_b = b.signer_with_key();
  auto fpr_a = signer_a.fingerprint();
  auto fpr_b = signer_b.fingerprint();
  REQUIRE(fpr_a);
  REQUIRE(fpr_b);
  CHECK(*fpr_a != *fpr_b);

  const std::string text = "Suite: stable\n";
  for (int round = 0; round < 2; ++round) {
    for (auto [t, signer] : {std::pair<TestHome*, Signer*>{&b, &signer_b}, {&a, &signer_a}}) {
      auto keyring = signer->export_public(Armor::no);
      REQUIRE(keyring);
      write(t->path("keyring.gpg"), *keyring);
      write(t->path("Release"), text);
      auto sig = signer->sign_detached(std::string_view(text), Armor::no);
      REQUIRE(sig);
      write(t->path("Release.gpg"), *sig);
      auto verdict = gpgv(*t, t->path("keyring.gpg"), t->path("Release.gpg"), t->path("Release"));
      INFO(verdict.err);
      CHECK(verdict.ok());
    }
  }
  // Each signature fails against the other home's key.
  auto crossed = gpgv(a, b.path("keyring.gpg"), a.path("Release.gpg"), a.path("Release"));
  CHECK_FALSE(crossed.ok());
}

TEST_CASE("a failing reader fails the signature with context", "[sign]") {
  TestHome t;
  Signer signer = t.signer_with_key();
  int calls = 0;
  auto sig = signer.sign_detached(
      [&](void* buffer, size_t size) -> ssize_t {
        if (calls++ == 0) {
          std::memset(buffer, 'a', std::min(size, size_t{10}));
          return static_cast<ssize_t>(std::min(size, size_t{10}));
        }
        errno = EIO;
        return -1;
      },
      Armor::no);
  REQUIRE_FALSE(sig);
  CHECK_THAT(sig.error().message(),
             Catch::StartsWith("signing with key in " + t.home().string() + ": "));
}

TEST_CASE("debsig key id and policy", "[sign]") {
  const std::string fpr = "0123456789abcdef0123456789ABCDEF01234567";
  CHECK(aptship::sign::debsig_key_id(fpr) == "89ABCDEF01234567");

  std::string policy = aptship::sign::debsig_policy(fpr);
  CHECK(policy.rfind("<?xml version=\"1.0\"?>\n", 0) == 0);
  CHECK_THAT(policy, Catch::Contains("<Policy xmlns=\"https://www.debian.org/debsig/1.0/\">"));
  CHECK_THAT(policy, Catch::Contains("<Origin Name=\"aptship\" id=\"89ABCDEF01234567\""));
  CHECK_THAT(policy, Catch::Contains("<Selection>\n    <Required Type=\"origin\" "
                                     "File=\"debsig.gpg\" id=\"89ABCDEF01234567\"/>"));
  CHECK_THAT(policy,
             Catch::Contains("<Verification MinOptional=\"0\">\n    <Required "
                             "Type=\"origin\" File=\"debsig.gpg\" id=\"89ABCDEF01234567\"/>"));

  std::string other = aptship::sign::debsig_policy(fpr, "a&b.gpg");
  CHECK_THAT(other, Catch::Contains("File=\"a&amp;b.gpg\""));
}

TEST_CASE("debsig-verify accepts a package signed over its members with the policy", "[sign]") {
  TestHome t;
  Signer signer = t.signer_with_key();
  auto fpr = signer.fingerprint();
  REQUIRE(fpr);
  auto keyring = signer.export_public(Armor::no);
  REQUIRE(keyring);

  write(t.path("pkg/DEBIAN/control"), "Package: hello\nVersion: 1.0\nArchitecture: all\n"
                                      "Maintainer: aptship <test@example.invalid>\n"
                                      "Description: test package\n");
  write(t.path("pkg/usr/share/hello/hello.txt"), "hello\n");
  auto built = run_tool({"dpkg-deb", "--root-owner-group", "-Zxz", "-b", t.path("pkg").string(),
                         t.path("hello.deb").string()});
  INFO(built.err);
  REQUIRE(built.ok());
  fs::create_directories(t.path("members"));
  aptship::SubprocessOptions in_members;
  in_members.cwd = t.path("members");
  auto extracted = aptship::run({"ar", "x", t.path("hello.deb").string()}, in_members);
  REQUIRE(extracted);
  REQUIRE(extracted->ok());

  // Streams debian-binary, control.tar.xz and data.tar.xz in turn, as the
  // _gpgorigin signature covers them.
  std::string members = read(t.path("members/debian-binary")) +
                        read(t.path("members/control.tar.xz")) +
                        read(t.path("members/data.tar.xz"));
  size_t offset = 0;
  auto sig = signer.sign_detached(
      [&](void* buffer, size_t size) -> ssize_t {
        size_t n = std::min(size, members.size() - offset);
        std::memcpy(buffer, members.data() + offset, n);
        offset += n;
        return static_cast<ssize_t>(n);
      },
      Armor::no);
  REQUIRE(sig);
  write(t.path("members/_gpgorigin"), *sig);
  auto appended = aptship::run({"ar", "q", t.path("hello.deb").string(), "_gpgorigin"}, in_members);
  REQUIRE(appended);
  REQUIRE(appended->ok());

  std::string id = aptship::sign::debsig_key_id(*fpr);
  write(t.path("root/etc/debsig/policies/" + id + "/aptship.pol"),
        aptship::sign::debsig_policy(*fpr));
  write(t.path("root/usr/share/debsig/keyrings/" + id + "/debsig.gpg"), *keyring);

  auto verdict =
      run_tool({"debsig-verify", "--root", t.path("root").string(), t.path("hello.deb").string()});
  INFO(verdict.out << verdict.err);
  CHECK(verdict.ok());
}
