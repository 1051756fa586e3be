#include "aptrepo/sign/signer.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <optional>
#include <system_error>
#include <type_traits>
#include <vector>

#include <gpgme.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "aptrepo/core/atomic_file.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/subprocess.hpp"

namespace aptship::sign {

namespace {

// Oldest GPGME with gpgme_op_createkey and the flags used below.
constexpr const char* k_min_gpgme_version = "1.7.0";

// Rewritten on open whenever it differs, so that every home signs with SHA512
// (ed25519 would otherwise pick SHA256 by default).
constexpr std::string_view k_gpg_conf =
    "# Written by aptship, which owns this GnuPG home; edits are replaced.\n"
    "personal-digest-preferences SHA512\n"
    "digest-algo SHA512\n"
    "cert-digest-algo SHA512\n"
    "no-auto-key-retrieve\n";

// About the agent: gpg starts `gpg-agent --homedir HOME --daemon` on first
// need, and the agent outlives the aptship process as it outlives any gpg
// command. Stopping it when a Signer goes was considered and left out: the
// next command would pay for its start again (about 30 ms measured here),
// and KILLAGENT (what `gpgconf --kill` sends) makes the agent exit when
// that one connection closes, whoever else it is serving, so it would break
// a signature another aptship process (a second push, `serve`) is making
// with the same home. The agent exits by itself once HOME is removed (it
// watches the directory), so temporary data dirs leave no agent behind.

// The key has no passphrase and nobody watches a pinentry: any passphrase
// request must fail at once (loopback without a callback) instead of hanging.
constexpr std::string_view k_gpg_agent_conf =
    "# Written by aptship, which owns this GnuPG home; edits are replaced.\n"
    "allow-loopback-pinentry\n"
    "disable-scdaemon\n";

// The longest socket name gpg-agent creates in its socket directory.
constexpr std::string_view k_longest_socket = "S.gpg-agent.browser";
// GnuPG 2.2 refuses a socket path of sizeof(sun_path) - 1 bytes (measured: a
// home of 87 bytes fails, 86 works), so one more byte is kept free.
constexpr size_t k_max_socket_path = sizeof(sockaddr_un::sun_path) - 2;

struct ContextRelease {
  void operator()(gpgme_ctx_t ctx) const { gpgme_release(ctx); }
};
struct DataRelease {
  void operator()(gpgme_data_t data) const { gpgme_data_release(data); }
};
struct KeyRelease {
  void operator()(gpgme_key_t key) const { gpgme_key_unref(key); }
};
using ContextPtr = std::unique_ptr<std::remove_pointer_t<gpgme_ctx_t>, ContextRelease>;
using DataPtr = std::unique_ptr<std::remove_pointer_t<gpgme_data_t>, DataRelease>;
using KeyPtr = std::unique_ptr<std::remove_pointer_t<gpgme_key_t>, KeyRelease>;

std::string gpg_message(gpgme_error_t err) {
  return gpgme_strerror(err);
}

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// GPGME wants one global initialisation before any other call; its result
// (and the presence of a usable gpg) is remembered for every later open.
Expected<void> init_gpgme() {
  static std::once_flag once;
  static std::optional<Error> failure;
  std::call_once(once, [] {
    if (gpgme_check_version(k_min_gpgme_version) == nullptr) {
      failure = Error(fmt::format("GPGME {} is older than the {} aptship needs",
                                  gpgme_check_version(nullptr), k_min_gpgme_version));
      return;
    }
    if (gpgme_error_t err = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP); err != 0) {
      failure = Error(fmt::format("GnuPG (gpg) is not usable: {}", gpg_message(err)));
    }
  });
  if (failure) {
    return tl::unexpected<Error>(*failure);
  }
  return {};
}

// GPGME runs `gpg --version` whenever engine information is set, the
// per-context home included, and a publish makes three contexts. The first
// home a process opens therefore becomes GPGME's global home, which new
// contexts copy without running anything; another home (tests, `key
// export --home`) is still set per context. Returns whether HOME is the
// global one.
Expected<bool> claim_global_home(const std::filesystem::path& home) {
  static std::mutex mutex;
  static std::optional<std::filesystem::path> global;
  std::lock_guard lock(mutex);
  if (!global) {
    if (gpgme_error_t err = gpgme_set_engine_info(GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str());
        err != 0) {
      return make_error("GnuPG home {}: setting up GPGME: {}", home.string(), gpg_message(err));
    }
    global = home;
  }
  return *global == home;
}

Expected<DataPtr> new_data() {
  gpgme_data_t raw = nullptr;
  if (gpgme_error_t err = gpgme_data_new(&raw); err != 0) {
    return make_error("allocating a GPGME buffer: {}", gpg_message(err));
  }
  return DataPtr(raw);
}

Expected<DataPtr> data_from(std::string_view text) {
  gpgme_data_t raw = nullptr;
  // copy = 0: TEXT outlives the data object in every caller.
  if (gpgme_error_t err = gpgme_data_new_from_mem(&raw, text.data(), text.size(), 0); err != 0) {
    return make_error("wrapping input for GPGME: {}", gpg_message(err));
  }
  return DataPtr(raw);
}

Expected<std::string> read_all(gpgme_data_t data) {
  if (gpgme_data_seek(data, 0, SEEK_SET) < 0) {
    return errno_error("rewinding GPGME output", errno);
  }
  std::string out;
  char buffer[16384];
  for (;;) {
    ssize_t n = gpgme_data_read(data, buffer, sizeof buffer);
    if (n < 0) {
      return errno_error("reading GPGME output", errno);
    }
    if (n == 0) {
      return out;
    }
    out.append(buffer, static_cast<size_t>(n));
  }
}

// Feeds a ReadFn to GPGME. An exception must not unwind through GPGME's C
// frames, so it becomes an I/O error.
ssize_t read_callback(void* handle, void* buffer, size_t size) {
  try {
    return (*static_cast<const ReadFn*>(handle))(buffer, size);
  } catch (...) {
    errno = EIO;
    return -1;
  }
}

// Writes CONTENT to PATH unless it already holds exactly that.
Expected<void> ensure_file(const std::filesystem::path& path, std::string_view content) {
  if (auto current = read_file(path); current && *current == content) {
    return {};
  }
  return write_file_atomic(path, content, 0600);
}

// Percent-unescapes gpgconf's output ("%3a" is ':').
std::string unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) != 0 &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2])) != 0) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// gpg-agent binds UNIX sockets, whose paths are limited to about 106 bytes.
// They live in the home unless /run/user/UID exists, so only a long home
// needs asking gpgconf where they will really go.
Expected<void> check_socket_path(const std::filesystem::path& home, std::string_view display) {
  if (home.string().size() + 1 + k_longest_socket.size() <= k_max_socket_path) {
    return {};
  }
  TRY_ASSIGN(std::string out,
             run_checked({"gpgconf", "--homedir", home.string(), "--list-dirs", "socketdir"}));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
    out.pop_back();
  }
  std::string socket_dir = unescape(out);
  size_t length = socket_dir.size() + 1 + k_longest_socket.size();
  if (length > k_max_socket_path) {
    return make_error("GnuPG home {}: gpg-agent's socket path would be {} bytes, over the {}-byte "
                      "limit of UNIX sockets; use a GnuPG home whose absolute path is at most {} "
                      "bytes long",
                      display, length, k_max_socket_path,
                      k_max_socket_path - 1 - k_longest_socket.size());
  }
  return {};
}

} // namespace

struct Signer::Impl {
  std::filesystem::path home; // absolute, so a later chdir does not move it
  std::string display;        // as the caller named it, for messages

  // GPGME's set-up starts half a dozen gpg and gpgconf processes one after
  // the other, so it waits for the first operation: a publish asks for the
  // key on a thread of its own while it builds the indexes.
  mutable std::once_flag ready_once;
  mutable std::optional<Error> ready_error;
  mutable bool global_home = false; // HOME is GPGME's global home: contexts inherit it

  [[nodiscard]] Expected<void> ready() const;

  // The signing key once found: each lookup starts a gpg process, and a
  // publish signs twice, so it is looked up once per Signer.
  mutable std::mutex key_mutex;
  mutable KeyPtr cached_key;

  [[nodiscard]] Expected<ContextPtr> context() const;
  [[nodiscard]] Expected<std::vector<KeyPtr>> secret_keys(gpgme_ctx_t ctx) const;
  [[nodiscard]] Expected<KeyPtr> find_signing_key(gpgme_ctx_t ctx) const;
  // The checked signing key, cached after the first lookup.
  [[nodiscard]] Expected<KeyPtr> signing_key(gpgme_ctx_t ctx) const;
  [[nodiscard]] Expected<std::string> sign(gpgme_data_t input, gpgme_sig_mode_t mode,
                                           Armor armor) const;
};

Expected<void> Signer::Impl::ready() const {
  std::call_once(ready_once, [this] {
    auto global = init_gpgme().and_then([this] { return claim_global_home(home); });
    if (global) {
      global_home = *global;
    } else {
      ready_error = global.error();
    }
  });
  if (ready_error) {
    return tl::unexpected<Error>(*ready_error);
  }
  return {};
}

// A fresh context per operation: GPGME contexts are not thread-safe, and a
// daemon may sign from several threads with one Signer.
Expected<ContextPtr> Signer::Impl::context() const {
  TRY(ready());
  gpgme_ctx_t raw = nullptr;
  if (gpgme_error_t err = gpgme_new(&raw); err != 0) {
    return make_error("GnuPG home {}: creating a GPGME context: {}", display, gpg_message(err));
  }
  ContextPtr ctx(raw);
  gpgme_error_t err = gpgme_set_protocol(ctx.get(), GPGME_PROTOCOL_OpenPGP);
  if (err == 0 && !global_home) {
    err = gpgme_ctx_set_engine_info(ctx.get(), GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str());
  }
  if (err == 0) {
    err = gpgme_set_pinentry_mode(ctx.get(), GPGME_PINENTRY_MODE_LOOPBACK);
  }
  if (err == 0) {
    err = gpgme_set_keylist_mode(ctx.get(), GPGME_KEYLIST_MODE_LOCAL);
  }
  if (err != 0) {
    return make_error("GnuPG home {}: setting up GPGME: {}", display, gpg_message(err));
  }
  gpgme_set_offline(ctx.get(), 1);
  return ctx;
}

Expected<std::vector<KeyPtr>> Signer::Impl::secret_keys(gpgme_ctx_t ctx) const {
  std::vector<KeyPtr> keys;
  if (gpgme_error_t err = gpgme_op_keylist_start(ctx, nullptr, 1); err != 0) {
    return make_error("listing keys in {}: {}", display, gpg_message(err));
  }
  for (;;) {
    gpgme_key_t raw = nullptr;
    gpgme_error_t err = gpgme_op_keylist_next(ctx, &raw);
    if (gpgme_err_code(err) == GPG_ERR_EOF) {
      break;
    }
    if (err != 0) {
      gpgme_op_keylist_end(ctx);
      return make_error("listing keys in {}: {}", display, gpg_message(err));
    }
    keys.emplace_back(raw);
  }
  if (gpgme_error_t err = gpgme_op_keylist_end(ctx); err != 0) {
    return make_error("listing keys in {}: {}", display, gpg_message(err));
  }
  return keys;
}

Expected<KeyPtr> Signer::Impl::signing_key(gpgme_ctx_t ctx) const {
  std::lock_guard lock(key_mutex);
  if (!cached_key) {
    TRY_ASSIGN(cached_key, find_signing_key(ctx));
  }
  // gpgme keys are reference-counted and immutable: one can serve every
  // context and thread.
  gpgme_key_ref(cached_key.get());
  return KeyPtr(cached_key.get());
}

Expected<KeyPtr> Signer::Impl::find_signing_key(gpgme_ctx_t ctx) const {
  TRY_ASSIGN(std::vector<KeyPtr> keys, secret_keys(ctx));
  if (keys.empty()) {
    return make_error("no signing key in {}", display);
  }
  if (keys.size() > 1) {
    std::string list;
    for (const KeyPtr& key : keys) {
      list += list.empty() ? "" : ", ";
      list += key->fpr != nullptr ? key->fpr : "?";
    }
    return make_error("{} secret keys in {} ({}), expected exactly one", keys.size(), display,
                      list);
  }
  KeyPtr key = std::move(keys.front());
  if (key->fpr == nullptr) {
    return make_error("the secret key in {} has no fingerprint", display);
  }
  if (key->revoked != 0 || key->expired != 0 || key->disabled != 0 || key->invalid != 0 ||
      key->can_sign == 0) {
    return make_error("the key {} in {} cannot sign (revoked, expired, disabled or invalid)",
                      key->fpr, display);
  }
  return key;
}

Expected<std::string> Signer::Impl::sign(gpgme_data_t input, gpgme_sig_mode_t mode,
                                         Armor armor) const {
  TRY_ASSIGN(ContextPtr ctx, context());
  TRY_ASSIGN(KeyPtr key, signing_key(ctx.get()));
  auto failed = [this](std::string_view what) {
    return make_error("signing with key in {}: {}", display, what);
  };
  gpgme_signers_clear(ctx.get());
  if (gpgme_error_t err = gpgme_signers_add(ctx.get(), key.get()); err != 0) {
    return failed(gpg_message(err));
  }
  gpgme_set_armor(ctx.get(), armor == Armor::yes ? 1 : 0);
  gpgme_set_textmode(ctx.get(), 0);
  TRY_ASSIGN(DataPtr output, new_data());
  if (gpgme_error_t err = gpgme_op_sign(ctx.get(), input, output.get(), mode); err != 0) {
    return failed(gpg_message(err));
  }
  gpgme_sign_result_t result = gpgme_op_sign_result(ctx.get());
  if (result == nullptr || result->signatures == nullptr) {
    if (result != nullptr && result->invalid_signers != nullptr) {
      return failed(gpg_message(result->invalid_signers->reason));
    }
    return failed("gpg made no signature");
  }
  // The contract is SHA512; a hand-edited gpg.conf must not weaken it silently.
  if (result->signatures->hash_algo != GPGME_MD_SHA512) {
    const char* name = gpgme_hash_algo_name(result->signatures->hash_algo);
    return failed(
        fmt::format("gpg used digest {} instead of SHA512", name != nullptr ? name : "unknown"));
  }
  return read_all(output.get());
}

Signer::Signer(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Signer::Signer(Signer&&) noexcept = default;
Signer& Signer::operator=(Signer&&) noexcept = default;
Signer::~Signer() = default;

Expected<Signer> Signer::open(const std::filesystem::path& home) {
  auto impl = std::make_unique<Impl>();
  impl->display = home.string();
  std::error_code ec;
  impl->home = std::filesystem::absolute(home, ec);
  if (ec) {
    return errno_error(fmt::format("GnuPG home {}", impl->display), ec.value());
  }
  // Before creating anything: a home gpg-agent cannot use is refused whole.
  TRY(check_socket_path(impl->home, impl->display));
  if (::mkdir(impl->home.c_str(), 0700) == 0) {
    // mkdir's mode is filtered by the umask; the home must be exactly 0700.
    if (::chmod(impl->home.c_str(), 0700) != 0) {
      return errno_error(fmt::format("chmod {}", impl->display), errno);
    }
  } else if (errno != EEXIST) {
    return errno_error(fmt::format("creating GnuPG home {}", impl->display), errno);
  } else if (!std::filesystem::is_directory(impl->home, ec)) {
    return make_error("GnuPG home {} exists and is not a directory", impl->display);
  }
  TRY_CTX(ensure_file(impl->home / "gpg.conf", k_gpg_conf),
          fmt::format("GnuPG home {}", impl->display));
  TRY_CTX(ensure_file(impl->home / "gpg-agent.conf", k_gpg_agent_conf),
          fmt::format("GnuPG home {}", impl->display));
  return Signer(std::move(impl));
}

Expected<std::string> Signer::generate_key(std::string_view user_id) {
  TRY_ASSIGN(ContextPtr ctx, m_impl->context());
  TRY_ASSIGN(std::vector<KeyPtr> keys, m_impl->secret_keys(ctx.get()));
  if (!keys.empty()) {
    return make_error("{} already holds a secret key ({}); refusing to generate another",
                      m_impl->display, keys.front()->fpr != nullptr ? keys.front()->fpr : "?");
  }
  std::string uid(user_id);
  unsigned int flags = GPGME_CREATE_SIGN | GPGME_CREATE_NOPASSWD | GPGME_CREATE_NOEXPIRE;
  if (gpgme_error_t err =
          gpgme_op_createkey(ctx.get(), uid.c_str(), "ed25519", 0, 0, nullptr, flags);
      err != 0) {
    return make_error("generating a key in {}: {}", m_impl->display, gpg_message(err));
  }
  gpgme_genkey_result_t result = gpgme_op_genkey_result(ctx.get());
  if (result != nullptr && result->fpr != nullptr) {
    return upper(result->fpr);
  }
  return fingerprint();
}

Expected<std::string> Signer::fingerprint() const {
  TRY_ASSIGN(ContextPtr ctx, m_impl->context());
  TRY_ASSIGN(KeyPtr key, m_impl->signing_key(ctx.get()));
  return upper(key->fpr);
}

Expected<std::string> Signer::export_public(Armor armor) const {
  TRY_ASSIGN(ContextPtr ctx, m_impl->context());
  TRY_ASSIGN(KeyPtr key, m_impl->signing_key(ctx.get()));
  gpgme_set_armor(ctx.get(), armor == Armor::yes ? 1 : 0);
  TRY_ASSIGN(DataPtr output, new_data());
  // Minimal: only the newest self-signature per user ID, nothing a verifier
  // does not need.
  if (gpgme_error_t err =
          gpgme_op_export(ctx.get(), key->fpr, GPGME_EXPORT_MODE_MINIMAL, output.get());
      err != 0) {
    return make_error("exporting key {} from {}: {}", key->fpr, m_impl->display, gpg_message(err));
  }
  TRY_ASSIGN(std::string keyring, read_all(output.get()));
  if (keyring.empty()) {
    return make_error("exporting key {} from {}: gpg exported nothing", key->fpr, m_impl->display);
  }
  return keyring;
}

Expected<std::string> Signer::sign_detached(const ReadFn& read, Armor armor) const {
  // GPGME must be set up before the first data object, not only before the
  // first context.
  TRY(m_impl->ready());
  // GPGME keeps a pointer to the callbacks; they live until DATA is released.
  gpgme_data_cbs callbacks{};
  callbacks.read = read_callback;
  gpgme_data_t raw = nullptr;
  if (gpgme_error_t err = gpgme_data_new_from_cbs(&raw, &callbacks, const_cast<ReadFn*>(&read));
      err != 0) {
    return make_error("signing with key in {}: {}", m_impl->display, gpg_message(err));
  }
  DataPtr input(raw);
  return m_impl->sign(input.get(), GPGME_SIG_MODE_DETACH, armor);
}

Expected<std::string> Signer::sign_detached(std::string_view text, Armor armor) const {
  TRY(m_impl->ready());
  TRY_ASSIGN(DataPtr input, data_from(text));
  return m_impl->sign(input.get(), GPGME_SIG_MODE_DETACH, armor);
}

Expected<std::string> Signer::clearsign(std::string_view text) const {
  TRY(m_impl->ready());
  TRY_ASSIGN(DataPtr input, data_from(text));
  return m_impl->sign(input.get(), GPGME_SIG_MODE_CLEAR, Armor::yes);
}

std::string debsig_key_id(std::string_view fingerprint) {
  std::string_view tail =
      fingerprint.size() > 16 ? fingerprint.substr(fingerprint.size() - 16) : fingerprint;
  return upper(tail);
}

std::string debsig_policy(std::string_view fingerprint, std::string_view keyring_file) {
  std::string file;
  for (char c : keyring_file) {
    switch (c) {
    case '&':
      file += "&amp;";
      break;
    case '<':
      file += "&lt;";
      break;
    case '>':
      file += "&gt;";
      break;
    case '"':
      file += "&quot;";
      break;
    case '\'':
      file += "&apos;";
      break;
    default:
      file.push_back(c);
    }
  }
  std::string id = debsig_key_id(fingerprint);
  // Format: debsig-verify's policy DTD, version 1.0.
  return fmt::format(R"(<?xml version="1.0"?>
<!DOCTYPE Policy SYSTEM "https://www.debian.org/debsig/1.0/policy.dtd">
<Policy xmlns="https://www.debian.org/debsig/1.0/">

  <Origin Name="aptship" id="{id}" Description="packages signed by aptship"/>

  <Selection>
    <Required Type="origin" File="{file}" id="{id}"/>
  </Selection>

  <Verification MinOptional="0">
    <Required Type="origin" File="{file}" id="{id}"/>
  </Verification>

</Policy>
)",
                     fmt::arg("id", id), fmt::arg("file", file));
}

} // namespace aptship::sign
