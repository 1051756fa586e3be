#include "aptrepo/core/hash.hpp"

#include <cerrno>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <openssl/evp.h>

#include "aptrepo/core/fd.hpp"

namespace aptship {

namespace {

// Fetched once: a digest named by its legacy handle (EVP_sha256()) is
// looked up in the provider store again at every EVP_DigestInit_ex, which
// costs more than hashing a small package and takes a lock that the
// threads of an add contend for.
const EVP_MD* fetch(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) {
    // OpenSSL cannot provide a basic digest: a broken installation, not a
    // condition callers can handle.
    throw std::runtime_error(fmt::format("OpenSSL has no {} digest", name));
  }
  return md;
}

const EVP_MD* evp_md(Digest digest) {
  // Kept for the life of the process, never freed.
  static const EVP_MD* const k_md5 = fetch("MD5");
  static const EVP_MD* const k_sha1 = fetch("SHA1");
  static const EVP_MD* const k_sha256 = fetch("SHA256");
  static const EVP_MD* const k_sha512 = fetch("SHA512");
  switch (digest) {
  case Digest::md5:
    return k_md5;
  case Digest::sha1:
    return k_sha1;
  case Digest::sha256:
    return k_sha256;
  case Digest::sha512:
    return k_sha512;
  }
  throw std::logic_error("unknown digest");
}

struct EvpCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

} // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex.push_back(k_digits[byte >> 4]);
    hex.push_back(k_digits[byte & 0xf]);
  }
  return hex;
}

struct Hasher::Impl {
  const EVP_MD* md = nullptr;
  std::unique_ptr<EVP_MD_CTX, EvpCtxFree> ctx;

  void init() {
    // Failure here means OpenSSL cannot provide a basic digest: a broken
    // installation, not a condition callers can handle.
    if (EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
      throw std::runtime_error("EVP_DigestInit_ex failed");
    }
  }
};

Hasher::Hasher(Digest digest) : m_impl(std::make_unique<Impl>()) {
  m_impl->md = evp_md(digest);
  m_impl->ctx.reset(EVP_MD_CTX_new());
  if (!m_impl->ctx) {
    throw std::bad_alloc();
  }
  m_impl->init();
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::update(std::string_view data) {
  if (EVP_DigestUpdate(m_impl->ctx.get(), data.data(), data.size()) != 1) {
    throw std::runtime_error("EVP_DigestUpdate failed");
  }
}

std::string Hasher::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(m_impl->ctx.get(), digest, &size) != 1) {
    throw std::runtime_error("EVP_DigestFinal_ex failed");
  }
  m_impl->init();
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest), size));
}

MultiHasher::MultiHasher()
    : m_hashers{Hasher(Digest::md5), Hasher(Digest::sha1), Hasher(Digest::sha256),
                Hasher(Digest::sha512)} {}

void MultiHasher::update(std::string_view data) {
  for (auto& hasher : m_hashers) {
    hasher.update(data);
  }
}

Digests MultiHasher::finish() {
  Digests digests;
  digests.md5 = m_hashers[0].hex();
  digests.sha1 = m_hashers[1].hex();
  digests.sha256 = m_hashers[2].hex();
  digests.sha512 = m_hashers[3].hex();
  return digests;
}

std::string hex_digest(Digest digest, std::string_view data) {
  Hasher hasher(digest);
  hasher.update(data);
  return hasher.hex();
}

Expected<Digests> digest_file(const std::string& path, uint64_t* size) {
  TRY_ASSIGN(Fd fd, Fd::open(path, O_RDONLY));
  constexpr size_t k_buffer_size = 1 << 20;
  std::vector<char> buffer(k_buffer_size);
  MultiHasher hasher;
  uint64_t total = 0;
  for (;;) {
    auto n = fd.read_some(buffer.data(), buffer.size());
    if (!n) {
      return tl::unexpected<Error>(n.error().context(path));
    }
    if (*n == 0) {
      break;
    }
    hasher.update(std::string_view(buffer.data(), *n));
    total += *n;
  }
  if (size != nullptr) {
    *size = total;
  }
  return hasher.finish();
}

} // namespace aptship
