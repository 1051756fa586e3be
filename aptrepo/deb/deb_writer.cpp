#include "aptrepo/deb/deb_writer.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <future>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "aptrepo/archive/ar.hpp"
#include "aptrepo/archive/tar.hpp"
#include "aptrepo/core/atomic_file.hpp"
#include "aptrepo/core/background_writer.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/hash.hpp"
#include "aptrepo/core/problems.hpp"
#include "aptrepo/deb/control.hpp"
#include "aptrepo/deb/deb822.hpp"
#include "aptrepo/deb/file_feed.hpp"
#include "aptrepo/deb/tree.hpp"

namespace aptship::deb {

namespace {

using archive::EntryType;
using archive::TarEntry;

constexpr size_t k_read_buffer = 1 << 20;
// control.tar is mostly md5sums: lines of random hex digits, where the
// 5-byte matches zstd's default level looks for cost more than the literals
// they replace. Level 2 (6-byte matches) makes it about 4% smaller, more
// than the padding of pad_for_insertion() costs, in half the time.
constexpr int k_control_zstd_level = 2;
// Buffers the file reader fills ahead of the tar writer and the hasher:
// enough that neither waits for the other on a run of large files, and
// large enough that most files fit whole in one, where they are hashed
// many at a time. Measured on 45,000 files (700 MiB): 4 MiB buffers use 5%
// less CPU than 1 MiB ones; 16 MiB ones cut the hasher's CPU by another
// 100 ms (files of up to a few MiB then share the lanes instead of going
// one at a time) and the pack's wall time by about 5%.
constexpr size_t k_feed_buffers = 4;
constexpr size_t k_feed_buffer_size = 16 << 20;
const std::set<std::string, std::less<>> k_maintainer_scripts = {"preinst", "postinst", "prerm",
                                                                 "postrm", "config"};

struct ControlFile {
  std::string name;
  std::string content;
  int64_t mtime = 0;
};

int64_t clamp(int64_t mtime, std::optional<int64_t> sde) {
  return sde && mtime > *sde ? *sde : mtime;
}

// Reads DEBIAN/: every entry must be a regular file; maintainer scripts
// must be executable (dpkg-deb's 0555..0775 range) and start with "#!" or
// be ELF binaries.
Expected<std::vector<ControlFile>> read_control_dir(const std::filesystem::path& debian,
                                                    std::optional<int64_t> sde) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(debian.c_str()), closedir);
  if (!d) {
    if (errno == ENOENT) {
      return make_error("{}: missing (the control directory must hold DEBIAN/control)",
                        debian.string());
    }
    return errno_error(debian.string(), errno);
  }
  std::vector<std::string> names;
  while (dirent* ent = readdir(d.get())) {
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  Problems problems;
  std::vector<ControlFile> files;
  for (const std::string& name : names) {
    const std::string shown = "DEBIAN/" + name;
    const std::filesystem::path path = debian / name;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) {
      problems.add(fmt::format("{}: {}", shown, std::strerror(errno)));
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      problems.add(fmt::format("{}: must be a regular file", shown));
      continue;
    }
    auto content = read_file(path);
    if (!content) {
      problems.add(content.error().context(shown).message());
      continue;
    }
    if (k_maintainer_scripts.count(name) != 0) {
      const unsigned mode = st.st_mode & 07777;
      if ((mode & 0555) != 0555 || (mode & ~0775U) != 0) {
        problems.add(fmt::format(
            "{}: maintainer script has mode {:04o} (must be executable, between 0555 and 0775)",
            shown, mode));
      }
      if (!content->starts_with("#!") && !content->starts_with("\x7f"
                                                               "ELF")) {
        problems.add(fmt::format("{}: maintainer script does not start with '#!'", shown));
      }
    }
    files.push_back(ControlFile{name, std::move(*content), clamp(st.st_mtime, sde)});
  }
  if (!problems.empty()) {
    return tl::unexpected(problems.error());
  }
  return files;
}

// Checks DEBIAN/conffiles: absolute, normalized paths of regular files in the
// package ("remove-on-upgrade" entries name files that are not).
Expected<std::set<std::string>> check_conffiles(std::string_view text, const Tree& tree) {
  std::set<std::string, std::less<>> files;
  for (const TreeEntry& e : tree.entries) {
    if (e.tar.type == EntryType::file || e.tar.type == EntryType::hardlink) {
      files.insert(e.tar.path.substr(1)); // "./etc/x" -> "/etc/x"
    }
  }
  std::set<std::string, std::less<>> all_paths;
  for (const TreeEntry& e : tree.entries) {
    std::string p = e.tar.path.substr(1);
    if (p.size() > 1 && p.back() == '/') {
      p.pop_back();
    }
    all_paths.insert(std::move(p));
  }
  Problems problems;
  std::set<std::string> conffiles;
  size_t line_no = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      continue;
    }
    bool remove_on_upgrade = false;
    if (line.starts_with("remove-on-upgrade ")) {
      remove_on_upgrade = true;
      line.remove_prefix(std::string_view("remove-on-upgrade ").size());
    }
    const std::string where = fmt::format("DEBIAN/conffiles: line {}", line_no);
    if (line.empty() || line.front() != '/') {
      problems.add(fmt::format("{}: '{}' is not an absolute path", where, line));
      continue;
    }
    if (line.find("/../") != std::string_view::npos || line.ends_with("/..") ||
        line.find("/./") != std::string_view::npos || line.find("//") != std::string_view::npos) {
      problems.add(fmt::format("{}: '{}' is not a normalized path", where, line));
      continue;
    }
    if (remove_on_upgrade) {
      if (all_paths.count(line) != 0) {
        problems.add(
            fmt::format("{}: '{}' is marked remove-on-upgrade but is in the package", where, line));
      }
      continue;
    }
    if (files.count(line) == 0) {
      problems.add(
          fmt::format("{}: conffile '{}' is not a regular file in the package", where, line));
      continue;
    }
    if (!conffiles.insert(std::string(line)).second) {
      problems.add(fmt::format("{}: conffile '{}' is listed twice", where, line));
    }
  }
  if (!problems.empty()) {
    return tl::unexpected(problems.error());
  }
  return conffiles;
}

// An unnamed temporary file in DIR: it vanishes with the process, however
// the process ends.
Expected<Fd> unnamed_temp_file(const std::filesystem::path& dir) {
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) {
    return Fd(fd);
  }
  // Filesystems without O_TMPFILE: create and unlink at once.
  std::string pattern = (dir / ".aptship-pack.XXXXXX").string();
  fd = mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) {
    return errno_error(fmt::format("creating a temporary file in {}", dir.string()), errno);
  }
  unlink(pattern.c_str());
  return Fd(fd);
}

// Builds the control member from the tree as listed and the MD5 of each
// regular file, in archive order.
using ControlBuilder =
    std::function<Expected<std::string>(const Tree& tree, const std::vector<std::string>& digests)>;

struct DataResult {
  const Tree* tree = nullptr; // as listed; lives as long as the scan
  std::string control_tar;    // what the ControlBuilder made
  uint64_t size = 0;
};

// The md5sums file: a line per regular file and hard link, in archive
// order; conffiles are left out, as debhelper does (dpkg tracks them
// itself).
std::string md5sums_text(const Tree& tree, const std::set<std::string>& conffiles,
                         const std::vector<std::string>& digests) {
  // Hard links take their target's digest, looked up by path; most trees
  // have none, and then the map is not built.
  const bool links = std::any_of(tree.entries.begin(), tree.entries.end(), [](const TreeEntry& e) {
    return e.tar.type == EntryType::hardlink;
  });
  std::unordered_map<std::string_view, std::string_view> by_path;
  std::string out;
  // A 32-digit digest, two spaces, the path without "./" and a newline.
  out.reserve(digests.size() * 80);
  size_t index = 0;
  for (const TreeEntry& entry : tree.entries) {
    std::string_view digest;
    if (entry.tar.type == EntryType::file) {
      digest = digests.at(index++);
      if (links) {
        by_path.emplace(entry.tar.path, digest);
      }
    } else if (entry.tar.type == EntryType::hardlink) {
      digest = by_path.at(entry.tar.link_target);
    } else {
      continue;
    }
    // "./etc/x" is conffile "/etc/x" and md5sums line "etc/x".
    if (conffiles.empty() || conffiles.count(entry.tar.path.substr(1)) == 0) {
      out.append(digest);
      out.append("  ");
      out.append(std::string_view(entry.tar.path).substr(2));
      out.push_back('\n');
    }
  }
  return out;
}

// Writes data.tar from the entries of SCAN as they are listed; the scan has
// ended, successfully, when this succeeds. Once every file was handed to
// the compressor, BUILD_CONTROL runs on a thread of its own while the
// compressor finishes and the data is written back.
Expected<DataResult> write_data_tar(const std::filesystem::path& root, TreeScan& scan,
                                    const Fd& out, BackgroundWriter::Mode mode,
                                    const PackOptions& options, unsigned threads,
                                    const ControlBuilder& build_control) {
  BackgroundWriter writer(out, mode);
  TRY_ASSIGN(archive::TarWriter tar,
             archive::TarWriter::create(
                 options.compression, options.level,
                 archive::OutputArea{.space = [&writer] { return writer.space(); },
                                     .commit = [&writer](size_t n) { return writer.commit(n); }},
                 threads));
  auto regular_files = [&scan, cursor = TreeCursor(scan)]() mutable -> FileFeed::SourceFile {
    while (const TreeEntry* entry = cursor.next()) {
      if (entry->tar.type == EntryType::file) {
        return {entry, scan.take_file(entry)};
      }
    }
    return {};
  };
  TRY_ASSIGN(std::unique_ptr<FileFeed> feed,
             FileFeed::start(root, regular_files, k_feed_buffers, k_feed_buffer_size));
  const FileFeed::Chunk* chunk = nullptr;
  size_t next_piece = 0;
  // The next piece of file data in archive order.
  auto take_piece = [&]() -> Expected<const FileFeed::Piece*> {
    while (chunk == nullptr || next_piece == chunk->pieces.size()) {
      if (chunk != nullptr) {
        if (chunk->error) {
          return tl::unexpected(*chunk->error);
        }
        feed->release(chunk);
      }
      chunk = feed->next();
      next_piece = 0;
      if (chunk == nullptr) {
        return make_error("packing: file data ended early");
      }
    }
    return &chunk->pieces[next_piece++];
  };
  size_t files = 0;
  TreeCursor listing(scan);
  while (const TreeEntry* listed = listing.next()) {
    const TreeEntry& entry = *listed;
    TRY(tar.add(entry.tar));
    if (entry.tar.type != EntryType::file) {
      continue;
    }
    while (true) {
      TRY_ASSIGN(const FileFeed::Piece* piece, take_piece());
      if (piece->file != files) {
        return make_error("packing {}: file data out of order", entry.tar.path);
      }
      if (piece->size > 0) {
        TRY(tar.write_data(std::string_view(chunk->data + piece->offset, piece->size)));
      }
      if (piece->last) {
        break;
      }
    }
    ++files;
  }
  if (chunk != nullptr) {
    feed->release(chunk);
  }
  // The listing stopped early if the scan failed.
  TRY_ASSIGN(const Tree* tree, scan.finish());
  // Joined before anything it uses goes out of scope, also on an early
  // return (a std::async future waits in its destructor).
  std::future<Expected<std::string>> control =
      std::async(std::launch::async,
                 [&build_control, tree, &feed] { return build_control(*tree, feed->digests()); });
  TRY(tar.finish());
  TRY(writer.finish());
  DataResult result;
  result.tree = tree;
  TRY_ASSIGN(result.control_tar, control.get());
  result.size = writer.written();
  return result;
}

Expected<std::string> write_control_tar(std::vector<ControlFile> files,
                                        const PackOptions& options) {
  std::sort(files.begin(), files.end(),
            [](const ControlFile& a, const ControlFile& b) { return a.name < b.name; });
  std::string out;
  const int level = options.compression == archive::Compression::zstd ? k_control_zstd_level : -1;
  TRY_ASSIGN(archive::TarWriter tar,
             archive::TarWriter::create(options.compression, level,
                                        [&out](std::string_view data) -> Expected<void> {
                                          out.append(data);
                                          return {};
                                        }));
  int64_t newest = 0;
  for (const ControlFile& f : files) {
    newest = std::max(newest, f.mtime);
  }
  TarEntry root;
  root.path = "./";
  root.type = EntryType::directory;
  root.mode = 0755;
  root.mtime = newest;
  TRY(tar.add(root));
  for (const ControlFile& f : files) {
    const bool script = k_maintainer_scripts.count(f.name) != 0;
    TarEntry entry;
    entry.path = "./" + f.name;
    entry.mode = script ? 0755U : 0644U;
    entry.size = f.content.size();
    entry.mtime = f.mtime;
    TRY(tar.add(entry));
    TRY(tar.write_data(f.content));
  }
  TRY(tar.finish());
  return out;
}

Expected<void> copy_range(const Fd& from, uint64_t size, const Fd& to) {
  loff_t offset = 0;
  bool kernel_copy = true;
  std::vector<char> buffer;
  while (static_cast<uint64_t>(offset) < size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(size - offset, 1U << 30));
    if (kernel_copy) {
      ssize_t n = copy_file_range(from.get(), &offset, to.get(), nullptr, want, 0);
      if (n > 0) {
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) {
        return errno_error("copying data.tar into the package", errno);
      }
      if (n == 0) {
        return make_error("copying data.tar into the package: unexpected end of data");
      }
      kernel_copy = false;
      buffer.resize(k_read_buffer);
    }
    ssize_t n = pread(from.get(), buffer.data(), std::min(want, buffer.size()), offset);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return errno_error("reading data.tar back", n < 0 ? errno : EIO);
    }
    TRY(to.write_all(std::string_view(buffer.data(), static_cast<size_t>(n))));
    offset += n;
  }
  return {};
}

// The bytes debsigs signs: the contents of debian-binary, control.tar.* and
// data.tar.* in that order, without their ar headers.
ByteReader signed_bytes(std::string_view binary, std::string_view control, const Fd& data,
                        uint64_t data_start, uint64_t data_size) {
  struct State {
    std::string_view parts[2];
    size_t part = 0;
    uint64_t data_offset = 0;
  };
  auto state = std::make_shared<State>();
  state->parts[0] = binary;
  state->parts[1] = control;
  return [state, &data, data_start, data_size](void* buffer, size_t size) -> ssize_t {
    while (state->part < 2) {
      std::string_view& p = state->parts[state->part];
      if (p.empty()) {
        ++state->part;
        continue;
      }
      size_t n = std::min(size, p.size());
      std::memcpy(buffer, p.data(), n);
      p.remove_prefix(n);
      return static_cast<ssize_t>(n);
    }
    if (state->data_offset >= data_size) {
      return 0;
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(size, data_size - state->data_offset));
    ssize_t n = 0;
    do {
      n = pread(data.get(), buffer, want, static_cast<off_t>(data_start + state->data_offset));
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      state->data_offset += static_cast<uint64_t>(n);
    } else if (n == 0) {
      errno = EIO;
      return -1;
    }
    return n;
  };
}

// The bytes before data.tar's contents: the ar magic, debian-binary, the
// control member and data.tar's header.
Expected<std::string> package_head(std::string_view binary, std::string_view control_tar,
                                   std::string_view ext, uint64_t data_size, int64_t mtime) {
  std::string head(archive::k_ar_magic);
  TRY_ASSIGN(std::string h1, archive::ar_header("debian-binary", binary.size(), mtime));
  TRY_ASSIGN(std::string h2,
             archive::ar_header("control.tar" + std::string(ext), control_tar.size(), mtime));
  TRY_ASSIGN(std::string h3, archive::ar_header("data.tar" + std::string(ext), data_size, mtime));
  head += h1;
  head += binary;
  head += h2;
  head += control_tar;
  head += archive::ar_padding(control_tar.size());
  head += h3;
  return head;
}

// The size of everything package_head() puts around the control member.
constexpr uint64_t k_head_overhead =
    archive::k_ar_magic.size() + 3 * archive::k_ar_header_size + 4 /* "2.0\n" */;

// Range insertion works in whole filesystem blocks; 4 KiB is a multiple of
// the block size of every common Linux filesystem.
constexpr uint64_t k_insert_unit = 4096;

// Pads the zstd-compressed CONTROL_TAR with a skippable frame (RFC 8878
// section 3.1.2, which every zstd decoder passes over) so that the package
// head is a whole number of k_insert_unit. Done for every zstd package,
// whatever the filesystem, so the bytes do not depend on where they were
// written. Costs at most 4 KiB.
void pad_for_insertion(std::string& control_tar) {
  constexpr uint64_t k_frame_header = 8;
  const uint64_t unpadded = k_head_overhead + control_tar.size() + k_frame_header;
  const uint64_t head = (unpadded + k_insert_unit - 1) / k_insert_unit * k_insert_unit;
  const auto payload = static_cast<uint32_t>(head - unpadded);
  const uint32_t magic = 0x184D2A50;
  for (uint32_t word : {magic, payload}) {
    for (int i = 0; i < 4; ++i) {
      control_tar.push_back(static_cast<char>((word >> (8 * i)) & 0xFF));
    }
  }
  control_tar.append(payload, '\0');
}

// Puts HEAD in front of the data already in FD by inserting whole blocks at
// offset 0, so data.tar, the bulk of the package, is written only once.
// False when the filesystem cannot insert ranges.
Expected<bool> insert_head(const Fd& fd, std::string_view head) {
  if (head.size() % k_insert_unit != 0) {
    return false;
  }
  if (fallocate(fd.get(), FALLOC_FL_INSERT_RANGE, 0, static_cast<off_t>(head.size())) != 0) {
    if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS) {
      return false;
    }
    return errno_error("making room for the package head", errno);
  }
  TRY(fd.pwrite_all(head, 0));
  if (lseek(fd.get(), 0, SEEK_END) < 0) {
    return errno_error("seeking to the end of the package", errno);
  }
  return true;
}

} // namespace

Expected<std::optional<int64_t>> source_date_epoch_from_env() {
  const char* text = std::getenv("SOURCE_DATE_EPOCH");
  if (text == nullptr || *text == '\0') {
    return std::optional<int64_t>();
  }
  int64_t value = 0;
  std::string_view sv(text);
  auto [end, ec] = std::from_chars(sv.data(), sv.data() + sv.size(), value);
  if (ec != std::errc() || end != sv.data() + sv.size() || value < 0) {
    return make_error("SOURCE_DATE_EPOCH '{}' is not a number of seconds", sv);
  }
  return std::optional<int64_t>(value);
}

Expected<PackResult> pack(const std::filesystem::path& dir, const std::filesystem::path& output,
                          const PackOptions& options) {
  const auto sde = options.source_date_epoch;
  const unsigned threads =
      options.threads != 0 ? options.threads : std::max(1U, std::thread::hardware_concurrency());
  if (options.level >= 0) {
    TRY(archive::check_level(options.compression, options.level));
  }

  // The tree is listed on a thread of its own while the control files are
  // checked and data.tar is written: packing starts on the first files
  // before the last are listed. Whatever the tree holds is checked before
  // the package is complete, and a failure leaves only the temporary
  // output, which is removed.
  const std::unique_ptr<TreeScan> scan = TreeScan::start(dir, sde, true);
  TRY_ASSIGN(std::vector<ControlFile> control_files, read_control_dir(dir / "DEBIAN", sde));
  auto control_it = std::find_if(control_files.begin(), control_files.end(),
                                 [](const ControlFile& f) { return f.name == "control"; });
  if (control_it == control_files.end()) {
    return make_error("{}: missing", (dir / "DEBIAN/control").string());
  }
  TRY_ASSIGN(Paragraph control, parse_one(control_it->content, "DEBIAN/control"));
  TRY(check_binary_control(control, "DEBIAN/control"));

  const std::filesystem::path out_dir =
      output.has_parent_path() ? output.parent_path() : std::filesystem::path(".");
  TRY_ASSIGN(AtomicFile out, AtomicFile::create(output, 0644));
  // zstd packages get their data.tar written straight into the output and
  // the head inserted in front of it afterwards (see insert_head); other
  // compressions, and filesystems that cannot insert, go through a
  // temporary file that is copied in.
  const bool in_place = options.compression == archive::Compression::zstd;
  std::optional<Fd> data_tmp;
  if (!in_place) {
    TRY_ASSIGN(data_tmp, unnamed_temp_file(out_dir));
  }
  const Fd& data_fd = in_place ? out.fd() : *data_tmp;
  const int64_t now = sde ? *sde : static_cast<int64_t>(std::time(nullptr));
  auto build_control = [&](const Tree& tree,
                           const std::vector<std::string>& digests) -> Expected<std::string> {
    std::set<std::string> conffiles;
    auto conffiles_it = std::find_if(control_files.begin(), control_files.end(),
                                     [](const ControlFile& f) { return f.name == "conffiles"; });
    if (conffiles_it != control_files.end()) {
      TRY_ASSIGN(conffiles, check_conffiles(conffiles_it->content, tree));
    }
    std::string md5sums = md5sums_text(tree, conffiles, digests);
    control.set_after("Installed-Size", std::to_string(tree.installed_size_kib), "Maintainer");
    control_it->content = control.to_string();
    // md5sums is generated here, so any DEBIAN/md5sums given is replaced.
    std::erase_if(control_files, [](const ControlFile& f) { return f.name == "md5sums"; });
    if (!md5sums.empty()) {
      control_files.push_back(ControlFile{"md5sums", std::move(md5sums), now});
    }
    TRY_ASSIGN(std::string control_tar, write_control_tar(std::move(control_files), options));
    if (in_place) {
      pad_for_insertion(control_tar);
    }
    return control_tar;
  };
  // data.tar goes straight to the device, except where it is read back: to
  // be signed, or copied in from a temporary file.
  const auto mode = in_place && !options.sign ? BackgroundWriter::Mode::direct
                                              : BackgroundWriter::Mode::page_cache;
  TRY_ASSIGN(DataResult data,
             write_data_tar(dir, *scan, data_fd, mode, options, threads, build_control));
  const std::string& control_tar = data.control_tar;
  const Tree& tree = *data.tree;
  const std::string package(*control.get("Package"));
  const std::string version(*control.get("Version"));
  const std::string architecture(*control.get("Architecture"));

  const std::string ext(archive::extension(options.compression));
  const std::string_view binary = "2.0\n";
  TRY_ASSIGN(const std::string head, package_head(binary, control_tar, ext, data.size, now));
  // Where data.tar's bytes are, and in which file, once the head is placed.
  const Fd* data_source = &out.fd();
  uint64_t data_start = head.size();
  bool placed = false;
  if (in_place) {
    TRY_ASSIGN(placed, insert_head(out.fd(), head));
    if (!placed) {
      // The data went into the output file, which now becomes the
      // temporary copy source for a fresh output file.
      data_tmp = out.abandon();
      data_source = &*data_tmp;
      data_start = 0;
      TRY_ASSIGN(out, AtomicFile::create(output, 0644));
    }
  } else {
    data_source = &*data_tmp;
    data_start = 0;
  }
  if (!placed) {
    TRY(out.write(head));
    TRY(copy_range(*data_source, data.size, out.fd()));
    data_source = &*data_tmp;
  }
  uint64_t total = head.size() + data.size;
  std::string tail(archive::ar_padding(data.size));
  if (options.sign) {
    TRY_ASSIGN(std::string signature, options.sign(signed_bytes(binary, control_tar, *data_source,
                                                                data_start, data.size)));
    TRY_ASSIGN(std::string h4, archive::ar_header("_gpgorigin", signature.size(), now));
    tail += h4;
    tail += signature;
    tail += archive::ar_padding(signature.size());
  }
  TRY(out.write(tail));
  total += tail.size();
  TRY_CTX(out.commit(), output.string());

  PackResult result;
  result.package = package;
  result.version = version;
  result.architecture = architecture;
  result.installed_size_kib = tree.installed_size_kib;
  result.entries = tree.entries.size();
  result.size = total;
  return result;
}

} // namespace aptship::deb
