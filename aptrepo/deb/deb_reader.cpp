#include "aptrepo/deb/deb_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <set>

#include "aptrepo/archive/tar.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/text.hpp"
#include "aptrepo/deb/control.hpp"

namespace aptship::deb {

namespace {

using archive::EntryType;
using archive::TarEntry;

// Control members hold a few small files; anything bigger is not a package.
constexpr uint64_t k_max_control_file = 16U << 20;

// Where the members of a package are read from: its file, or a copy of the
// whole file in memory.
class Source {
public:
  explicit Source(const Fd& fd) : m_fd(&fd) {}
  explicit Source(std::string_view bytes) : m_bytes(bytes) {}

  [[nodiscard]] Expected<std::string> member(const archive::ArMember& member) const {
    if (m_fd != nullptr) {
      return archive::read_member(*m_fd, member);
    }
    return std::string(m_bytes.substr(member.offset, member.size));
  }

  [[nodiscard]] Expected<void> tar(const archive::ArMember& member,
                                   const archive::EntryFn& visit) const {
    if (m_fd != nullptr) {
      return archive::read_tar(*m_fd, member.offset, member.size, member.name, visit);
    }
    return archive::read_tar(m_bytes.substr(member.offset, member.size), member.name, visit);
  }

private:
  const Fd* m_fd = nullptr;
  std::string_view m_bytes;
};

bool has_dotdot(std::string_view path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    if (path.substr(start, end - start) == "..") {
      return true;
    }
    start = end + 1;
  }
  return false;
}

// Checks a data.tar path and returns it without "./" and trailing "/".
Expected<std::string> check_data_path(const TarEntry& entry) {
  std::string_view p = entry.path;
  if (p == "./" || p == ".") {
    return std::string(".");
  }
  if (!p.starts_with("./")) {
    return make_error("data.tar: '{}' is not a './'-relative path", printable(entry.path));
  }
  if (has_dotdot(p)) {
    return make_error("data.tar: '{}' contains '..'", printable(entry.path));
  }
  if (p.find('\n') != std::string_view::npos) {
    return make_error("data.tar: a path contains a newline");
  }
  p.remove_prefix(2);
  while (!p.empty() && p.back() == '/') {
    p.remove_suffix(1);
  }
  if (p.empty() || p.front() == '/' || p.find("//") != std::string_view::npos) {
    return make_error("data.tar: '{}' is not a normalized path", printable(entry.path));
  }
  return std::string(p);
}

Expected<void> check_layout(const std::vector<archive::ArMember>& members, const Source& source,
                            DebContents& out) {
  if (members.size() < 3) {
    return make_error("not a Debian package: {} ar members, expected at least 3", members.size());
  }
  if (members[0].name != "debian-binary") {
    return make_error("first member is '{}', expected 'debian-binary'", printable(members[0].name));
  }
  if (members[0].size > 64) {
    return make_error("debian-binary is {} bytes long", members[0].size);
  }
  auto binary = source.member(members[0]);
  if (!binary) {
    return tl::unexpected(binary.error());
  }
  const std::string_view version = *binary;
  if (version.size() < 3 || version.substr(0, 2) != "2." || version.back() != '\n') {
    return make_error("unsupported package format version '{}'",
                      version.substr(0, version.find('\n')));
  }
  TRY_ASSIGN(archive::Compression c1,
             archive::compression_of_member(members[1].name, "control.tar"));
  (void)c1;
  const std::string& data = members[2].name;
  if (data != "data.tar.bz2") {
    TRY_ASSIGN(archive::Compression c2, archive::compression_of_member(data, "data.tar"));
    (void)c2;
  }
  for (size_t i = 3; i < members.size(); ++i) {
    if (members[i].name.empty() || members[i].name.front() != '_') {
      return make_error("unexpected member '{}' after data.tar", printable(members[i].name));
    }
    if (members[i].name == "_gpgorigin") {
      out.has_signature = true;
    }
  }
  out.control_member = members[1].name;
  out.data_member = members[2].name;
  return {};
}

Expected<void> read_control(const Source& source, const archive::ArMember& member,
                            DebContents& out) {
  TRY(source.tar(
      member,
      [&out, &member](const TarEntry& entry, const archive::DataFn& data) -> Expected<void> {
        if (entry.pax) {
          return make_error("{}: '{}' has a pax header", member.name, printable(entry.path));
        }
        if (entry.type == EntryType::directory) {
          if (entry.path != "./" && entry.path != ".") {
            return make_error("{}: unexpected directory '{}'", member.name, printable(entry.path));
          }
          return {};
        }
        std::string_view name = entry.path;
        if (name.starts_with("./")) {
          name.remove_prefix(2);
        }
        if (entry.type != EntryType::file || name.empty() ||
            name.find('/') != std::string_view::npos) {
          return make_error("{}: unexpected entry '{}'", member.name, printable(entry.path));
        }
        if (entry.size > k_max_control_file) {
          return make_error("{}: '{}' is too large", member.name, printable(entry.path));
        }
        std::string content(entry.size, '\0');
        size_t got = 0;
        while (got < content.size()) {
          TRY_ASSIGN(size_t n, data(content.data() + got, content.size() - got));
          if (n == 0) {
            return make_error("{}: '{}' is truncated", member.name, printable(entry.path));
          }
          got += n;
        }
        if (!out.control_files.emplace(std::string(name), std::move(content)).second) {
          return make_error("{}: '{}' appears twice", member.name, printable(entry.path));
        }
        return {};
      }));
  auto control = out.control_files.find("control");
  if (control == out.control_files.end()) {
    return make_error("{}: no control file", member.name);
  }
  TRY_ASSIGN(out.control, parse_one(control->second, "control"));
  TRY(check_binary_control(out.control, "control"));
  return {};
}

Expected<void> read_data(const Source& source, const archive::ArMember& member, ListFiles list,
                         DebContents& out) {
  std::set<std::string, std::less<>> seen;
  return source.tar(
      member, [&](const TarEntry& entry, const archive::DataFn& /*data*/) -> Expected<void> {
        if (entry.pax) {
          return make_error("data.tar: '{}' has a pax header", printable(entry.path));
        }
        TRY_ASSIGN(std::string path, check_data_path(entry));
        if (entry.type == EntryType::other) {
          return make_error("data.tar: '{}' is not a file, directory or link",
                            printable(entry.path));
        }
        if (entry.type == EntryType::hardlink) {
          TarEntry target = entry;
          target.path = entry.link_target;
          TRY_ASSIGN(std::string target_path, check_data_path(target));
          if (seen.count(target_path) == 0) {
            return make_error("data.tar: hard link '{}' names '{}', which is not an earlier entry",
                              printable(entry.path), printable(entry.link_target));
          }
        }
        if (!seen.insert(std::move(path)).second) {
          return make_error("data.tar: '{}' appears twice", printable(entry.path));
        }
        if (list == ListFiles::yes) {
          out.files.push_back(entry);
        }
        return {};
      });
}

// Checks the members OUT lists and reads the control data and file list.
Expected<void> check_members(const Source& source, std::string_view shown, ListFiles list,
                             DebContents& out) {
  TRY_CTX(check_layout(out.members, source, out), shown);
  TRY_CTX(read_control(source, out.members[1], out), shown);
  TRY_CTX(read_data(source, out.members[2], list, out), shown);
  return {};
}

} // namespace

Expected<DebContents> read_deb(const std::filesystem::path& path, ListFiles list) {
  TRY_ASSIGN(Fd fd, Fd::open(path, O_RDONLY));
  return read_deb(fd, path.string(), list);
}

Expected<DebContents> read_deb(const Fd& fd, std::string_view shown, ListFiles list) {
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) {
    return errno_error(std::string(shown), errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error("{}: not a regular file", shown);
  }
  DebContents out;
  out.size = static_cast<uint64_t>(st.st_size);
  TRY_ASSIGN(out.members, archive::read_ar(fd, out.size).map_error([&](const Error& e) {
    return e.context(shown);
  }));
  TRY(check_members(Source(fd), shown, list, out));
  return out;
}

Expected<DebContents> read_deb_bytes(std::string_view bytes, std::string_view shown,
                                     ListFiles list) {
  DebContents out;
  out.size = bytes.size();
  TRY_ASSIGN(out.members,
             archive::read_ar(bytes).map_error([&](const Error& e) { return e.context(shown); }));
  TRY(check_members(Source(bytes), shown, list, out));
  return out;
}

} // namespace aptship::deb
