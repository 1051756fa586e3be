#pragma once

// Reads and verifies a .deb: its ar members, control data and file list,
// refusing what dpkg would refuse or what could harm an installing host.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/archive/ar.hpp"
#include "aptrepo/archive/tar.hpp"
#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/deb/deb822.hpp"

namespace aptship::deb {

enum class ListFiles { no, yes };

struct DebContents {
  std::vector<archive::ArMember> members;           // in file order
  std::string control_member;                       // "control.tar.zst"
  std::string data_member;                          // "data.tar.zst"
  bool has_signature = false;                       // an "_gpgorigin" member is present
  Paragraph control;                                // DEBIAN/control, validated
  std::map<std::string, std::string> control_files; // every control.tar file by name
  std::vector<archive::TarEntry> files;             // data.tar entries (ListFiles::yes)
  uint64_t size = 0;                                // bytes of the .deb
};

// Reads PATH. Verifies the ar layout (debian-binary "2.x", control.tar.*,
// data.tar.*, then only "_"-prefixed members), the control paragraph, and
// every data.tar entry: "./"-relative paths without "..", no pax headers,
// only files, directories and links, hard links to earlier entries. Errors
// name the file and the problem in one line.
[[nodiscard]] Expected<DebContents> read_deb(const std::filesystem::path& path,
                                             ListFiles list = ListFiles::yes);
// Reads the .deb open as FD (a regular file, read with pread from its first
// byte, so the descriptor's offset is untouched) as read_deb(path) does;
// errors name it SHOWN.
[[nodiscard]] Expected<DebContents> read_deb(const Fd& fd, std::string_view shown,
                                             ListFiles list = ListFiles::yes);
// Reads the .deb whose whole contents are BYTES as read_deb(path) does;
// errors name it SHOWN.
[[nodiscard]] Expected<DebContents> read_deb_bytes(std::string_view bytes, std::string_view shown,
                                                   ListFiles list = ListFiles::yes);

} // namespace aptship::deb
