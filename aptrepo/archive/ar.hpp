#pragma once

// The ar container of a .deb (deb(5)): "!<arch>\n", then 60-byte member
// headers each followed by the member's bytes, padded to an even size.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/core/fd.hpp"

namespace aptship::archive {

inline constexpr std::string_view k_ar_magic = "!<arch>\n";
inline constexpr size_t k_ar_header_size = 60;

// The header of member NAME (at most 16 bytes) holding SIZE bytes, owned by
// 0:0 with mode 100644 and MTIME, laid out as dpkg-deb writes it.
[[nodiscard]] Expected<std::string> ar_header(std::string_view name, uint64_t size, int64_t mtime);

// The padding that follows a member of SIZE bytes: "\n" when SIZE is odd.
[[nodiscard]] inline std::string_view ar_padding(uint64_t size) {
  return (size % 2) != 0 ? std::string_view("\n") : std::string_view();
}

struct ArMember {
  std::string name;    // without trailing spaces or the GNU "/" terminator
  uint64_t offset = 0; // where the member's bytes start in the file
  uint64_t size = 0;
};

// Lists the members of the ar archive in FD (FILE_SIZE bytes long), checking
// the magic, every header's syntax and that no member runs past the end.
[[nodiscard]] Expected<std::vector<ArMember>> read_ar(const Fd& fd, uint64_t file_size);
// Lists the members of the ar archive held in BYTES, as read_ar(fd) does;
// member offsets are positions in BYTES.
[[nodiscard]] Expected<std::vector<ArMember>> read_ar(std::string_view bytes);

// Reads the whole of MEMBER (for small members such as debian-binary).
[[nodiscard]] Expected<std::string> read_member(const Fd& fd, const ArMember& member);

} // namespace aptship::archive
