#include <archive.h>
#include <archive_entry.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "aptrepo/archive/tar.hpp"
#include "aptrepo/core/text.hpp"

namespace aptship::archive {

namespace {

struct ReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// Feeds libarchive one byte range of a file with pread, so that a member
// is read in place without copying it out of the ar archive.
struct RangeSource {
  static constexpr size_t k_max_buffer = 256 * 1024;

  RangeSource(int fd_, uint64_t offset_, uint64_t size)
      : fd(fd_), offset(offset_), remaining(size),
        capacity(static_cast<size_t>(std::min<uint64_t>(size, k_max_buffer))),
        // Sized to the member and left uninitialised: a repository add reads
        // two members of each of thousands of small packages, and zeroing a
        // full-sized buffer each time cost more than reading them.
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

Expected<void> read_tar(const Fd& fd, uint64_t offset, uint64_t size, std::string_view name,
                        const EntryFn& visit) {
  std::unique_ptr<struct archive, ReadFree> a(archive_read_new());
  if (!a) {
    return make_error("{}: out of memory", name);
  }
  // Only the filter the member's name announces is enabled: a member whose
  // contents do not match its name is refused, as dpkg refuses it.
  int rc = ARCHIVE_OK;
  int filter = ARCHIVE_FILTER_NONE;
  if (name.ends_with(".bz2")) {
    rc = archive_read_support_filter_bzip2(a.get());
    filter = ARCHIVE_FILTER_BZIP2;
  } else {
    const size_t tar = name.find(".tar");
    if (tar == std::string_view::npos) {
      return make_error("member '{}' is not a tar member", printable(name));
    }
    TRY_ASSIGN(Compression compression, compression_of_member(name, name.substr(0, tar + 4)));
    switch (compression) {
    case Compression::zstd:
      rc = archive_read_support_filter_zstd(a.get());
      filter = ARCHIVE_FILTER_ZSTD;
      break;
    case Compression::xz:
      rc = archive_read_support_filter_xz(a.get());
      filter = ARCHIVE_FILTER_XZ;
      break;
    case Compression::gzip:
      rc = archive_read_support_filter_gzip(a.get());
      filter = ARCHIVE_FILTER_GZIP;
      break;
    case Compression::none:
      rc = archive_read_support_filter_none(a.get());
      break;
    }
  }
  if (rc != ARCHIVE_OK || archive_read_support_format_tar(a.get()) != ARCHIVE_OK ||
      archive_read_support_format_gnutar(a.get()) != ARCHIVE_OK) {
    return make_error("{}: cannot set up the tar reader: {}", name, archive_error_string(a.get()));
  }
  RangeSource source(fd.get(), offset, size);
  auto fail = [&](std::string_view what) -> tl::unexpected<Error> {
    if (source.error) {
      return tl::unexpected<Error>(source.error->context(name));
    }
    const char* detail = archive_error_string(a.get());
    return make_error("{}: {}: {}", name, what, detail != nullptr ? detail : "corrupt data");
  };
  if (archive_read_open(a.get(), &source, nullptr, &RangeSource::read_cb, nullptr) != ARCHIVE_OK) {
    return fail("not a readable tar stream");
  }
  // libarchive falls back to reading the bytes as they are when no enabled
  // filter recognises them, so an uncompressed member needs this check.
  if (archive_filter_code(a.get(), 0) != filter) {
    return make_error("{}: the contents are not compressed as the name says", name);
  }
  archive_entry* e = nullptr;
  while (true) {
    rc = archive_read_next_header(a.get(), &e);
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
    entry.pax = is_pax_format(archive_format(a.get()));
    DataFn data = [&](void* buffer, size_t len) -> Expected<size_t> {
      la_ssize_t n = archive_read_data(a.get(), buffer, len);
      if (n < 0) {
        return fail(fmt::format("reading {}", entry.path));
      }
      return static_cast<size_t>(n);
    };
    TRY(visit(entry, data));
  }
  return {};
}

} // namespace aptship::archive
