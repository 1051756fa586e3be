#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

#include "builder/receive/key_store.hpp"
#include "testutil.hpp"

namespace fs = std::filesystem;
using aptship::DataDir;
using aptship::Expected;
using aptship::receive::Admin;
using aptship::receive::KeyStore;
using aptship::receive::PushKey;

namespace {

// A syntactically valid key; the store never runs ssh-keygen itself.
PushKey make_key(const std::string& name, const std::string& blob, Admin admin = Admin::no,
                 std::vector<std::string> apps = {}) {
  return PushKey{
      name, {"ssh-ed25519", blob, name + "@laptop"}, "SHA256:" + name, admin, std::move(apps)};
}

std::vector<std::string> names(const KeyStore& store) {
  std::vector<std::string> out;
  for (const PushKey& key : store.keys()) {
    out.push_back(key.name);
  }
  return out;
}

} // namespace

TEST_CASE("key names", "[key_store]") {
  using aptship::receive::validate_key_name;
  for (const char* good : {"alice", "Alice.Laptop", "ci-bot_2", "bob@home", "x"}) {
    INFO(good);
    CHECK(validate_key_name(good));
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "-x", ".x", "a b", "a/b", "a\"b", "a;b", "a$b", "a\nb",
                                std::string(65, 'a'), "\xc3\xa9"}) {
    INFO(bad);
    CHECK_FALSE(validate_key_name(bad));
  }
}

TEST_CASE("add, allow, deny and remove keep the store sorted and consistent", "[key_store]") {
  KeyStore store;
  REQUIRE(store.add(make_key("carol", "AAAA", Admin::no, {"web", "api", "web"})));
  REQUIRE(store.add(make_key("alice", "BBBB", Admin::yes)));
  CHECK(names(store) == std::vector<std::string>{"alice", "carol"});
  CHECK(store.find("carol")->apps == std::vector<std::string>{"api", "web"});

  auto same_name = store.add(make_key("carol", "CCCC"));
  REQUIRE_FALSE(same_name);
  CHECK_THAT(same_name.error().message(), Catch::Contains("already exists"));
  auto same_key = store.add(make_key("dave", "AAAA"));
  REQUIRE_FALSE(same_key);
  CHECK_THAT(same_key.error().message(), Catch::Contains("already registered as carol"));
  CHECK_FALSE(store.add(make_key("bad name", "DDDD")));
  CHECK_FALSE(store.add(make_key("eve", "EEEE", Admin::no, {"Bad_App"})));
  CHECK(names(store) == std::vector<std::string>{"alice", "carol"});

  REQUIRE(store.allow("carol", "blog"));
  REQUIRE(store.allow("carol", "blog"));
  CHECK(store.find("carol")->apps == std::vector<std::string>{"api", "blog", "web"});
  CHECK_FALSE(store.allow("carol", "../x"));
  CHECK_FALSE(store.allow("nobody", "web"));
  REQUIRE(store.deny("carol", "api"));
  auto not_listed = store.deny("carol", "api");
  REQUIRE_FALSE(not_listed);
  CHECK_THAT(not_listed.error().message(), Catch::Contains("blog, web"));

  CHECK(store.find("alice")->may_access("anything"));
  CHECK(store.find("carol")->may_access("web"));
  CHECK_FALSE(store.find("carol")->may_access("api"));

  REQUIRE(store.remove("alice"));
  CHECK_FALSE(store.remove("alice"));
  CHECK(names(store) == std::vector<std::string>{"carol"});
}

TEST_CASE("the store survives a save and load unchanged", "[key_store]") {
  aptship::test::ScopedTempDir tmp;
  DataDir data(tmp.path());
  KeyStore store;
  REQUIRE(store.add(make_key("alice", "AAAA", Admin::yes)));
  REQUIRE(store.add(make_key("bob@home", "BBBB", Admin::no, {"web", "api"})));
  store.set_authorized_keys("/home/aptship/.ssh/authorized_keys");
  REQUIRE(store.save(data));

  struct stat st {};
  REQUIRE(::stat((tmp.path() / "keys.toml").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  const std::string text = aptship::test::read(tmp.path() / "keys.toml");
  CHECK_THAT(text, Catch::Contains("[keys.alice]\n"));
  CHECK_THAT(text, Catch::Contains("[keys.\"bob@home\"]\n"));
  CHECK_THAT(text, Catch::Contains("apps = [\"api\", \"web\"]\n"));

  auto loaded = KeyStore::load(data);
  REQUIRE(loaded);
  CHECK(loaded->serialize() == store.serialize());
  CHECK(loaded->authorized_keys() == fs::path("/home/aptship/.ssh/authorized_keys"));
  const PushKey* bob = loaded->find("bob@home");
  REQUIRE(bob != nullptr);
  CHECK(bob->key.type == "ssh-ed25519");
  CHECK(bob->key.base64 == "BBBB");
  CHECK(bob->key.comment == "bob@home@laptop");
  CHECK(bob->fingerprint == "SHA256:bob@home");
  CHECK(bob->admin == Admin::no);
  CHECK(bob->apps == std::vector<std::string>{"api", "web"});
  CHECK(loaded->find("alice")->admin == Admin::yes);

  auto empty = KeyStore::load(DataDir(tmp.path() / "none"));
  REQUIRE(empty);
  CHECK(empty->keys().empty());
  CHECK_FALSE(empty->authorized_keys());
}

TEST_CASE("a bad keys.toml reports every problem at once", "[key_store]") {
  auto result = KeyStore::parse(R"(
authorized_keys = 3
colour = "blue"
[keys.alice]
key = "ssh-ed25519 AAAA"
fingerprint = "SHA256:x"
admin = "yes"
apps = ["web", "Bad_App"]
typo = 1
[keys.bob]
key = "not a key"
[keys."bad name"]
key = "ssh-ed25519 BBBB"
fingerprint = "SHA256:y"
)",
                                "keys.toml");
  REQUIRE_FALSE(result);
  const std::string& message = result.error().message();
  for (const char* part :
       {"keys.toml: ", "authorized_keys: expected a file name", "colour: unknown key",
        "keys.alice.admin: expected true or false", "keys.alice.apps: app name 'Bad_App'",
        "keys.alice.typo: unknown key", "keys.bob.key: unknown key type",
        "keys.bob: missing 'fingerprint'", "keys.bad name: key name 'bad name'"}) {
    INFO(part);
    CHECK_THAT(message, Catch::Contains(part));
  }
  auto syntax = KeyStore::parse("[keys\n", "keys.toml");
  REQUIRE_FALSE(syntax);
  CHECK_THAT(syntax.error().message(), Catch::StartsWith("keys.toml:1:"));
}

TEST_CASE("modify_key_store saves on success only and serializes writers", "[key_store]") {
  aptship::test::ScopedTempDir tmp;
  DataDir data(tmp.path());
  REQUIRE(aptship::receive::modify_key_store(data, [](KeyStore& store) -> Expected<void> {
    return store.add(make_key("alice", "AAAA"));
  }));
  auto failed = aptship::receive::modify_key_store(data, [](KeyStore& store) -> Expected<void> {
    TRY(store.remove("alice"));
    return aptship::make_error("changed my mind");
  });
  REQUIRE_FALSE(failed);
  CHECK(KeyStore::load(data)->find("alice") != nullptr);

  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0); // Catch2 assertions are not thread-safe
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&data, &ok, i] {
      auto r = aptship::receive::modify_key_store(data, [i](KeyStore& store) -> Expected<void> {
        return store.allow("alice", "app" + std::to_string(i));
      });
      ok[static_cast<size_t>(i)] = r ? 1 : 0;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(ok == std::vector<int>(8, 1));
  CHECK(KeyStore::load(data)->find("alice")->apps.size() == 8);

  auto missing = aptship::receive::modify_key_store(DataDir(tmp.path() / "none"),
                                                    [](KeyStore&) -> Expected<void> { return {}; });
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message(), Catch::Contains("aptship init"));
}
