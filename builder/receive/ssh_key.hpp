#pragma once

// OpenSSH public keys as users hand them over (the .pub file), checked
// with ssh-keygen before aptship lets them log in.

#include <string>
#include <string_view>

#include "aptrepo/core/error.hpp"

namespace aptship::receive {

struct PublicKey {
  std::string type;    // "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", ...
  std::string base64;  // the key blob
  std::string comment; // what followed the blob, possibly empty

  // "TYPE BASE64": the key without its comment, as authorized_keys takes it.
  [[nodiscard]] std::string text() const { return type + ' ' + base64; }
};

// Parses the content of a .pub file: one key line, blank and '#' lines
// ignored. Private keys, RFC 4716 blocks, authorized_keys options and
// unknown or disabled key types are refused with a hint.
[[nodiscard]] Expected<PublicKey> parse_public_key(std::string_view text);

// The key's SHA256 fingerprint ("SHA256:...") from `ssh-keygen -l`, which
// also proves that the blob is a well-formed key of its type. RSA keys
// under 2048 bits are refused.
[[nodiscard]] Expected<std::string> key_fingerprint(const PublicKey& key);

} // namespace aptship::receive
