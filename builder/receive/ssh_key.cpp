#include "builder/receive/ssh_key.hpp"

#include <array>
#include <charconv>
#include <vector>

#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/core/text.hpp"

namespace aptship::receive {

namespace {

// The types OpenSSH accepts for user authentication by default.
constexpr std::array<std::string_view, 7> k_key_types = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};

bool is_known_type(std::string_view type) {
  for (std::string_view known : k_key_types) {
    if (type == known) {
      return true;
    }
  }
  return false;
}

bool is_base64(std::string_view text) {
  size_t padding = 0;
  for (char c : text) {
    if (c == '=') {
      ++padding;
    } else if (padding > 0) {
      return false; // data after padding
    } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/')) {
      return false;
    }
  }
  return !text.empty() && padding <= 2 && text.size() % 4 == 0;
}

std::string_view trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) {
    return {};
  }
  const auto end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

std::vector<std::string_view> key_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = trim(text.substr(start, end - start));
    if (!line.empty() && line.front() != '#') {
      lines.push_back(line);
    }
    start = end + 1;
  }
  return lines;
}

} // namespace

Expected<PublicKey> parse_public_key(std::string_view text) {
  if (text.find("PRIVATE KEY") != std::string_view::npos ||
      text.starts_with("PuTTY-User-Key-File")) {
    return make_error("this is a private key: give the public key (the .pub file) instead");
  }
  if (text.find("---- BEGIN SSH2 PUBLIC KEY ----") != std::string_view::npos) {
    return make_error("this is an RFC 4716 public key: convert it with 'ssh-keygen -i -f FILE'");
  }
  const std::vector<std::string_view> lines = key_lines(text);
  if (lines.empty()) {
    return make_error("no public key found (expected a line 'TYPE BASE64 [COMMENT]')");
  }
  if (lines.size() > 1) {
    return make_error("{} keys found: give one key per name", lines.size());
  }
  std::string_view line = lines.front();
  const size_t type_end = line.find_first_of(" \t");
  if (type_end == std::string_view::npos) {
    return make_error("not an OpenSSH public key line: '{}'", printable(line.substr(0, 60)));
  }
  std::string_view type = line.substr(0, type_end);
  if (type == "ssh-dss") {
    return make_error("ssh-dss (DSA) keys are disabled in OpenSSH: use an ed25519 key");
  }
  if (!is_known_type(type)) {
    return make_error("unknown key type '{}' (expected e.g. ssh-ed25519, ssh-rsa or "
                      "ecdsa-sha2-nistp256; authorized_keys options are not accepted)",
                      printable(type.substr(0, 60)));
  }
  std::string_view rest = trim(line.substr(type_end));
  const size_t blob_end = rest.find_first_of(" \t");
  std::string_view blob = rest.substr(0, blob_end);
  if (!is_base64(blob)) {
    return make_error("the {} key is not valid base64", type);
  }
  std::string_view comment =
      blob_end == std::string_view::npos ? std::string_view() : trim(rest.substr(blob_end));
  return PublicKey{std::string(type), std::string(blob), std::string(comment)};
}

Expected<std::string> key_fingerprint(const PublicKey& key) {
  SubprocessOptions options;
  options.input = key.text() + "\n";
  TRY_ASSIGN(SubprocessResult result, run({"ssh-keygen", "-l", "-f", "-"}, options));
  if (!result.ok()) {
    return make_error("ssh-keygen does not accept the {} key: it is damaged or truncated",
                      key.type);
  }
  // "256 SHA256:base64 no comment (ED25519)"
  std::string_view out = trim(result.out);
  const size_t bits_end = out.find(' ');
  const size_t fpr_end =
      bits_end == std::string_view::npos ? bits_end : out.find(' ', bits_end + 1);
  if (fpr_end == std::string_view::npos) {
    return make_error("unexpected output of ssh-keygen -l: '{}'", printable(out.substr(0, 100)));
  }
  std::string_view fingerprint = out.substr(bits_end + 1, fpr_end - bits_end - 1);
  if (!fingerprint.starts_with("SHA256:")) {
    return make_error("unexpected output of ssh-keygen -l: '{}'", printable(out.substr(0, 100)));
  }
  unsigned bits = 0;
  std::from_chars(out.data(), out.data() + bits_end, bits);
  if (key.type.starts_with("ssh-rsa") && bits < 2048) {
    return make_error("the RSA key has {} bits, too weak: use at least 2048 bits or ed25519", bits);
  }
  return std::string(fingerprint);
}

} // namespace aptship::receive
