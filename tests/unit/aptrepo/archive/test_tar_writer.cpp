#include <catch2/catch.hpp>

#include <fcntl.h>

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "aptrepo/archive/tar.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "testutil.hpp"

using aptship::Expected;
using aptship::archive::Compression;
using aptship::archive::EntryType;
using aptship::archive::TarEntry;
using aptship::archive::TarWriter;
using aptship::test::ScopedTempDir;

namespace {

constexpr Compression k_all[] = {Compression::zstd, Compression::xz, Compression::gzip,
                                 Compression::none};

struct Item {
  TarEntry entry;
  std::string data; // a regular file's contents
};

TarEntry make(std::string path, EntryType type, uint32_t mode, int64_t mtime,
              std::string link_target = "") {
  TarEntry e;
  e.path = std::move(path);
  e.type = type;
  e.mode = mode;
  e.mtime = mtime;
  e.link_target = std::move(link_target);
  return e;
}

Item file(std::string path, uint32_t mode, int64_t mtime, std::string data) {
  Item item{make(std::move(path), EntryType::file, mode, mtime), std::move(data)};
  item.entry.size = item.data.size();
  return item;
}

// SIZE bytes of compressible but varied text, the same on every machine.
std::string sample_text(size_t size) {
  static const char* const k_words[] = {"usr ", "share ", "doc ", "bin ", "lib ", "\n"};
  std::string out;
  out.reserve(size + 16);
  uint64_t state = 7;
  while (out.size() < size) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    out += k_words[(state >> 33) % 6];
    out += static_cast<char>('a' + (state >> 40) % 26);
  }
  out.resize(size);
  return out;
}

const std::string k_long_dir = "./usr/share/" + std::string(120, 'd') + "/";
const std::string k_long_file = k_long_dir + std::string(60, 'f');
const std::string k_long_target = "../share/" + std::string(140, 't');

// Entries that exercise every type, long names and long link targets.
std::vector<Item> sample_items() {
  return {
      {make("./", EntryType::directory, 0755, 1700000000), ""},
      {make("./usr/", EntryType::directory, 0755, 1700000000), ""},
      {make("./usr/bin/", EntryType::directory, 0750, 1600000000), ""},
      file("./usr/bin/tool", 0755, 1500000000, sample_text(100'000)),
      {make("./usr/bin/tool2", EntryType::hardlink, 0755, 1500000000, "./usr/bin/tool"), ""},
      {make("./usr/bin/link", EntryType::symlink, 0777, 1400000000, k_long_target), ""},
      file("./usr/bin/secret", 0600, 1, ""),
      file("./usr/bin/setuid", 04755, 1700000000, "#!/bin/sh\n"),
      {make("./usr/share/", EntryType::directory, 0755, 1700000000), ""},
      {make(k_long_dir, EntryType::directory, 0755, 1700000000), ""},
      file(k_long_file, 0644, 1700000000, "hello\n"),
      {make("./usr/share/hl", EntryType::hardlink, 0644, 1700000000, k_long_file), ""},
  };
}

Expected<void> append_to(std::string& out, std::string_view data) {
  out.append(data);
  return {};
}

// How write_tar hands the output over: to a sink, or into memory the
// destination lends (an OutputArea).
enum class Destination { sink, area };

std::string write_tar(const std::vector<Item>& items, Compression compression, int level = -1,
                      unsigned threads = 1, Destination destination = Destination::sink) {
  std::string out;
  // The area's room varies in size, down to a single byte.
  std::vector<char> room(50'000);
  size_t rooms = 0;
  auto tar = destination == Destination::sink
                 ? TarWriter::create(
                       compression, level,
                       [&out](std::string_view data) { return append_to(out, data); }, threads)
                 : TarWriter::create(compression, level,
                                     aptship::archive::OutputArea{
                                         .space =
                                             [&] {
                                               ++rooms;
                                               return std::span<char>(
                                                   room.data(), 1 + (rooms * 4099) % room.size());
                                             },
                                         .commit = [&](size_t n) -> Expected<void> {
                                           out.append(room.data(), n);
                                           return {};
                                         }},
                                     threads);
  REQUIRE(tar);
  for (const Item& item : items) {
    INFO(item.entry.path);
    REQUIRE(tar->add(item.entry));
    // In pieces that do not match tar's 512-byte blocks.
    for (size_t at = 0; at < item.data.size(); at += 40'000) {
      REQUIRE(tar->write_data(std::string_view(item.data).substr(at, 40'000)));
    }
  }
  REQUIRE(tar->finish());
  return out;
}

// The plain tar inside COMPRESSED, as the real decompressor sees it.
std::string decompress(Compression compression, const std::string& compressed) {
  std::vector<std::string> argv;
  switch (compression) {
  case Compression::zstd:
    argv = {"zstd", "-d", "-c", "-q"};
    break;
  case Compression::xz:
    argv = {"xz", "-d", "-c"};
    break;
  case Compression::gzip:
    argv = {"gzip", "-d", "-c"};
    break;
  case Compression::none:
    return compressed;
  }
  aptship::SubprocessOptions options;
  options.input = compressed;
  auto result = aptship::run(argv, options);
  REQUIRE(result);
  INFO(result->err);
  REQUIRE(result->ok());
  return result->out;
}

uint64_t octal(std::string_view field) {
  uint64_t value = 0;
  for (char c : field) {
    if (c >= '0' && c <= '7') {
      value = value * 8 + static_cast<uint64_t>(c - '0');
    }
  }
  return value;
}

struct RawHeader {
  char type;
  std::string magic; // bytes 257..264
};

// Every 512-byte header of the plain tar TAR, in order, up to the end blocks.
std::vector<RawHeader> raw_headers(const std::string& tar) {
  std::vector<RawHeader> out;
  size_t at = 0;
  while (at + 512 <= tar.size()) {
    std::string_view block(tar.data() + at, 512);
    if (block.find_first_not_of('\0') == std::string_view::npos) {
      break;
    }
    out.push_back(RawHeader{block[156], std::string(block.substr(257, 8))});
    const uint64_t size = octal(block.substr(124, 12));
    at += 512 + (size + 511) / 512 * 512;
  }
  return out;
}

// Runs a python3 script with ARGS and returns its stdout.
std::string python(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"python3", "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = aptship::run(argv);
  REQUIRE(result);
  INFO(result->err);
  REQUIRE(result->ok());
  return result->out;
}

std::vector<TarEntry> read_back(const std::string& compressed, Compression compression,
                                std::vector<std::string>* data = nullptr) {
  const std::string name = "data.tar" + std::string(aptship::archive::extension(compression));
  aptship::test::write(name, compressed);
  auto fd = aptship::Fd::open(name, O_RDONLY);
  REQUIRE(fd);
  std::vector<TarEntry> entries;
  auto read = aptship::archive::read_tar(
      *fd, 0, compressed.size(), name,
      [&](const TarEntry& entry, const aptship::archive::DataFn& read_data) -> Expected<void> {
        entries.push_back(entry);
        std::string content;
        char buffer[700];
        while (true) {
          TRY_ASSIGN(size_t n, read_data(buffer, sizeof(buffer)));
          if (n == 0) {
            break;
          }
          content.append(buffer, n);
        }
        if (data != nullptr) {
          data->push_back(std::move(content));
        }
        return {};
      });
  REQUIRE(read);
  return entries;
}

} // namespace

TEST_CASE("tar_writer: every compression round-trips through read_tar") {
  const std::vector<Item> items = sample_items();
  for (Compression compression : k_all) {
    ScopedTempDir tmp;
    INFO(aptship::archive::name(compression));
    std::vector<std::string> data;
    const std::vector<TarEntry> entries =
        read_back(write_tar(items, compression), compression, &data);
    REQUIRE(entries.size() == items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      const TarEntry& want = items[i].entry;
      const TarEntry& got = entries[i];
      INFO(want.path);
      CHECK(got.path == want.path);
      CHECK(got.type == want.type);
      CHECK(got.mode == want.mode);
      CHECK(got.mtime == want.mtime);
      CHECK(got.link_target == want.link_target);
      CHECK(got.uid == 0);
      CHECK(got.gid == 0);
      CHECK(got.uname == "root");
      CHECK(got.gname == "root");
      CHECK_FALSE(got.pax);
      if (want.type == EntryType::file) {
        CHECK(got.size == want.size);
      }
      CHECK(data[i] == items[i].data);
    }
  }
}

TEST_CASE("tar_writer: the output is GNU format without pax headers, even for long names") {
  const std::vector<Item> items = sample_items();
  for (Compression compression : k_all) {
    INFO(aptship::archive::name(compression));
    const std::string tar = decompress(compression, write_tar(items, compression));
    std::set<char> types;
    for (const RawHeader& h : raw_headers(tar)) {
      INFO("typeflag " << h.type);
      CHECK(h.magic == std::string("ustar  \0", 8));
      types.insert(h.type);
    }
    CHECK(types.count('x') == 0);
    CHECK(types.count('g') == 0);
    // Long paths and link targets took GNU's own records.
    CHECK(types.count('L') == 1);
    CHECK(types.count('K') == 1);
  }
}

TEST_CASE("tar_writer: python's tarfile sees root:root, modes, mtimes and full names") {
  ScopedTempDir tmp;
  const std::vector<Item> items = sample_items();
  aptship::test::write("plain.tar", write_tar(items, Compression::none));
  const std::string listing = python(
      "import sys, tarfile\n"
      "with tarfile.open(sys.argv[1]) as t:\n"
      "  for m in t:\n"
      "    kind = {tarfile.DIRTYPE: 'd', tarfile.REGTYPE: 'f', tarfile.SYMTYPE: 's',\n"
      "            tarfile.LNKTYPE: 'h'}[m.type]\n"
      "    print(m.name, kind, oct(m.mode), m.uid, m.gid, m.uname, m.gname, m.mtime, m.size,\n"
      "          m.linkname or '-', len(m.pax_headers), sep='|')\n",
      {"plain.tar"});
  std::string want;
  for (const Item& item : items) {
    const TarEntry& e = item.entry;
    std::string name = e.path;
    while (name.back() == '/') {
      name.pop_back(); // tarfile drops a directory's trailing slash, "./" too
    }
    const char kind = e.type == EntryType::directory ? 'd'
                      : e.type == EntryType::file    ? 'f'
                      : e.type == EntryType::symlink ? 's'
                                                     : 'h';
    want += fmt::format("{}|{}|0o{:o}|0|0|root|root|{}|{}|{}|0\n", name, kind, e.mode, e.mtime,
                        e.type == EntryType::file ? e.size : 0,
                        e.link_target.empty() ? "-" : e.link_target);
  }
  CHECK(listing == want);
}

TEST_CASE("tar_writer: GNU tar lists every compression's output without complaint") {
  const std::vector<Item> items = sample_items();
  for (Compression compression : k_all) {
    ScopedTempDir tmp;
    INFO(aptship::archive::name(compression));
    aptship::test::write("out.tar", write_tar(items, compression));
    // GNU tar recognises the compressor by the content.
    auto listed = aptship::run({"tar", "--list", "-v", "--numeric-owner", "-f", "out.tar"});
    REQUIRE(listed);
    INFO(listed->out << listed->err);
    REQUIRE(listed->ok());
    CHECK(listed->err.empty());
    CHECK_THAT(listed->out, Catch::Contains(k_long_file + "\n"));
    CHECK_THAT(listed->out, Catch::Contains("./usr/bin/link -> " + k_long_target + "\n"));
    CHECK_THAT(listed->out, Catch::Contains("./usr/share/hl link to " + k_long_file + "\n"));
    CHECK_THAT(listed->out, Catch::Contains("-rwsr-xr-x 0/0"));
    size_t lines = 0;
    size_t root_owned = 0;
    for (size_t at = 0; (at = listed->out.find('\n', at)) != std::string::npos; ++at) {
      ++lines;
    }
    for (size_t at = 0; (at = listed->out.find(" 0/0 ", at)) != std::string::npos; ++at) {
      ++root_owned;
    }
    CHECK(lines == items.size());
    CHECK(root_owned == items.size());
  }
}

TEST_CASE("tar_writer: zstd output is the same for 1 and 2 threads") {
  std::vector<Item> items = {{make("./", EntryType::directory, 0755, 1700000000), ""},
                             file("./big", 0644, 1700000000, sample_text(12U << 20))};
  const std::string one = write_tar(items, Compression::zstd, 3, 1);
  CHECK(write_tar(items, Compression::zstd, 3, 2) == one);
}

TEST_CASE("tar_writer: writing into an output area gives the bytes a sink gets") {
  const Compression compression =
      GENERATE(Compression::zstd, Compression::xz, Compression::gzip, Compression::none);
  INFO(aptship::archive::name(compression));
  std::vector<Item> items = {{make("./", EntryType::directory, 0755, 1700000000), ""},
                             file("./big", 0644, 1700000000, sample_text(3U << 20)),
                             file("./small", 0600, 1700000000, "tiny")};
  const std::string expected = write_tar(items, compression, 1, 2);
  CHECK(write_tar(items, compression, 1, 2, Destination::area) == expected);
}

TEST_CASE("tar_writer: xz output is the same for 1, 2 and 4 threads") {
  // Level 1 keeps xz's blocks small (3 MiB), so 8 MiB spans several.
  std::vector<Item> items = {{make("./", EntryType::directory, 0755, 1700000000), ""},
                             file("./big", 0644, 1700000000, sample_text(8U << 20))};
  const std::string two = write_tar(items, Compression::xz, 1, 2);
  CHECK(write_tar(items, Compression::xz, 1, 4) == two);
  CHECK(write_tar(items, Compression::xz, 1, 1) == two);
}

TEST_CASE("tar_writer: gzip output carries no timestamp") {
  const std::string gz = write_tar(sample_items(), Compression::gzip);
  REQUIRE(gz.size() > 10);
  CHECK(gz.substr(0, 2) == "\x1f\x8b");
  CHECK(gz.substr(4, 4) == std::string(4, '\0'));
}

TEST_CASE("tar_writer: out-of-range levels are refused") {
  auto sink = [](std::string_view /*data*/) -> Expected<void> { return {}; };
  auto zstd = TarWriter::create(Compression::zstd, 20, sink);
  REQUIRE_FALSE(zstd);
  CHECK_THAT(zstd.error().message(), Catch::Contains("20"));
  CHECK_FALSE(TarWriter::create(Compression::gzip, 10, sink));
  CHECK_FALSE(TarWriter::create(Compression::xz, 10, sink));
  CHECK(TarWriter::create(Compression::xz, 0, sink));
}

TEST_CASE("tar_writer: special files are refused") {
  auto tar = TarWriter::create(Compression::none, -1,
                               [](std::string_view /*data*/) -> Expected<void> { return {}; });
  REQUIRE(tar);
  auto added = tar->add(make("./dev/null", EntryType::other, 0666, 0));
  REQUIRE_FALSE(added);
  CHECK_THAT(added.error().message(), Catch::StartsWith("./dev/null: "));
}

TEST_CASE("tar_writer: the sink's own error comes back from the writer") {
  for (Compression compression : k_all) {
    INFO(aptship::archive::name(compression));
    auto tar = TarWriter::create(compression, 1, [](std::string_view /*data*/) -> Expected<void> {
      return aptship::make_error("writing out.deb: No space left on device");
    });
    REQUIRE(tar);
    // The writer buffers, so the error shows at some step up to finish().
    Expected<void> result = tar->add(make("./", EntryType::directory, 0755, 0));
    const std::string data = sample_text(1U << 20);
    if (result) {
      TarEntry big = make("./big", EntryType::file, 0644, 0);
      big.size = data.size();
      result = tar->add(big);
    }
    if (result) {
      result = tar->write_data(data);
    }
    if (result) {
      result = tar->finish();
    }
    REQUIRE_FALSE(result);
    CHECK(result.error().message() == "writing out.deb: No space left on device");
  }
}

TEST_CASE("tar_writer: a writer dropped before finish() is destroyed safely") {
  // What every error path of a packer does: the stream is abandoned midway.
  for (Compression compression : k_all) {
    INFO(aptship::archive::name(compression));
    std::string out;
    {
      auto tar = TarWriter::create(compression, 1,
                                   [&out](std::string_view data) { return append_to(out, data); });
      REQUIRE(tar);
      const std::string data = sample_text(300'000);
      TarEntry big = make("./big", EntryType::file, 0644, 0);
      big.size = data.size();
      REQUIRE(tar->add(big));
      REQUIRE(tar->write_data(std::string_view(data).substr(0, 100'000)));
    }
    SUCCEED("destroyed");
  }
}
