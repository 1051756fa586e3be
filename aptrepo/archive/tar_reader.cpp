#include <archive.h>
#include <archive_entry.h>
#include <libdeflate.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "aptrepo/archive/tar.hpp"
#include "aptrepo/core/text.hpp"

namespace aptship::archive {

namespace {

struct ReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// Feeds libarchive one byte range of a file with pread, so that a member
// too large to read at once is streamed in place without copying it out of
// the ar archive.
struct RangeSource {
  static constexpr size_t k_max_buffer = 256 * 1024;

  RangeSource(int fd_, uint64_t offset_, uint64_t size)
      : fd(fd_), offset(offset_), remaining(size),
        capacity(static_cast<size_t>(std::min<uint64_t>(size, k_max_buffer))),
        // Left uninitialised: zeroing it would cost more than a read.
        buffer(std::make_unique_for_overwrite<char[]>(std::max<size_t>(capacity, 1))) {}

  int fd = -1;
  uint64_t offset = 0;
  uint64_t remaining = 0;
  size_t capacity = 0;
  std::unique_ptr<char[]> buffer;
  std::optional<Error> error;

  static la_ssize_t read_cb(struct archive* /*a*/, void* client, const void** out) {
    auto* self = static_cast<RangeSource*>(client);
    size_t want = static_cast<size_t>(std::min<uint64_t>(self->remaining, self->capacity));
    if (want == 0) {
      return 0;
    }
    ssize_t n = 0;
    do {
      n = pread(self->fd, self->buffer.get(), want, static_cast<off_t>(self->offset));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      self->error = Error(fmt::format("reading: {}", std::strerror(errno)));
      return -1;
    }
    if (n == 0) {
      self->error = Error("the file ends inside the member");
      return -1;
    }
    self->offset += static_cast<uint64_t>(n);
    self->remaining -= static_cast<uint64_t>(n);
    *out = self->buffer.get();
    return n;
  }
};

EntryType type_of(mode_t filetype, const char* hardlink) {
  if (hardlink != nullptr) {
    return EntryType::hardlink;
  }
  switch (filetype) {
  case AE_IFREG:
    return EntryType::file;
  case AE_IFDIR:
    return EntryType::directory;
  case AE_IFLNK:
    return EntryType::symlink;
  default:
    return EntryType::other;
  }
}

bool is_pax_format(int format) {
  return format == ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE ||
         format == ARCHIVE_FORMAT_TAR_PAX_RESTRICTED;
}

// A gzip member of up to this many bytes is inflated in one call instead of
// streamed: the members of packages are small, and the one-call inflater
// (its checksum included) costs a fraction of the streaming one's CPU.
constexpr uint64_t k_max_whole_input = 16U << 20;
// Nor may it inflate to more than this; larger tar streams are streamed.
constexpr size_t k_max_whole_output = 64U << 20;

struct DecompressorFree {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

// One per thread: a decompressor is not shared, and allocating one per
// member would cost more than inflating a small one.
libdeflate_decompressor* thread_decompressor() {
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorFree> decompressor(
      libdeflate_alloc_decompressor());
  return decompressor.get();
}

uint32_t le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// A member's bytes held in memory: the whole stream for a member read at
// once, or the inflated tar of a gzip member.
struct Buffer {
  std::unique_ptr<char[]> data;
  size_t size = 0;
};

// Inflates the gzip stream DATA (one member or several in a row), checking
// each member's CRC and size. Nothing when it is out of the ordinary in a
// way that is not plainly corrupt (bytes after a member that start no new
// one, more than k_max_whole_output): the streaming reader then reads it
// as before.
Expected<std::optional<Buffer>> inflate_whole(std::string_view data) {
  libdeflate_decompressor* decompressor = thread_decompressor();
  if (decompressor == nullptr || data.size() < 18) {
    return std::nullopt;
  }
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  size_t in_left = data.size();
  // The last member's trailer holds its size modulo 2^32: exact for the
  // usual single member, a first guess otherwise.
  size_t capacity = std::max<size_t>(le32(in + in_left - 4), 512);
  if (capacity > k_max_whole_output) {
    return std::nullopt;
  }
  // Uninitialised: the inflater writes every byte it reports.
  Buffer out{std::make_unique_for_overwrite<char[]>(capacity), 0};
  while (in_left > 0) {
    if (in_left < 18 || in[0] != 0x1f || in[1] != 0x8b) {
      return std::nullopt;
    }
    for (;;) {
      size_t consumed = 0;
      size_t produced = 0;
      libdeflate_result rc =
          libdeflate_gzip_decompress_ex(decompressor, in, in_left, out.data.get() + out.size,
                                        capacity - out.size, &consumed, &produced);
      if (rc == LIBDEFLATE_SUCCESS) {
        out.size += produced;
        in += consumed;
        in_left -= consumed;
        break;
      }
      if (rc == LIBDEFLATE_BAD_DATA) {
        return make_error("corrupt gzip data");
      }
      if (rc != LIBDEFLATE_INSUFFICIENT_SPACE || capacity * 2 > k_max_whole_output) {
        return std::nullopt;
      }
      capacity *= 2;
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
      std::memcpy(bigger.get(), out.data.get(), out.size);
      out.data = std::move(bigger);
    }
  }
  return out;
}

// Reads exactly SIZE bytes at OFFSET of FD.
Expected<Buffer> read_range(const Fd& fd, uint64_t offset, uint64_t size) {
  Buffer out{std::make_unique_for_overwrite<char[]>(std::max<uint64_t>(size, 1)),
             static_cast<size_t>(size)};
  TRY_ASSIGN(size_t got, fd.pread_full(out.data.get(), out.size, offset));
  if (got < out.size) {
    return make_error("the file ends inside the member");
  }
  return out;
}

// Calls VISIT for each entry of the tar stream A reads; FAIL words errors.
template <typename Fail>
Expected<void> visit_entries(struct archive* a, const Fail& fail, const EntryFn& visit) {
  archive_entry* e = nullptr;
  while (true) {
    int rc = archive_read_next_header(a, &e);
    if (rc == ARCHIVE_EOF) {
      break;
    }
    if (rc != ARCHIVE_OK) {
      return fail("reading a tar header");
    }
    TarEntry entry;
    const char* path = archive_entry_pathname(e);
    entry.path = path != nullptr ? path : "";
    const char* hardlink = archive_entry_hardlink(e);
    entry.type = type_of(archive_entry_filetype(e), hardlink);
    entry.mode = archive_entry_perm(e) & 07777;
    entry.size = static_cast<uint64_t>(archive_entry_size(e));
    entry.mtime = archive_entry_mtime(e);
    if (hardlink != nullptr) {
      entry.link_target = hardlink;
    } else if (const char* target = archive_entry_symlink(e); target != nullptr) {
      entry.link_target = target;
    }
    entry.uid = static_cast<uint32_t>(archive_entry_uid(e));
    entry.gid = static_cast<uint32_t>(archive_entry_gid(e));
    const char* uname = archive_entry_uname(e);
    const char* gname = archive_entry_gname(e);
    entry.uname = uname != nullptr ? uname : "";
    entry.gname = gname != nullptr ? gname : "";
    entry.pax = is_pax_format(archive_format(a));
    DataFn data = [&](void* buffer, size_t len) -> Expected<size_t> {
      la_ssize_t n = archive_read_data(a, buffer, len);
      if (n < 0) {
        return fail(fmt::format("reading {}", entry.path));
      }
      return static_cast<size_t>(n);
    };
    TRY(visit(entry, data));
  }
  return {};
}

// The libarchive filter a member's name announces: only that one is
// enabled, so that a member whose contents do not match its name is
// refused, as dpkg refuses it.
Expected<int> filter_of(std::string_view name) {
  if (name.ends_with(".bz2")) {
    return ARCHIVE_FILTER_BZIP2;
  }
  const size_t tar = name.find(".tar");
  if (tar == std::string_view::npos) {
    return make_error("member '{}' is not a tar member", printable(name));
  }
  TRY_ASSIGN(Compression compression, compression_of_member(name, name.substr(0, tar + 4)));
  switch (compression) {
  case Compression::zstd:
    return ARCHIVE_FILTER_ZSTD;
  case Compression::xz:
    return ARCHIVE_FILTER_XZ;
  case Compression::gzip:
    return ARCHIVE_FILTER_GZIP;
  case Compression::none:
    break;
  }
  return ARCHIVE_FILTER_NONE;
}

// A tar reader of member NAME with the formats dpkg writes and FILTER
// enabled.
Expected<std::unique_ptr<struct archive, ReadFree>> new_tar_reader(std::string_view name,
                                                                   int filter) {
  std::unique_ptr<struct archive, ReadFree> a(archive_read_new());
  if (!a) {
    return make_error("{}: out of memory", name);
  }
  int rc = ARCHIVE_OK;
  switch (filter) {
  case ARCHIVE_FILTER_BZIP2:
    rc = archive_read_support_filter_bzip2(a.get());
    break;
  case ARCHIVE_FILTER_ZSTD:
    rc = archive_read_support_filter_zstd(a.get());
    break;
  case ARCHIVE_FILTER_XZ:
    rc = archive_read_support_filter_xz(a.get());
    break;
  case ARCHIVE_FILTER_GZIP:
    rc = archive_read_support_filter_gzip(a.get());
    break;
  default:
    rc = archive_read_support_filter_none(a.get());
    break;
  }
  if (rc != ARCHIVE_OK || archive_read_support_format_tar(a.get()) != ARCHIVE_OK ||
      archive_read_support_format_gnutar(a.get()) != ARCHIVE_OK) {
    return make_error("{}: cannot set up the tar reader: {}", name, archive_error_string(a.get()));
  }
  return a;
}

// libarchive falls back to reading the bytes as they are when no enabled
// filter recognises them, so an uncompressed member needs this check.
Expected<void> check_filter(struct archive* a, int filter, std::string_view name) {
  if (archive_filter_code(a, 0) != filter) {
    return make_error("{}: the contents are not compressed as the name says", name);
  }
  return {};
}

// The error of WHAT failing on member NAME, which A reads.
tl::unexpected<Error> archive_failure(struct archive* a, std::string_view name,
                                      std::string_view what) {
  const char* detail = archive_error_string(a);
  return make_error("{}: {}: {}", name, what, detail != nullptr ? detail : "corrupt data");
}

// Reads the tar stream in BYTES, member NAME, compressed with FILTER.
Expected<void> read_memory(std::string_view bytes, std::string_view name, int filter,
                           const EntryFn& visit) {
  TRY_ASSIGN(auto a, new_tar_reader(name, filter));
  auto fail = [&](std::string_view what) { return archive_failure(a.get(), name, what); };
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return fail("not a readable tar stream");
  }
  TRY(check_filter(a.get(), filter, name));
  return visit_entries(a.get(), fail, visit);
}

} // namespace

Expected<Compression> compression_of_member(std::string_view member, std::string_view stem) {
  if (member.substr(0, stem.size()) != stem) {
    return make_error("member '{}' is not a {} member", printable(member), stem);
  }
  std::string_view ext = member.substr(stem.size());
  for (Compression c : {Compression::zstd, Compression::xz, Compression::gzip, Compression::none}) {
    if (ext == extension(c)) {
      return c;
    }
  }
  return make_error("member '{}' has an unsupported compression", printable(member));
}

Expected<void> read_tar(std::string_view member, std::string_view name, const EntryFn& visit) {
  TRY_ASSIGN(int filter, filter_of(name));
  if (filter == ARCHIVE_FILTER_GZIP && member.size() <= k_max_whole_input) {
    auto tar = inflate_whole(member);
    if (!tar) {
      return tl::unexpected<Error>(tar.error().context(name));
    }
    if (*tar) {
      const Buffer& inflated = **tar;
      return read_memory(std::string_view(inflated.data.get(), inflated.size), name,
                         ARCHIVE_FILTER_NONE, visit);
    }
  }
  return read_memory(member, name, filter, visit);
}

Expected<void> read_tar(const Fd& fd, uint64_t offset, uint64_t size, std::string_view name,
                        const EntryFn& visit) {
  TRY_ASSIGN(int filter, filter_of(name));
  if (size <= k_max_whole_input) {
    // Read at once: one read instead of several, and a gzip member can
    // then be inflated in one call.
    auto member = read_range(fd, offset, size);
    if (!member) {
      return tl::unexpected<Error>(member.error().context(name));
    }
    return read_tar(std::string_view(member->data.get(), member->size), name, visit);
  }
  TRY_ASSIGN(auto a, new_tar_reader(name, filter));
  RangeSource source(fd.get(), offset, size);
  auto fail = [&](std::string_view what) -> tl::unexpected<Error> {
    if (source.error) {
      return tl::unexpected<Error>(source.error->context(name));
    }
    return archive_failure(a.get(), name, what);
  };
  if (archive_read_open(a.get(), &source, nullptr, &RangeSource::read_cb, nullptr) != ARCHIVE_OK) {
    return fail("not a readable tar stream");
  }
  TRY(check_filter(a.get(), filter, name));
  return visit_entries(a.get(), fail, visit);
}

} // namespace aptship::archive
