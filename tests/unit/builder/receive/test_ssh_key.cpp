#include <catch2/catch.hpp>

#include <string>

#include "builder/receive/ssh_key.hpp"
#include "key_fixture.hpp"
#include "testutil.hpp"

using aptship::receive::key_fingerprint;
using aptship::receive::parse_public_key;

namespace {

// The fingerprint ssh-keygen itself prints for the key file PATH.
std::string fingerprint_of(const std::filesystem::path& path) {
  auto out = aptship::run_checked({"ssh-keygen", "-l", "-f", path.string()});
  REQUIRE(out);
  return out->substr(out->find(' ') + 1, out->find(' ', out->find(' ') + 1) - out->find(' ') - 1);
}

} // namespace

TEST_CASE("a .pub file parses into type, blob and comment", "[ssh_key]") {
  aptship::test::ScopedTempDir tmp;
  const std::string text = aptship::test::make_ssh_key(tmp.path(), "alice");
  auto key = parse_public_key(text);
  REQUIRE(key);
  CHECK(key->type == "ssh-ed25519");
  CHECK(key->comment == "alice@test");
  CHECK(text.starts_with(key->text() + " "));
  auto fingerprint = key_fingerprint(*key);
  REQUIRE(fingerprint);
  CHECK(*fingerprint == fingerprint_of(tmp.path() / "alice.pub"));
}

TEST_CASE("comments, blank lines and CRLF around the key are ignored", "[ssh_key]") {
  aptship::test::ScopedTempDir tmp;
  const std::string text = aptship::test::make_ssh_key(tmp.path(), "bob", "ecdsa");
  std::string line = text.substr(0, text.find('\n'));
  auto key = parse_public_key("# bob's laptop\n\n  " + line + "\r\n\n");
  REQUIRE(key);
  CHECK(key->type == "ecdsa-sha2-nistp256");
  CHECK(key->comment == "bob@test");
  auto bare = parse_public_key(key->text());
  REQUIRE(bare);
  CHECK(bare->comment.empty());
  CHECK(key_fingerprint(*bare));
}

TEST_CASE("RSA keys need 2048 bits", "[ssh_key]") {
  aptship::test::ScopedTempDir tmp;
  auto strong = parse_public_key(aptship::test::make_ssh_key(tmp.path(), "strong", "rsa", "3072"));
  REQUIRE(strong);
  CHECK(key_fingerprint(*strong));
  auto weak = parse_public_key(aptship::test::make_ssh_key(tmp.path(), "weak", "rsa", "1024"));
  REQUIRE(weak);
  auto result = key_fingerprint(*weak);
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::Contains("1024 bits"));
}

TEST_CASE("what is not one public key is refused with a hint", "[ssh_key]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::make_ssh_key(tmp.path(), "k");
  const std::string pub = aptship::test::read(tmp.path() / "k.pub");
  const std::string line = pub.substr(0, pub.find('\n'));
  struct Case {
    std::string text;
    const char* reason;
  };
  const Case cases[] = {
      {aptship::test::read(tmp.path() / "k"), "private key"},
      {"", "no public key"},
      {"# only a comment\n", "no public key"},
      {line + "\n" + line + "\n", "2 keys"},
      {"command=\"sh\" " + line, "unknown key type"},
      {"restrict " + line, "unknown key type"},
      {"ssh-dss AAAAB3NzaC1kc3MAAACBAP", "DSA"},
      {"ssh-ed25519", "not an OpenSSH public key line"},
      {"ssh-ed25519 not*base64", "base64"},
      {"ssh-ed25519 AAAA=B", "base64"},
      {"---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----\n", "ssh-keygen -i"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto result = parse_public_key(c.text);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains(c.reason));
  }
}

TEST_CASE("ssh-keygen rejects a damaged blob", "[ssh_key]") {
  aptship::test::ScopedTempDir tmp;
  auto key = parse_public_key(aptship::test::make_ssh_key(tmp.path(), "k"));
  REQUIRE(key);
  // Same type, truncated blob: valid base64, not a key.
  key->base64 = key->base64.substr(0, 40);
  auto result = key_fingerprint(*key);
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::Contains("ssh-keygen does not accept"));
  // A blob of another type than declared.
  auto rsa = parse_public_key(aptship::test::make_ssh_key(tmp.path(), "r", "rsa", "2048"));
  REQUIRE(rsa);
  rsa->type = "ssh-ed25519";
  CHECK_FALSE(key_fingerprint(*rsa));
}
