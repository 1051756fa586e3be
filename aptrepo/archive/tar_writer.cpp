#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "aptrepo/archive/tar.hpp"
#include "aptrepo/archive/zstd_stream.hpp"

namespace aptship::archive {

namespace {

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

} // namespace

struct TarWriter::Impl {
  std::unique_ptr<struct archive, ArchiveFree> archive;
  std::unique_ptr<archive_entry, EntryFree> entry;
  Sink sink;
  // zstd is compressed here rather than by a libarchive filter.
  std::optional<ZstdStream> zstd;
  // Uncompressed tar bytes handed to zstd, to pad the last record.
  uint64_t zstd_input = 0;
  // The sink's error, kept because libarchive only sees "-1".
  std::optional<Error> sink_error;
  bool finished = false;
  // Set while an unfinished stream is torn down: its last output is dropped.
  bool discard = false;

  ~Impl() {
    // Freeing an unfinished stream flushes it through write_cb; that must
    // happen while the sink and compressor still exist (members are
    // destroyed after this body), and the output of an abandoned stream
    // goes nowhere. Closing (rather than archive_write_fail) lets every
    // filter release its memory.
    if (archive && !finished) {
      discard = true;
      archive.reset();
    }
  }

  static la_ssize_t write_cb(struct archive* /*a*/, void* client, const void* buffer,
                             size_t length) {
    auto* self = static_cast<Impl*>(client);
    if (self->discard) {
      return static_cast<la_ssize_t>(length);
    }
    auto result = self->sink(std::string_view(static_cast<const char*>(buffer), length));
    if (!result) {
      self->sink_error = result.error();
      return -1;
    }
    return static_cast<la_ssize_t>(length);
  }

  tl::unexpected<Error> failure(std::string_view what) const {
    if (sink_error) {
      return tl::unexpected<Error>(*sink_error);
    }
    const char* detail = archive_error_string(archive.get());
    return make_error("{}: {}", what, detail != nullptr ? detail : "unknown libarchive error");
  }
};

TarWriter::TarWriter(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
TarWriter::TarWriter(TarWriter&&) noexcept = default;
TarWriter& TarWriter::operator=(TarWriter&&) noexcept = default;
TarWriter::~TarWriter() = default;

Expected<TarWriter> TarWriter::create(Compression compression, int level, Sink sink,
                                      unsigned threads) {
  return create(compression, level, std::move(sink), std::nullopt, threads);
}

Expected<TarWriter> TarWriter::create(Compression compression, int level, OutputArea area,
                                      unsigned threads) {
  // Other compressors than zstd have buffers of their own, copied from.
  Sink copy = [area](std::string_view data) -> Expected<void> {
    while (!data.empty()) {
      const std::span<char> room = area.space();
      const size_t n = std::min(room.size(), data.size());
      std::memcpy(room.data(), data.data(), n);
      TRY(area.commit(n));
      data.remove_prefix(n);
    }
    return {};
  };
  return create(compression, level, std::move(copy), std::move(area), threads);
}

Expected<TarWriter> TarWriter::create(Compression compression, int level, Sink sink,
                                      std::optional<OutputArea> area, unsigned threads) {
  auto impl = std::make_unique<Impl>();
  impl->sink = std::move(sink);
  impl->archive.reset(archive_write_new());
  impl->entry.reset(archive_entry_new());
  if (!impl->archive || !impl->entry) {
    return make_error("creating a tar writer: out of memory");
  }
  struct archive* a = impl->archive.get();
  // GNU format: long names use GNU's own records, so no pax header is ever
  // written (dpkg refuses pax headers in packages).
  if (archive_write_set_format_gnutar(a) != ARCHIVE_OK) {
    return impl->failure("selecting GNU tar format");
  }
  if (level < 0) {
    level = default_level(compression);
  }
  TRY(check_level(compression, level));
  const std::string level_text = std::to_string(level);
  int rc = ARCHIVE_OK;
  const char* filter = nullptr;
  switch (compression) {
  case Compression::zstd: {
    TRY_ASSIGN(ZstdStream stream, area ? ZstdStream::create(level, threads, std::move(*area))
                                       : ZstdStream::create(level, threads, std::move(impl->sink)));
    impl->zstd.emplace(std::move(stream));
    impl->sink = [z = &*impl->zstd, count = &impl->zstd_input](std::string_view data) {
      *count += data.size();
      return z->write(data);
    };
    // libarchive then passes file data straight through instead of copying
    // it into 10 KiB records first; the last record is padded in finish().
    if (archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK) {
      return impl->failure("setting the block size");
    }
    rc = archive_write_add_filter_none(a);
    break;
  }
  case Compression::xz:
    rc = archive_write_add_filter_xz(a);
    filter = "xz";
    break;
  case Compression::gzip:
    rc = archive_write_add_filter_gzip(a);
    filter = "gzip";
    break;
  case Compression::none:
    rc = archive_write_add_filter_none(a);
    break;
  }
  if (rc != ARCHIVE_OK) {
    return impl->failure(fmt::format("enabling {} compression", name(compression)));
  }
  if (filter != nullptr) {
    if (archive_write_set_filter_option(a, filter, "compression-level", level_text.c_str()) !=
        ARCHIVE_OK) {
      return impl->failure("setting the compression level");
    }
  }
  if (compression == Compression::gzip) {
    // Without this the gzip header carries the current time and two
    // packs of the same tree differ.
    if (archive_write_set_filter_option(a, "gzip", "timestamp", nullptr) != ARCHIVE_OK) {
      return impl->failure("disabling the gzip timestamp");
    }
  }
  if (compression == Compression::xz) {
    // xz produces the same bytes for any number of workers >= 2 (its
    // block-splitting encoder) but not single-threaded, so the count never
    // drops below 2: output stays reproducible across machines.
    const unsigned workers = std::max(threads, 2U);
    const std::string workers_text = std::to_string(workers);
    if (archive_write_set_filter_option(a, filter, "threads", workers_text.c_str()) != ARCHIVE_OK) {
      return impl->failure("setting compression threads");
    }
  }
  // The tar stream is padded to GNU tar's 10 KiB records before
  // compression; the compressed output is not padded at all.
  if (compression != Compression::none && compression != Compression::zstd &&
      archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK) {
    return impl->failure("setting the block size");
  }
  if (archive_write_open2(a, impl.get(), nullptr, &Impl::write_cb, nullptr, nullptr) !=
      ARCHIVE_OK) {
    return impl->failure("starting the tar stream");
  }
  return TarWriter(std::move(impl));
}

Expected<void> TarWriter::add(const TarEntry& entry) {
  archive_entry* e = m_impl->entry.get();
  archive_entry_clear(e);
  archive_entry_set_pathname(e, entry.path.c_str());
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  archive_entry_set_uname(e, "root");
  archive_entry_set_gname(e, "root");
  archive_entry_set_mtime(e, entry.mtime, 0);
  switch (entry.type) {
  case EntryType::file:
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, static_cast<la_int64_t>(entry.size));
    break;
  case EntryType::directory:
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_size(e, 0);
    break;
  case EntryType::symlink:
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_symlink(e, entry.link_target.c_str());
    archive_entry_set_size(e, 0);
    break;
  case EntryType::hardlink:
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_hardlink(e, entry.link_target.c_str());
    archive_entry_set_size(e, 0);
    break;
  case EntryType::other:
    return make_error("{}: only files, directories and links can be packed", entry.path);
  }
  archive_entry_set_perm(e, entry.mode & 07777);
  if (archive_write_header(m_impl->archive.get(), e) != ARCHIVE_OK) {
    return m_impl->failure(fmt::format("writing the tar header of {}", entry.path));
  }
  return {};
}

Expected<void> TarWriter::write_data(std::string_view data) {
  while (!data.empty()) {
    la_ssize_t n = archive_write_data(m_impl->archive.get(), data.data(), data.size());
    if (n <= 0) {
      return m_impl->failure("writing tar data");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Expected<void> TarWriter::finish() {
  // archive_write_close flushes the compressor; its result is the only
  // place a late write error shows, so it is checked before anything
  // treats the stream as complete.
  m_impl->finished = true;
  if (archive_write_close(m_impl->archive.get()) != ARCHIVE_OK) {
    return m_impl->failure("finishing the tar stream");
  }
  if (m_impl->zstd) {
    // GNU tar's records are 10 KiB: the stream ends on a record boundary,
    // as dpkg-deb's does.
    constexpr uint64_t k_record = 10240;
    const uint64_t tail = (k_record - m_impl->zstd_input % k_record) % k_record;
    TRY(m_impl->zstd->write(std::string(tail, '\0')));
    TRY(m_impl->zstd->finish());
  }
  return {};
}

} // namespace aptship::archive
