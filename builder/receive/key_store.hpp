#pragma once

// Who may push: the SSH keys aptship knows, by name, each with its access
// list, kept in one TOML file (DATA/keys.toml) written atomically.
//
//   authorized_keys = "/var/lib/aptship/.ssh/authorized_keys"
//   [keys.alice]
//   key = "ssh-ed25519 AAAA..."
//   fingerprint = "SHA256:..."
//   admin = true              # every app, and may create apps
//   apps = ["hello", "web"]   # the apps this key may push to and fetch

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/data_dir.hpp"
#include "aptrepo/core/error.hpp"
#include "builder/receive/ssh_key.hpp"

namespace aptship::receive {

// Whether a key is an administrator's.
enum class Admin { no, yes };

struct PushKey {
  std::string name;
  PublicKey key;
  std::string fingerprint;       // "SHA256:..."
  Admin admin = Admin::no;       // all apps, and may create apps
  std::vector<std::string> apps; // sorted, without duplicates

  // True when this key may push to and fetch APP.
  [[nodiscard]] bool may_access(std::string_view app) const;
};

// Succeeds when NAME can name a key: [A-Za-z0-9][A-Za-z0-9._@-]{0,63}.
// Key names appear unquoted in authorized_keys commands.
[[nodiscard]] Expected<void> validate_key_name(std::string_view name);

// DATA/keys.toml.
[[nodiscard]] std::filesystem::path key_store_path(const DataDir& data);

class KeyStore {
public:
  // Parses the text of a keys.toml file; every problem is reported at once.
  [[nodiscard]] static Expected<KeyStore> parse(std::string_view text, std::string_view source);
  // Loads DATA/keys.toml; a missing file is an empty store.
  [[nodiscard]] static Expected<KeyStore> load(const DataDir& data);

  // The TOML text that parse() reads back to this store.
  [[nodiscard]] std::string serialize() const;
  // Writes DATA/keys.toml atomically (mode 0600).
  [[nodiscard]] Expected<void> save(const DataDir& data) const;

  // The keys, sorted by name.
  [[nodiscard]] const std::vector<PushKey>& keys() const { return m_keys; }
  // The key named NAME, or nullptr.
  [[nodiscard]] const PushKey* find(std::string_view name) const;

  // Adds KEY; refuses a name or a key that is already there.
  [[nodiscard]] Expected<void> add(PushKey key);
  // Removes the key named NAME; an unknown name is an error.
  [[nodiscard]] Expected<void> remove(std::string_view name);
  // Adds APP to the access list of key NAME (a no-op if listed).
  [[nodiscard]] Expected<void> allow(std::string_view name, std::string_view app);
  // Removes APP from the access list of key NAME; an app that is not
  // listed is an error, so that a typo does not pass for a revocation.
  [[nodiscard]] Expected<void> deny(std::string_view name, std::string_view app);

  // The authorized_keys file the keys were last written to, if any.
  [[nodiscard]] const std::optional<std::filesystem::path>& authorized_keys() const {
    return m_authorized_keys;
  }
  // Records FILE as the authorized_keys file.
  void set_authorized_keys(std::filesystem::path file) { m_authorized_keys = std::move(file); }

private:
  PushKey* find_mutable(std::string_view name);
  std::vector<PushKey> m_keys;
  std::optional<std::filesystem::path> m_authorized_keys;
};

// Loads the store under an exclusive lock (DATA/keys.lock), runs CHANGE on
// it and saves it if CHANGE succeeds, so that concurrent `aptship keys`
// commands never lose each other's changes. The data dir must exist.
[[nodiscard]] Expected<void>
modify_key_store(const DataDir& data, const std::function<Expected<void>(KeyStore&)>& change);

} // namespace aptship::receive
