#include "builder/receive/authorized_keys.hpp"

#include <cerrno>
#include <cstdlib>
#include <system_error>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/core/atomic_file.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/text.hpp"

namespace aptship::receive {

namespace fs = std::filesystem;

namespace {

fs::path absolute_clean(const fs::path& path) {
  fs::path out = fs::absolute(path).lexically_normal();
  if (out.has_parent_path() && out.filename().empty()) {
    out = out.parent_path();
  }
  return out;
}

// sshd reads command="..." up to the next unescaped '"'; a shell then reads
// the command. Quoting for both at once is not worth it for paths like these.
Expected<std::string> command_word(const fs::path& path, std::string_view what) {
  const std::string text = absolute_clean(path).string();
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\' || byte < 0x20 || byte == 0x7f) {
      return make_error("the {} path '{}' cannot be written in authorized_keys: it contains '{}'",
                        what, printable(text), printable(std::string_view(&c, 1)));
    }
  }
  return shell_word(text);
}

// The marker of this data dir's lines, inside their forced command.
std::string data_marker(const ReceiveCommand& command) {
  const std::string text = absolute_clean(command.data_root).string();
  return fmt::format(" --data {} receive --key ", shell_word(text));
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

struct Owner {
  uid_t uid;
  gid_t gid;
};

Expected<Owner> owner_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return errno_error(fmt::format("stat {}", path.string()), errno);
  }
  return Owner{st.st_uid, st.st_gid};
}

// Creates DIR and its missing parents with mode 0700; as root, each gets
// the owner of the directory above it.
Expected<void> make_private_dirs(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    return {};
  }
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    TRY(make_private_dirs(dir.parent_path()));
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return errno_error(fmt::format("creating {}", dir.string()), errno);
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    return errno_error(fmt::format("chmod {}", dir.string()), errno);
  }
  if (::geteuid() == 0) {
    TRY_ASSIGN(Owner owner, owner_of(dir.parent_path()));
    if (::chown(dir.c_str(), owner.uid, owner.gid) != 0) {
      return errno_error(fmt::format("chown {}", dir.string()), errno);
    }
  }
  return {};
}

} // namespace

Expected<std::string> forced_command(const ReceiveCommand& command, std::string_view key_name) {
  TRY(validate_key_name(key_name));
  TRY_ASSIGN(std::string binary, command_word(command.aptship_binary, "aptship binary"));
  TRY_ASSIGN(std::string data, command_word(command.data_root, "data dir"));
  return fmt::format("{} --data {} receive --key {}", binary, data, key_name);
}

Expected<std::string> authorized_keys_line(const ReceiveCommand& command, const PushKey& key) {
  TRY_ASSIGN(std::string forced, forced_command(command, key.name));
  return fmt::format("command=\"{}\",{} {} {}", forced, k_key_restrictions, key.key.text(),
                     key.name);
}

bool is_managed_line(std::string_view line, const ReceiveCommand& command) {
  const size_t start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    return false;
  }
  line.remove_prefix(start);
  constexpr std::string_view k_prefix = "command=\"";
  if (!line.starts_with(k_prefix)) {
    return false;
  }
  // The option value ends at the first '"' not escaped by a backslash.
  size_t end = k_prefix.size();
  while (end < line.size() && line[end] != '"') {
    end += line[end] == '\\' ? 2 : 1;
  }
  if (end >= line.size()) {
    return false;
  }
  std::string_view forced = line.substr(k_prefix.size(), end - k_prefix.size());
  return forced.find(data_marker(command)) != std::string_view::npos;
}

Expected<std::string> merge_authorized_keys(std::string_view existing,
                                            const std::vector<PushKey>& keys,
                                            const ReceiveCommand& command) {
  std::string out;
  for (std::string_view line : split_lines(existing)) {
    if (!is_managed_line(line, command)) {
      out += line;
      out += '\n';
    }
  }
  for (const PushKey& key : keys) {
    TRY_ASSIGN(std::string line, authorized_keys_line(command, key));
    out += line;
    out += '\n';
  }
  return out;
}

Expected<void> write_authorized_keys(const fs::path& file_path, const std::vector<PushKey>& keys,
                                     const ReceiveCommand& command) {
  const fs::path file = absolute_clean(file_path);
  const std::string context = fmt::format("writing {}", file.string());
  const fs::path dir = file.parent_path();
  TRY_CTX(make_private_dirs(dir), context);
  std::string existing;
  std::error_code ec;
  if (fs::exists(file, ec)) {
    TRY_ASSIGN(existing, read_file(file));
  }
  TRY_ASSIGN(std::string text, merge_authorized_keys(existing, keys, command));
  TRY_ASSIGN(AtomicFile out, AtomicFile::create(file, 0600));
  // sshd's StrictModes refuses a file others can write; 0600 whatever the umask.
  if (::fchmod(out.fd().get(), 0600) != 0) {
    return errno_error(fmt::format("{}: chmod", context), errno);
  }
  if (::geteuid() == 0) {
    TRY_ASSIGN(Owner owner, owner_of(dir));
    if (::fchown(out.fd().get(), owner.uid, owner.gid) != 0) {
      return errno_error(fmt::format("{}: chown", context), errno);
    }
  }
  TRY(out.write(text));
  TRY(out.commit());
  return {};
}

Expected<fs::path> resolve_authorized_keys(std::string_view option,
                                           const std::optional<fs::path>& recorded,
                                           const fs::path& data_root) {
  if (!option.empty()) {
    return absolute_clean(fs::path(option));
  }
  if (const char* env = std::getenv("APTSHIP_AUTHORIZED_KEYS"); env != nullptr && *env != '\0') {
    return absolute_clean(fs::path(env));
  }
  if (recorded) {
    return *recorded;
  }
  TRY_ASSIGN(Owner owner, owner_of(data_root));
  const struct passwd* user = ::getpwuid(owner.uid);
  if (user == nullptr || user->pw_dir == nullptr || *user->pw_dir == '\0') {
    return make_error("user {} (the owner of {}) has no home directory: give --authorized-keys",
                      owner.uid, data_root.string());
  }
  return fs::path(user->pw_dir) / ".ssh" / "authorized_keys";
}

} // namespace aptship::receive
