#include "builder/receive/key_store.hpp"

#include <algorithm>
#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <sys/file.h>
#include <toml++/toml.h>

#include "aptrepo/core/atomic_file.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/problems.hpp"
#include "aptrepo/core/text.hpp"
#include "builder/receive/app_name.hpp"

namespace aptship::receive {

namespace fs = std::filesystem;

namespace {

// A TOML basic string.
std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\u{:04x}", byte);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// A TOML key: bare when it can be, quoted otherwise ("bob@home").
std::string toml_key(std::string_view key) {
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-')) {
      return toml_string(key);
    }
  }
  return key.empty() ? toml_string(key) : std::string(key);
}

std::optional<PushKey> read_key(std::string_view name, const toml::table& table,
                                Problems& problems) {
  const std::string where = fmt::format("keys.{}", name);
  PushKey key;
  key.name = std::string(name);
  if (auto valid = validate_key_name(name); !valid) {
    problems.add(fmt::format("{}: {}", where, valid.error().message()));
  }
  bool has_key = false;
  bool has_fingerprint = false;
  for (const auto& [field, node] : table) {
    const std::string path = fmt::format("{}.{}", where, printable(field.str()));
    if (field == "key") {
      const auto* text = node.as_string();
      if (text == nullptr) {
        problems.add(path + ": expected a string");
        continue;
      }
      auto parsed = parse_public_key(text->get());
      if (!parsed) {
        problems.add(fmt::format("{}: {}", path, parsed.error().message()));
        continue;
      }
      key.key = std::move(*parsed);
      has_key = true;
    } else if (field == "fingerprint") {
      const auto* text = node.as_string();
      if (text == nullptr) {
        problems.add(path + ": expected a string");
        continue;
      }
      key.fingerprint = text->get();
      has_fingerprint = true;
    } else if (field == "admin") {
      const auto* flag = node.as_boolean();
      if (flag == nullptr) {
        problems.add(path + ": expected true or false");
        continue;
      }
      key.admin = flag->get() ? Admin::yes : Admin::no;
    } else if (field == "apps") {
      const auto* array = node.as_array();
      if (array == nullptr) {
        problems.add(path + ": expected an array of app names");
        continue;
      }
      for (const toml::node& item : *array) {
        const auto* app = item.as_string();
        if (app == nullptr) {
          problems.add(path + ": expected an array of app names");
          break;
        }
        if (auto valid = validate_app_name(app->get()); !valid) {
          problems.add(fmt::format("{}: {}", path, valid.error().message()));
          continue;
        }
        key.apps.push_back(app->get());
      }
    } else {
      problems.add(path + ": unknown key");
    }
  }
  if (!has_key) {
    problems.add(where + ": missing 'key'");
  }
  if (!has_fingerprint) {
    problems.add(where + ": missing 'fingerprint'");
  }
  std::sort(key.apps.begin(), key.apps.end());
  key.apps.erase(std::unique(key.apps.begin(), key.apps.end()), key.apps.end());
  return key;
}

bool is_key_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '@' || c == '-';
}

} // namespace

bool PushKey::may_access(std::string_view app) const {
  return admin == Admin::yes || std::binary_search(apps.begin(), apps.end(), app);
}

Expected<void> validate_key_name(std::string_view name) {
  if (name.empty()) {
    return make_error("the key name is empty");
  }
  const std::string shown = printable(name.substr(0, 80));
  if (name.size() > 64) {
    return make_error("key name '{}' is too long: at most 64 characters", shown);
  }
  const char first = name.front();
  if (first == '.' || first == '_' || first == '@' || first == '-') {
    return make_error("key name '{}' must start with a letter or a digit", shown);
  }
  for (char c : name) {
    if (!is_key_name_char(c)) {
      return make_error("key name '{}' may only contain letters, digits and . _ @ -", shown);
    }
  }
  return {};
}

fs::path key_store_path(const DataDir& data) {
  return data.root() / "keys.toml";
}

Expected<KeyStore> KeyStore::parse(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return make_error("{}:{}:{}: {}", source, e.source().begin.line, e.source().begin.column,
                      printable(e.description()));
  }
  KeyStore store;
  Problems problems;
  for (const auto& [field, node] : root) {
    if (field == "authorized_keys") {
      const auto* path = node.as_string();
      if (path == nullptr || path->get().empty()) {
        problems.add("authorized_keys: expected a file name");
        continue;
      }
      store.m_authorized_keys = fs::path(path->get());
    } else if (field == "keys") {
      const auto* keys = node.as_table();
      if (keys == nullptr) {
        problems.add("keys: expected a table");
        continue;
      }
      for (const auto& [name, entry] : *keys) {
        const auto* table = entry.as_table();
        if (table == nullptr) {
          problems.add(fmt::format("keys.{}: expected a table", printable(name.str())));
          continue;
        }
        if (auto key = read_key(name.str(), *table, problems)) {
          store.m_keys.push_back(std::move(*key));
        }
      }
    } else {
      problems.add(fmt::format("{}: unknown key", printable(field.str())));
    }
  }
  if (!problems.empty()) {
    return make_error("{}: {}", source, problems.joined());
  }
  std::sort(store.m_keys.begin(), store.m_keys.end(),
            [](const PushKey& a, const PushKey& b) { return a.name < b.name; });
  return store;
}

Expected<KeyStore> KeyStore::load(const DataDir& data) {
  const fs::path path = key_store_path(data);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return KeyStore();
  }
  TRY_ASSIGN(std::string text, read_file(path));
  return parse(text, path.string());
}

std::string KeyStore::serialize() const {
  std::string out = "# The SSH keys that may push to aptship. Change them with `aptship keys`.\n";
  if (m_authorized_keys) {
    out += fmt::format("authorized_keys = {}\n", toml_string(m_authorized_keys->string()));
  }
  for (const PushKey& key : m_keys) {
    out += fmt::format("\n[keys.{}]\n", toml_key(key.name));
    out += fmt::format(
        "key = {}\n",
        toml_string(key.key.text() + (key.key.comment.empty() ? "" : " " + key.key.comment)));
    out += fmt::format("fingerprint = {}\n", toml_string(key.fingerprint));
    out += fmt::format("admin = {}\n", key.admin == Admin::yes ? "true" : "false");
    out += "apps = [";
    for (size_t i = 0; i < key.apps.size(); ++i) {
      out += (i == 0 ? "" : ", ") + toml_string(key.apps[i]);
    }
    out += "]\n";
  }
  return out;
}

Expected<void> KeyStore::save(const DataDir& data) const {
  const fs::path path = key_store_path(data);
  TRY_CTX(write_file_atomic(path, serialize(), 0600), fmt::format("writing {}", path.string()));
  return {};
}

const PushKey* KeyStore::find(std::string_view name) const {
  for (const PushKey& key : m_keys) {
    if (key.name == name) {
      return &key;
    }
  }
  return nullptr;
}

PushKey* KeyStore::find_mutable(std::string_view name) {
  return const_cast<PushKey*>(find(name));
}

Expected<void> KeyStore::add(PushKey key) {
  TRY(validate_key_name(key.name));
  if (find(key.name) != nullptr) {
    return make_error("a key named {} already exists (remove it first to replace it)", key.name);
  }
  for (const PushKey& other : m_keys) {
    if (other.key.type == key.key.type && other.key.base64 == key.key.base64) {
      return make_error("this key is already registered as {}", other.name);
    }
  }
  for (const std::string& app : key.apps) {
    TRY(validate_app_name(app));
  }
  std::sort(key.apps.begin(), key.apps.end());
  key.apps.erase(std::unique(key.apps.begin(), key.apps.end()), key.apps.end());
  auto at = std::lower_bound(m_keys.begin(), m_keys.end(), key.name,
                             [](const PushKey& k, const std::string& n) { return k.name < n; });
  m_keys.insert(at, std::move(key));
  return {};
}

Expected<void> KeyStore::remove(std::string_view name) {
  auto it =
      std::find_if(m_keys.begin(), m_keys.end(), [&](const PushKey& k) { return k.name == name; });
  if (it == m_keys.end()) {
    return make_error("no key named {}", printable(name));
  }
  m_keys.erase(it);
  return {};
}

Expected<void> KeyStore::allow(std::string_view name, std::string_view app) {
  TRY(validate_app_name(app));
  PushKey* key = find_mutable(name);
  if (key == nullptr) {
    return make_error("no key named {}", printable(name));
  }
  auto at = std::lower_bound(key->apps.begin(), key->apps.end(), app);
  if (at == key->apps.end() || *at != app) {
    key->apps.insert(at, std::string(app));
  }
  return {};
}

Expected<void> KeyStore::deny(std::string_view name, std::string_view app) {
  PushKey* key = find_mutable(name);
  if (key == nullptr) {
    return make_error("no key named {}", printable(name));
  }
  auto at = std::lower_bound(key->apps.begin(), key->apps.end(), app);
  if (at == key->apps.end() || *at != app) {
    return make_error("key {} has no access to app {} to revoke (its apps: {})", name,
                      printable(app),
                      key->apps.empty() ? "none" : fmt::format("{}", fmt::join(key->apps, ", ")));
  }
  key->apps.erase(at);
  return {};
}

Expected<void> modify_key_store(const DataDir& data,
                                const std::function<Expected<void>(KeyStore&)>& change) {
  std::error_code ec;
  if (!fs::is_directory(data.root(), ec)) {
    return make_error("data dir {} does not exist: run 'aptship init' first", data.root().string());
  }
  const fs::path lock_path = data.root() / "keys.lock";
  TRY_ASSIGN(Fd lock, Fd::open(lock_path, O_RDWR | O_CREAT, 0600));
  while (::flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return errno_error(fmt::format("locking {}", lock_path.string()), errno);
    }
  }
  TRY_ASSIGN(KeyStore store, KeyStore::load(data));
  TRY(change(store));
  return store.save(data);
}

} // namespace aptship::receive
