#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/deb/deb_reader.hpp"
#include "aptrepo/deb/deb_writer.hpp"
#include "testutil.hpp"

using aptship::archive::EntryType;
using aptship::archive::TarEntry;
using aptship::deb::DebContents;
using aptship::deb::ListFiles;
using aptship::deb::read_deb;
using aptship::deb::read_deb_bytes;
using aptship::test::ScopedTempDir;

namespace {

// Builds a .deb from a JSON spec on stdin, written to argv[1]: a list of ar
// members [name, body], where body is {"raw": text} or {"tar": [entries],
// "format": "gnu"|"pax", "pax_global": {...}}; an entry is {"name", "type":
// file|dir|symlink|hardlink|fifo, "data", "link", "pax": {...}}. Tar members
// are compressed by the real tool that their extension names.
const char* const k_make_deb = R"(
import io, json, subprocess, sys, tarfile
types = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE,
         'hardlink': tarfile.LNKTYPE, 'fifo': tarfile.FIFOTYPE}
def tar(body):
    buf = io.BytesIO()
    fmt = tarfile.PAX_FORMAT if body.get('format') == 'pax' else tarfile.GNU_FORMAT
    with tarfile.open(fileobj=buf, mode='w', format=fmt,
                      pax_headers=body.get('pax_global')) as t:
        for e in body['tar']:
            info = tarfile.TarInfo(e['name'])
            kind = e.get('type', 'file')
            info.type = types[kind]
            info.mode = 0o755 if kind == 'dir' else 0o644
            info.mtime = 1700000000
            info.uname = info.gname = 'root'
            info.linkname = e.get('link', '')
            info.pax_headers = e.get('pax', {})
            data = e.get('data', '').encode()
            info.size = len(data) if kind == 'file' else 0
            t.addfile(info, io.BytesIO(data) if kind == 'file' else None)
    return buf.getvalue()
def compress(name, raw):
    tools = {'.gz': ['gzip', '-n', '-c'], '.xz': ['xz', '-c'], '.zst': ['zstd', '-q', '-c']}
    for ext, argv in tools.items():
        if name.endswith(ext):
            return subprocess.run(argv, input=raw, stdout=subprocess.PIPE, check=True).stdout
    return raw
out = bytearray(b'!<arch>\n')
for name, body in json.load(sys.stdin):
    data = body['raw'].encode() if 'raw' in body else compress(name, tar(body))
    out += ('%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (name, 1700000000, 0, 0, '100644', len(data))).encode()
    out += data + (b'\n' if len(data) % 2 else b'')
open(sys.argv[1], 'wb').write(out)
)";

const std::string k_binary = R"(["debian-binary", {"raw": "2.0\n"}])";

std::string control_member(const std::string& control_text) {
  return R"(["control.tar.gz", {"tar": [{"name": "./", "type": "dir"},
             {"name": "./control", "data": ")" +
         control_text + R"("}]}])";
}

const std::string k_control =
    control_member(R"(Package: hello\nVersion: 1.0-1\nArchitecture: all\n)"
                   R"(Maintainer: A Person <a@example.org>\nDescription: says hello\n)");

// A data.tar.xz holding ./, ./usr/ and ENTRIES, with EXTRA keys for the tar.
std::string data_member(const std::string& entries, const std::string& extra = "") {
  return R"(["data.tar.xz", {"tar": [{"name": "./", "type": "dir"},
             {"name": "./usr/", "type": "dir"})" +
         (entries.empty() ? "" : ", " + entries) + "]" + extra + "}]";
}

const std::string k_data = data_member(R"({"name": "./usr/hello", "data": "hi\n"})");

void make_deb(const std::string& path, const std::vector<std::string>& members) {
  std::string spec = "[";
  for (const std::string& m : members) {
    spec += (spec.size() > 1 ? ",\n" : "") + m;
  }
  spec += "]";
  aptship::SubprocessOptions options;
  options.input = spec;
  auto made = aptship::run({"python3", "-c", k_make_deb, path}, options);
  REQUIRE(made);
  INFO(spec << "\n" << made->err);
  REQUIRE(made->ok());
}

// Reads PATH, checking that its bytes read from memory give the same.
DebContents read_ok(const std::string& path) {
  auto contents = read_deb(path);
  INFO((contents ? std::string() : contents.error().message()));
  REQUIRE(contents);
  auto in_memory = read_deb_bytes(aptship::test::read(path), path);
  INFO((in_memory ? std::string() : in_memory.error().message()));
  REQUIRE(in_memory);
  CHECK(in_memory->size == contents->size);
  CHECK(in_memory->data_member == contents->data_member);
  CHECK(in_memory->control.to_string() == contents->control.to_string());
  CHECK(in_memory->control_files == contents->control_files);
  REQUIRE(in_memory->files.size() == contents->files.size());
  for (size_t i = 0; i < contents->files.size(); ++i) {
    CHECK(in_memory->files[i].path == contents->files[i].path);
  }
  return *contents;
}

// The error read_deb gives for PATH: it names the file and fits on a line,
// and reading its bytes from memory gives the same (for a file to read).
std::string read_error(const std::string& path) {
  auto contents = read_deb(path);
  REQUIRE_FALSE(contents);
  const std::string& message = contents.error().message();
  CHECK_THAT(message, Catch::Contains(path));
  CHECK(message.find('\n') == std::string::npos);
  if (std::filesystem::is_regular_file(path)) {
    auto in_memory = read_deb_bytes(aptship::test::read(path), path);
    REQUIRE_FALSE(in_memory);
    CHECK(in_memory.error().message() == message);
  }
  return message;
}

std::string refused(const std::vector<std::string>& members) {
  make_deb("bad.deb", members);
  return read_error("bad.deb");
}

void run_ok(const std::vector<std::string>& argv, const std::filesystem::path& cwd = {}) {
  aptship::SubprocessOptions options;
  options.cwd = cwd;
  auto result = aptship::run(argv, options);
  REQUIRE(result);
  INFO(result->err);
  REQUIRE(result->ok());
}

// A tree for dpkg-deb -b and pack(): files, a symlink and a hard link.
void make_tree() {
  aptship::test::write("tree/DEBIAN/control",
                       "Package: hello\nVersion: 2:1.0-1\nArchitecture: all\n"
                       "Maintainer: A Person <a@example.org>\nDescription: says hello\n");
  aptship::test::write("tree/DEBIAN/postinst", "#!/bin/sh\nexit 0\n", 0755);
  aptship::test::write("tree/usr/bin/hello", "#!/bin/sh\necho hello\n", 0755);
  run_ok({"ln", "tree/usr/bin/hello", "tree/usr/bin/hi"});
  run_ok({"ln", "-s", "hello", "tree/usr/bin/hey"});
  aptship::test::write("tree/usr/share/doc/hello/copyright", "Public domain.\n");
}

// What dpkg-deb itself lists in PATH's data.tar, one path per entry.
std::vector<std::string> dpkg_listing(const std::string& path) {
  auto listed = aptship::run({"sh", "-c", "dpkg-deb --fsys-tarfile \"$0\" | tar -t", path});
  REQUIRE(listed);
  REQUIRE(listed->ok());
  std::vector<std::string> out;
  for (size_t at = 0; at < listed->out.size();) {
    const size_t end = listed->out.find('\n', at);
    out.push_back(listed->out.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

std::vector<std::string> paths_of(const DebContents& contents) {
  std::vector<std::string> out;
  for (const TarEntry& e : contents.files) {
    out.push_back(e.path);
  }
  return out;
}

const TarEntry& file(const DebContents& contents, const std::string& path) {
  for (const TarEntry& e : contents.files) {
    if (e.path == path) {
      return e;
    }
  }
  FAIL("no entry " << path);
  throw std::logic_error("unreachable");
}

} // namespace

TEST_CASE("deb_reader: reads packages built by dpkg-deb with every compressor") {
  for (const char* compressor : {"gzip", "xz", "zstd"}) {
    ScopedTempDir tmp;
    INFO(compressor);
    make_tree();
    run_ok({"dpkg-deb", "--root-owner-group", std::string("-Z") + compressor, "-b", "tree",
            "hello.deb"});
    const DebContents contents = read_ok("hello.deb");
    const std::string ext = compressor == std::string("gzip") ? ".gz"
                            : compressor == std::string("xz") ? ".xz"
                                                              : ".zst";
    CHECK(contents.control_member == "control.tar" + ext);
    CHECK(contents.data_member == "data.tar" + ext);
    CHECK(contents.members.size() == 3);
    CHECK_FALSE(contents.has_signature);
    CHECK(contents.control.get("Version") == std::optional<std::string_view>("2:1.0-1"));
    CHECK(contents.control_files.at("postinst") == "#!/bin/sh\nexit 0\n");
    CHECK(paths_of(contents) == dpkg_listing("hello.deb"));
    CHECK(file(contents, "./usr/bin/hey").type == EntryType::symlink);
    CHECK(file(contents, "./usr/bin/hey").link_target == "hello");
    // dpkg-deb stores the second name of a file as a hard link.
    const TarEntry& hi = file(contents, "./usr/bin/hi");
    const TarEntry& hello = file(contents, "./usr/bin/hello");
    CHECK((hi.type == EntryType::hardlink || hello.type == EntryType::hardlink));
  }
}

TEST_CASE("deb_reader: reads aptship's own packages as dpkg-deb does") {
  ScopedTempDir tmp;
  make_tree();
  aptship::deb::PackOptions options;
  options.source_date_epoch = 1700000000;
  options.threads = 1;
  auto packed = aptship::deb::pack("tree", "hello.deb", options);
  REQUIRE(packed);
  const DebContents contents = read_ok("hello.deb");
  CHECK(contents.size == packed->size);
  CHECK(contents.control.get("Package") == std::optional<std::string_view>("hello"));
  CHECK(contents.control_files.count("md5sums") == 1);
  CHECK(paths_of(contents) == dpkg_listing("hello.deb"));
  CHECK(file(contents, "./usr/bin/hi").type == EntryType::hardlink);
  CHECK(file(contents, "./usr/bin/hi").link_target == "./usr/bin/hello");
}

TEST_CASE("deb_reader: ListFiles::no reads the control data only") {
  ScopedTempDir tmp;
  make_deb("ok.deb", {k_binary, k_control, k_data});
  auto contents = read_deb("ok.deb", ListFiles::no);
  REQUIRE(contents);
  CHECK(contents->files.empty());
  CHECK(contents->control.get("Package") == std::optional<std::string_view>("hello"));
}

TEST_CASE("deb_reader: a package read through an open descriptor") {
  ScopedTempDir tmp;
  make_deb("ok.deb", {k_binary, k_control, k_data});
  auto fd = aptship::Fd::open("ok.deb", O_RDONLY);
  REQUIRE(fd);
  // The descriptor's offset is the caller's: reading must not move it.
  REQUIRE(::lseek(fd->get(), 5, SEEK_SET) == 5);
  auto contents = read_deb(*fd, "shown-name.deb");
  REQUIRE(contents);
  CHECK(::lseek(fd->get(), 0, SEEK_CUR) == 5);
  CHECK(contents->control.get("Package") == std::optional<std::string_view>("hello"));
  CHECK(paths_of(*contents) == std::vector<std::string>{"./", "./usr/", "./usr/hello"});

  make_deb("bad.deb", {k_binary, k_data, k_control});
  auto bad_fd = aptship::Fd::open("bad.deb", O_RDONLY);
  REQUIRE(bad_fd);
  auto bad = read_deb(*bad_fd, "shown-name.deb");
  REQUIRE_FALSE(bad);
  // Errors name the file as the caller shows it.
  CHECK_THAT(bad.error().message(), Catch::StartsWith("shown-name.deb: "));
}

TEST_CASE("deb_reader: a hand-made package with extra '_' members is read") {
  ScopedTempDir tmp;
  make_deb("ok.deb", {R"(["debian-binary", {"raw": "2.1\n"}])", k_control, k_data,
                      R"(["_gpgorigin", {"raw": "sig"}])", R"(["_other", {"raw": ""}])"});
  const DebContents contents = read_ok("ok.deb");
  CHECK(contents.has_signature);
  CHECK(contents.members.size() == 5);
  CHECK(paths_of(contents) == std::vector<std::string>{"./", "./usr/", "./usr/hello"});
}

TEST_CASE("deb_reader: the ar layout must be that of a Debian package") {
  ScopedTempDir tmp;
  CHECK_THAT(refused({k_binary, k_data, k_control}), Catch::Contains("data.tar.xz"));
  CHECK_THAT(refused({k_control, k_binary, k_data}), Catch::Contains("debian-binary"));
  CHECK_THAT(refused({k_binary, k_control}), Catch::Contains("2 ar members"));
  CHECK_THAT(refused({k_binary, k_control, k_data, R"(["extra", {"raw": "x"}])"}),
             Catch::Contains("'extra'"));
  CHECK_THAT(refused({k_binary, k_control, R"(["extra", {"raw": "x"}])", k_data}),
             Catch::Contains("extra"));
  CHECK_THAT(refused({k_binary, k_control, data_member("").replace(2, 11, "data.tar.lz")}),
             Catch::Contains("data.tar.lz"));
}

TEST_CASE("deb_reader: only format 2.x is read") {
  ScopedTempDir tmp;
  for (const char* version : {"3.0\\n", "2.0", "1.0\\n", "\\n", "20\\n"}) {
    INFO(version);
    const std::string binary = std::string(R"(["debian-binary", {"raw": ")") + version + "\"}]";
    CHECK_THAT(refused({binary, k_control, k_data}), Catch::Contains("format version"));
  }
  const std::string long_binary =
      R"(["debian-binary", {"raw": "2.0\n)" + std::string(100, 'x') + "\"}]";
  CHECK_THAT(refused({long_binary, k_control, k_data}), Catch::Contains("debian-binary"));
}

TEST_CASE("deb_reader: data.tar paths must stay inside the package") {
  ScopedTempDir tmp;
  struct Case {
    const char* path;
    const char* message;
  };
  for (Case c : {Case{"/etc/passwd", "'./'-relative"}, Case{"usr/hello", "'./'-relative"},
                 Case{"./../etc/passwd", "'..'"}, Case{"./usr/../../etc/passwd", "'..'"},
                 Case{"./usr/..", "'..'"}, Case{".//usr/x", "normalized"}}) {
    INFO(c.path);
    const std::string entry = std::string(R"({"name": ")") + c.path + R"(", "data": "x"})";
    CHECK_THAT(refused({k_binary, k_control, data_member(entry)}),
               Catch::Contains(c.path) && Catch::Contains(c.message));
  }
}

TEST_CASE("deb_reader: a path with a newline is refused in one line") {
  ScopedTempDir tmp;
  for (const char* path : {"./usr/two\\nlines", "/etc/two\\nlines", "./../two\\nlines"}) {
    INFO(path);
    const std::string entry = std::string(R"({"name": ")") + path + R"(", "data": "x"})";
    refused({k_binary, k_control, data_member(entry)});
  }
  const std::string hard_link =
      R"({"name": "./usr/link", "type": "hardlink", "link": "./usr/two\nlines"})";
  refused({k_binary, k_control, data_member(hard_link)});
}

TEST_CASE("deb_reader: a member name with a newline is refused in one line") {
  ScopedTempDir tmp;
  refused({R"(["debian\nbinary", {"raw": "2.0\n"}])", k_control, k_data});
  refused({k_binary, R"(["control.tar\ngz", {"raw": "x"}])", k_data});
  refused({k_binary, k_control, R"(["data.tar\nxz", {"raw": "x"}])"});
  refused({k_binary, k_control, k_data, R"(["extra\nline", {"raw": "x"}])"});
}

TEST_CASE("deb_reader: pax headers are refused in data.tar and control.tar") {
  ScopedTempDir tmp;
  CHECK_THAT(refused({k_binary, k_control,
                      data_member(R"({"name": "./usr/x", "data": "x", "pax": {"comment": "c"}})",
                                  R"(, "format": "pax")")}),
             Catch::Contains("pax"));
  CHECK_THAT(refused({k_binary, k_control,
                      data_member(R"({"name": "./usr/x", "data": "x"})",
                                  R"(, "format": "pax", "pax_global": {"comment": "g"})")}),
             Catch::Contains("pax"));
  CHECK_THAT(refused({k_binary,
                      R"(["control.tar.gz", {"format": "pax", "tar": [{"name": "./control",
                          "pax": {"comment": "c"}, "data": "Package: hello\n"}]}])",
                      k_data}),
             Catch::Contains("pax"));
}

TEST_CASE("deb_reader: hard links must name an earlier entry") {
  ScopedTempDir tmp;
  CHECK_THAT(
      refused({k_binary, k_control,
               data_member(R"({"name": "./usr/link", "type": "hardlink", "link": "./usr/none"})")}),
      Catch::Contains("./usr/link") && Catch::Contains("./usr/none"));
  CHECK_THAT(refused({k_binary, k_control, data_member(R"({"name": "./usr/link", "type": "hardlink",
                                      "link": "./usr/later"},
                                     {"name": "./usr/later", "data": "x"})")}),
             Catch::Contains("./usr/later"));
  CHECK_THAT(refused({k_binary, k_control, data_member(R"({"name": "./usr/link", "type": "hardlink",
                                      "link": "/etc/shadow"})")}),
             Catch::Contains("/etc/shadow"));
  const DebContents ok = [] {
    make_deb("ok.deb", {k_binary, k_control, data_member(R"({"name": "./usr/a", "data": "x"},
                                       {"name": "./usr/b", "type": "hardlink", "link": "./usr/a"})")});
    return read_ok("ok.deb");
  }();
  CHECK(file(ok, "./usr/b").type == EntryType::hardlink);
}

TEST_CASE("deb_reader: an entry that appears twice is refused") {
  ScopedTempDir tmp;
  CHECK_THAT(refused({k_binary, k_control, data_member(R"({"name": "./usr/x", "data": "1"},
                                     {"name": "./usr/x", "data": "2"})")}),
             Catch::Contains("./usr/x") && Catch::Contains("twice"));
  // The same directory with and without its trailing slash.
  CHECK_THAT(refused({k_binary, k_control, data_member(R"({"name": "./usr", "type": "dir"})")}),
             Catch::Contains("twice"));
  CHECK_THAT(refused({k_binary,
                      R"(["control.tar.gz", {"tar": [{"name": "./control", "data": "A: 1\n"},
                          {"name": "./control", "data": "A: 2\n"}]}])",
                      k_data}),
             Catch::Contains("twice"));
}

TEST_CASE("deb_reader: special files in data.tar are refused") {
  ScopedTempDir tmp;
  CHECK_THAT(
      refused({k_binary, k_control, data_member(R"({"name": "./usr/fifo", "type": "fifo"})")}),
      Catch::Contains("./usr/fifo"));
}

TEST_CASE("deb_reader: the control member must hold a valid control file") {
  ScopedTempDir tmp;
  CHECK_THAT(refused({k_binary,
                      control_member(R"(Package: hello\nArchitecture: all\n)"
                                     R"(Maintainer: A Person <a@example.org>\n)"
                                     R"(Description: says hello\n)"),
                      k_data}),
             Catch::Contains("Version"));
  CHECK_THAT(refused({k_binary, control_member("not a control file"), k_data}),
             Catch::Contains("control"));
  CHECK_THAT(refused({k_binary, R"(["control.tar.gz", {"tar": [{"name": "./md5sums"}]}])", k_data}),
             Catch::Contains("no control file"));
  CHECK_THAT(refused({k_binary,
                      R"(["control.tar.gz", {"tar": [{"name": "./sub/", "type": "dir"},
                          {"name": "./control", "data": "Package: hello\n"}]}])",
                      k_data}),
             Catch::Contains("./sub/"));
  CHECK_THAT(refused({k_binary,
                      R"(["control.tar.gz", {"tar": [{"name": "./postinst", "type": "symlink",
                          "link": "/bin/sh"}]}])",
                      k_data}),
             Catch::Contains("./postinst"));
}

TEST_CASE("deb_reader: a truncated package is refused wherever it is cut") {
  ScopedTempDir tmp;
  make_tree();
  aptship::test::write("tree/usr/share/hello/data", std::string(100'000, 'd'));
  aptship::deb::PackOptions options;
  options.source_date_epoch = 1700000000;
  options.threads = 1;
  REQUIRE(aptship::deb::pack("tree", "whole.deb", options));
  const std::string whole = aptship::test::read("whole.deb");
  const DebContents contents = read_ok("whole.deb");
  const uint64_t data_at = contents.members[2].offset;
  // The last cut removes data.tar's last byte whether or not a padding
  // byte follows it (a missing final padding byte is tolerated).
  for (size_t size :
       {size_t{0}, size_t{5}, size_t{8 + 30}, size_t{8 + 60 + 2}, static_cast<size_t>(data_at) - 30,
        static_cast<size_t>(data_at) + 10, whole.size() / 2 + 40, whole.size() - 2}) {
    INFO("cut at " << size << " of " << whole.size());
    aptship::test::write("cut.deb", whole.substr(0, size));
    read_error("cut.deb");
  }
}

TEST_CASE("deb_reader: a data member cut short inside a consistent ar is refused") {
  ScopedTempDir tmp;
  make_tree();
  aptship::test::write("tree/usr/share/hello/data", std::string(100'000, 'd'));
  REQUIRE(aptship::deb::pack("tree", "whole.deb", {}));
  const DebContents contents = read_ok("whole.deb");
  // Rewrite data.tar's size field so that the ar ends where the cut is.
  const std::string whole = aptship::test::read("whole.deb");
  const uint64_t keep = contents.members[2].size / 2;
  std::string cut = whole.substr(0, contents.members[2].offset + keep);
  cut.replace(contents.members[2].offset - 12, 10, fmt::format("{:<10}", keep));
  aptship::test::write("cut.deb", cut);
  CHECK_THAT(read_error("cut.deb"), Catch::Contains("data.tar.zst"));
}

TEST_CASE("deb_reader: what is not a package file is refused by name") {
  ScopedTempDir tmp;
  CHECK_THAT(read_error("missing.deb"), Catch::Contains("missing.deb"));
  std::filesystem::create_directory("dir.deb");
  CHECK_THAT(read_error("dir.deb"), Catch::Contains("not a regular file"));
  aptship::test::write("text.deb", "Package: hello\n");
  CHECK_THAT(read_error("text.deb"), Catch::Contains("ar archive"));
}
