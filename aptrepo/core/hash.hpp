#pragma once

// Message digests through OpenSSL's EVP interface, several in one pass.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "aptrepo/core/error.hpp"

namespace aptship {

enum class Digest { md5, sha1, sha256, sha512 };

// Lower-case hex digests of one stream, as apt's indexes list them.
struct Digests {
  std::string md5;
  std::string sha1;
  std::string sha256;
  std::string sha512;
};

// One running digest; update() as bytes arrive, then hex().
class Hasher {
public:
  explicit Hasher(Digest digest);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();
  // Adds DATA to the digest.
  void update(std::string_view data);
  // Finishes and returns the lower-case hex digest; the hasher is reset.
  [[nodiscard]] std::string hex();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// MD5, SHA1, SHA256 and SHA512 of one stream, updated together.
class MultiHasher {
public:
  MultiHasher();
  void update(std::string_view data);
  [[nodiscard]] Digests finish();

private:
  std::array<Hasher, 4> m_hashers;
};

// BYTES in lower-case hex, two digits a byte.
[[nodiscard]] std::string to_hex(std::string_view bytes);

// Hex digest of DATA.
[[nodiscard]] std::string hex_digest(Digest digest, std::string_view data);

// All four digests and the size of the file at PATH, read once.
[[nodiscard]] Expected<Digests> digest_file(const std::string& path, uint64_t* size = nullptr);

} // namespace aptship
