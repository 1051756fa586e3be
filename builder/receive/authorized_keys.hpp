#pragma once

// The authorized_keys file of the user git pushes log in as. Each aptship
// key gets one line whose forced command is `aptship receive --key NAME`,
// so a key can do nothing but talk to git through aptship. Lines aptship
// did not write are kept as they are.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "builder/receive/key_store.hpp"

namespace aptship::receive {

// What the forced commands run: the aptship binary and the data dir, both
// absolute.
struct ReceiveCommand {
  std::filesystem::path aptship_binary;
  std::filesystem::path data_root;
};

// The options every aptship line carries after command="...".
inline constexpr std::string_view k_key_restrictions =
    "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty,no-user-rc";

// The forced command for key NAME: "BINARY --data DATA receive --key NAME",
// shell-quoted where needed. Paths holding '"', '\' or control characters
// cannot be written in authorized_keys and are refused.
[[nodiscard]] Expected<std::string> forced_command(const ReceiveCommand& command,
                                                   std::string_view key_name);

// The authorized_keys line of KEY.
[[nodiscard]] Expected<std::string> authorized_keys_line(const ReceiveCommand& command,
                                                         const PushKey& key);

// True when LINE is an aptship line for the data dir of COMMAND: its forced
// command runs `--data DATA receive --key`, whatever binary path it names.
[[nodiscard]] bool is_managed_line(std::string_view line, const ReceiveCommand& command);

// EXISTING (the current file, possibly empty) with this data dir's aptship
// lines replaced by one line per key of KEYS, after the other lines.
[[nodiscard]] Expected<std::string> merge_authorized_keys(std::string_view existing,
                                                          const std::vector<PushKey>& keys,
                                                          const ReceiveCommand& command);

// Rewrites FILE atomically with merge_authorized_keys. A missing directory
// is created with mode 0700, the file gets mode 0600; run as root, both
// get the owner of the directory above them (the service user's home).
[[nodiscard]] Expected<void> write_authorized_keys(const std::filesystem::path& file,
                                                   const std::vector<PushKey>& keys,
                                                   const ReceiveCommand& command);

// Which authorized_keys file to write: OPTION if given, else
// $APTSHIP_AUTHORIZED_KEYS, else RECORDED (where the keys went last time),
// else ~/.ssh/authorized_keys of the user owning DATA_ROOT: the service
// user, whose logins must read the data dir, even when root runs this.
[[nodiscard]] Expected<std::filesystem::path>
resolve_authorized_keys(std::string_view option,
                        const std::optional<std::filesystem::path>& recorded,
                        const std::filesystem::path& data_root);

} // namespace aptship::receive
