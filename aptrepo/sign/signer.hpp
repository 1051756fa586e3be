#pragma once

// OpenPGP signing with the data dir's own key, through GPGME, in a GnuPG
// home that belongs to aptship alone (never the user's ~/.gnupg).

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <sys/types.h>

#include "aptrepo/core/error.hpp"

namespace aptship::sign {

enum class Armor { no, yes };

// Supplies bytes to sign: fills BUFFER with up to SIZE bytes and returns the
// count, 0 at the end, or -1 with errno set on failure.
using ReadFn = std::function<ssize_t(void* buffer, size_t size)>;

class Signer {
public:
  // Opens (creating with mode 0700 if missing) the GnuPG home HOME. GPGME
  // and gpg are set up at the first operation, which reports their
  // failure; the agent gpg starts outlives the process (see signer.cpp).
  [[nodiscard]] static Expected<Signer> open(const std::filesystem::path& home);
  Signer(Signer&&) noexcept;
  Signer& operator=(Signer&&) noexcept;
  ~Signer();

  // Generates the signing key (ed25519, signing only, no expiry, no
  // passphrase) for USER_ID and returns its fingerprint. Refuses if the home
  // already holds a secret key, so a key is never replaced by accident.
  [[nodiscard]] Expected<std::string> generate_key(std::string_view user_id);
  // The fingerprint (40 upper-case hex digits) of the home's one secret key.
  [[nodiscard]] Expected<std::string> fingerprint() const;
  // The public key, as an OpenPGP keyring for apt's signed-by= (binary) or
  // armored text.
  [[nodiscard]] Expected<std::string> export_public(Armor armor) const;
  // A detached signature (SHA512 digest) over all bytes READ yields.
  [[nodiscard]] Expected<std::string> sign_detached(const ReadFn& read, Armor armor) const;
  // A detached signature over TEXT.
  [[nodiscard]] Expected<std::string> sign_detached(std::string_view text, Armor armor) const;
  // TEXT clearsigned (what apt reads as InRelease).
  [[nodiscard]] Expected<std::string> clearsign(std::string_view text) const;

private:
  struct Impl;
  explicit Signer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

// The debsig-verify policy (XML) that accepts packages whose _gpgorigin
// signature was made by the key FINGERPRINT, found in keyring KEYRING_FILE
// (a file name inside debsig-verify's keyrings/<KEYID>/ folder).
[[nodiscard]] std::string debsig_policy(std::string_view fingerprint,
                                        std::string_view keyring_file = "debsig.gpg");

// debsig-verify's key ID for FINGERPRINT: its last 16 hex digits.
[[nodiscard]] std::string debsig_key_id(std::string_view fingerprint);

} // namespace aptship::sign
