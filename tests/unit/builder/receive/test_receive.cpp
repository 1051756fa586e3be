#include <catch2/catch.hpp>

#include <string>

#include "builder/receive/receive.hpp"

using aptship::receive::Admin;
using aptship::receive::authorize;
using aptship::receive::GitRequest;
using aptship::receive::GitService;
using aptship::receive::KeyStore;
using aptship::receive::PushKey;
using aptship::receive::ReceiveAction;
using aptship::receive::RepoState;

namespace {

KeyStore make_store() {
  KeyStore store;
  auto add = [&](const std::string& name, const std::string& blob, Admin admin,
                 std::vector<std::string> apps) {
    REQUIRE(
        store.add(PushKey{name, {"ssh-ed25519", blob, ""}, "SHA256:x", admin, std::move(apps)}));
  };
  add("root", "AAAA", Admin::yes, {});
  add("dev", "BBBB", Admin::no, {"web", "planned"});
  add("nobody", "CCCC", Admin::no, {});
  return store;
}

const GitRequest k_push_web{GitService::receive_pack, "web"};
const GitRequest k_fetch_web{GitService::upload_pack, "web"};

} // namespace

TEST_CASE("admin keys may push, fetch and create any app", "[receive]") {
  const KeyStore store = make_store();
  CHECK(authorize(store, "root", k_push_web, RepoState::exists).value() == ReceiveAction::serve);
  CHECK(authorize(store, "root", k_fetch_web, RepoState::exists).value() == ReceiveAction::serve);
  CHECK(authorize(store, "root", {GitService::receive_pack, "new"}, RepoState::missing).value() ==
        ReceiveAction::create_then_serve);
}

TEST_CASE("other keys may use, and create, only the apps they list", "[receive]") {
  const KeyStore store = make_store();
  CHECK(authorize(store, "dev", k_push_web, RepoState::exists).value() == ReceiveAction::serve);
  CHECK(authorize(store, "dev", k_fetch_web, RepoState::exists).value() == ReceiveAction::serve);
  CHECK(
      authorize(store, "dev", {GitService::receive_pack, "planned"}, RepoState::missing).value() ==
      ReceiveAction::create_then_serve);

  auto push = authorize(store, "dev", {GitService::receive_pack, "api"}, RepoState::exists);
  REQUIRE_FALSE(push);
  CHECK(push.error().message() ==
        "key dev may not push to app api: ask an admin to run 'aptship keys allow dev api'");
  auto fetch = authorize(store, "dev", {GitService::upload_pack, "api"}, RepoState::exists);
  REQUIRE_FALSE(fetch);
  CHECK_THAT(fetch.error().message(), Catch::Contains("may not fetch from app api"));
  // Refused before existence is even considered: no probing for app names.
  auto create = authorize(store, "nobody", {GitService::receive_pack, "api"}, RepoState::missing);
  REQUIRE_FALSE(create);
  CHECK_THAT(create.error().message(), Catch::Contains("may not push to app api"));
  auto probe = authorize(store, "nobody", {GitService::upload_pack, "api"}, RepoState::missing);
  REQUIRE_FALSE(probe);
  CHECK_THAT(probe.error().message(), Catch::Contains("may not fetch from"));
}

TEST_CASE("fetching a missing app is an error, for admins too", "[receive]") {
  const KeyStore store = make_store();
  auto result = authorize(store, "root", {GitService::upload_pack, "new"}, RepoState::missing);
  REQUIRE_FALSE(result);
  CHECK(result.error().message() == "app new does not exist yet: push to it first");
}

TEST_CASE("a key missing from the store is refused", "[receive]") {
  const KeyStore store = make_store();
  auto result = authorize(store, "ghost", k_push_web, RepoState::exists);
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::Contains("key ghost is not registered"));
}
