#include "aptrepo/archive/ar.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace aptship::archive {

namespace {

// Parses a space-padded decimal header field.
bool parse_decimal(std::string_view field, uint64_t& out) {
  while (!field.empty() && field.back() == ' ') {
    field.remove_suffix(1);
  }
  if (field.empty()) {
    return false;
  }
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), out);
  return ec == std::errc() && end == field.data() + field.size();
}

Expected<void> pread_exact(const Fd& fd, void* buffer, size_t size, uint64_t offset) {
  TRY_ASSIGN(size_t got, fd.pread_full(buffer, size, offset));
  if (got < size) {
    return make_error("unexpected end of file at byte {}", offset + got);
  }
  return {};
}

// Lists the members after MAGIC of an archive of FILE_SIZE bytes, reading
// each header through HEADER_AT(buffer, offset).
template <typename HeaderAt>
Expected<std::vector<ArMember>> list_members(std::string_view magic, uint64_t file_size,
                                             const HeaderAt& header_at) {
  if (magic != k_ar_magic) {
    return make_error("not an ar archive (bad magic)");
  }
  std::vector<ArMember> members;
  uint64_t offset = k_ar_magic.size();
  while (offset < file_size) {
    if (file_size - offset < k_ar_header_size) {
      return make_error("truncated ar header at byte {}", offset);
    }
    char raw[k_ar_header_size];
    TRY_ASSIGN(std::string_view header, header_at(raw, offset));
    if (header.substr(58, 2) != "`\n") {
      return make_error("corrupt ar header at byte {}", offset);
    }
    std::string_view name = header.substr(0, 16);
    while (!name.empty() && name.back() == ' ') {
      name.remove_suffix(1);
    }
    if (!name.empty() && name.back() == '/') {
      name.remove_suffix(1); // GNU ar terminates names with '/'
    }
    uint64_t size = 0;
    if (!parse_decimal(header.substr(48, 10), size)) {
      return make_error("ar member '{}' has a bad size field", name);
    }
    uint64_t data = offset + k_ar_header_size;
    if (size > file_size - data) {
      return make_error("ar member '{}' runs past the end of the file", name);
    }
    members.push_back(ArMember{std::string(name), data, size});
    offset = data + size + (size % 2);
  }
  return members;
}

} // namespace

Expected<std::string> ar_header(std::string_view name, uint64_t size, int64_t mtime) {
  if (name.empty() || name.size() > 16) {
    return make_error("ar member name '{}' must be 1 to 16 bytes", name);
  }
  if (size > 9'999'999'999ULL) {
    return make_error("ar member '{}' is too large ({} bytes; the format holds 10 digits)", name,
                      size);
  }
  // name[16] mtime[12] uid[6] gid[6] mode[8] size[10] "`\n"
  std::string header =
      fmt::format("{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n", name, mtime, 0, 0, "100644", size);
  return header;
}

Expected<std::vector<ArMember>> read_ar(const Fd& fd, uint64_t file_size) {
  char magic[8];
  if (file_size < k_ar_magic.size()) {
    return make_error("not an ar archive (too short)");
  }
  TRY(pread_exact(fd, magic, sizeof(magic), 0));
  return list_members(std::string_view(magic, sizeof(magic)), file_size,
                      [&fd](char* out, uint64_t offset) -> Expected<std::string_view> {
                        TRY(pread_exact(fd, out, k_ar_header_size, offset));
                        return std::string_view(out, k_ar_header_size);
                      });
}

Expected<std::vector<ArMember>> read_ar(std::string_view bytes) {
  if (bytes.size() < k_ar_magic.size()) {
    return make_error("not an ar archive (too short)");
  }
  return list_members(bytes.substr(0, k_ar_magic.size()), bytes.size(),
                      [bytes](char* /*out*/, uint64_t offset) -> Expected<std::string_view> {
                        return bytes.substr(offset, k_ar_header_size);
                      });
}

Expected<std::string> read_member(const Fd& fd, const ArMember& member) {
  std::string data(member.size, '\0');
  TRY_CTX(pread_exact(fd, data.data(), data.size(), member.offset), member.name);
  return data;
}

} // namespace aptship::archive
