#pragma once

// Real OpenSSH keys for the receive tests, made with ssh-keygen.

#include <filesystem>
#include <stdexcept>
#include <string>

#include "aptrepo/core/subprocess.hpp"
#include "testutil.hpp"

namespace aptship::test {

// Generates a key pair DIR/NAME, DIR/NAME.pub and returns the .pub text.
inline std::string make_ssh_key(const std::filesystem::path& dir, const std::string& name,
                                const std::string& type = "ed25519", const std::string& bits = "") {
  const std::filesystem::path path = dir / name;
  std::vector<std::string> argv = {"ssh-keygen", "-q", "-t",           type, "-N",
                                   "",           "-C", name + "@test", "-f", path.string()};
  if (!bits.empty()) {
    argv.insert(argv.end(), {"-b", bits});
  }
  auto result = run_checked(argv);
  if (!result) {
    throw std::runtime_error(result.error().message());
  }
  return read(path.string() + ".pub");
}

} // namespace aptship::test
