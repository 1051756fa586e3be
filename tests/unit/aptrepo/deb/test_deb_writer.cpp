#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "aptrepo/archive/ar.hpp"
#include "aptrepo/archive/tar.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/hash.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/deb/deb_reader.hpp"
#include "aptrepo/deb/deb_writer.hpp"
#include "testutil.hpp"

using aptship::Expected;
using aptship::archive::Compression;
using aptship::archive::EntryType;
using aptship::deb::pack;
using aptship::deb::PackOptions;
using aptship::test::ScopedTempDir;

namespace {

const std::string k_control = "Package: hello\n"
                              "Version: 1.0-1\n"
                              "Architecture: all\n"
                              "Maintainer: A Person <a@example.org>\n"
                              "Description: says hello\n"
                              " A longer text.\n";

// A package tree in "tree": a conffile, a program and its hard link, a
// symlink, a document, a postinst, and a stale md5sums to be replaced.
void make_package() {
  aptship::test::write("tree/DEBIAN/control", k_control);
  aptship::test::write("tree/DEBIAN/conffiles", "/etc/hello/hello.conf\n");
  aptship::test::write("tree/DEBIAN/postinst", "#!/bin/sh\nexit 0\n", 0755);
  aptship::test::write("tree/DEBIAN/md5sums", "00000000000000000000000000000000  stale\n");
  aptship::test::write("tree/etc/hello/hello.conf", "greeting=hello\n");
  aptship::test::write("tree/usr/bin/hello", "#!/bin/sh\necho hello\n", 0755);
  REQUIRE(link("tree/usr/bin/hello", "tree/usr/bin/hi") == 0);
  REQUIRE(symlink("hello", "tree/usr/bin/hey") == 0);
  aptship::test::write("tree/usr/share/doc/hello/copyright", "Public domain.\n");
}

PackOptions options_for(Compression compression = Compression::zstd) {
  PackOptions options;
  options.compression = compression;
  options.source_date_epoch = 1700000000;
  options.threads = 1;
  return options;
}

// The names in DIR, dot files included.
std::set<std::string> listing(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    out.insert(entry.path().filename().string());
  }
  return out;
}

struct Member {
  std::string name;
  std::string bytes;
};

std::vector<Member> members_of(const std::string& path) {
  auto fd = aptship::Fd::open(path, O_RDONLY);
  REQUIRE(fd);
  auto members = aptship::archive::read_ar(*fd, aptship::test::read(path).size());
  REQUIRE(members);
  std::vector<Member> out;
  for (const auto& m : *members) {
    auto bytes = aptship::archive::read_member(*fd, m);
    REQUIRE(bytes);
    out.push_back(Member{m.name, *bytes});
  }
  return out;
}

aptship::deb::DebContents read_package(const std::string& path) {
  auto contents = aptship::deb::read_deb(path);
  INFO((contents ? std::string() : contents.error().message()));
  REQUIRE(contents);
  return *contents;
}

// Holds a file's first open or read (MASK: FAN_OPEN_PERM or FAN_ACCESS_PERM)
// until ACTION has run. The packer blocks inside open(2) or read(2) while the
// test changes the tree, which turns a race into a deterministic sequence.
class PermissionGate {
public:
  // Null when the kernel or the privileges at hand give no permission events.
  static std::unique_ptr<PermissionGate> watch(const std::filesystem::path& path, uint64_t mask,
                                               std::function<void()> action) {
    int fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY);
    if (fan < 0) {
      return nullptr;
    }
    std::unique_ptr<PermissionGate> gate(new PermissionGate(fan, std::move(action)));
    if (fanotify_mark(fan, FAN_MARK_ADD, mask, AT_FDCWD, path.c_str()) != 0 ||
        pipe2(gate->m_stop, O_CLOEXEC) != 0) {
      return nullptr;
    }
    gate->m_thread = std::thread([g = gate.get()] { g->serve(); });
    return gate;
  }
  PermissionGate(const PermissionGate&) = delete;
  PermissionGate& operator=(const PermissionGate&) = delete;
  ~PermissionGate() {
    if (m_thread.joinable()) {
      (void)!write(m_stop[1], "x", 1);
      m_thread.join();
    }
    for (int fd : {m_fan.release(), m_stop[0], m_stop[1]}) {
      if (fd >= 0) {
        close(fd);
      }
    }
  }
  [[nodiscard]] bool fired() const { return m_fired; }

private:
  PermissionGate(int fan, std::function<void()> action) : m_fan(fan), m_action(std::move(action)) {}

  void serve() {
    while (true) {
      pollfd fds[2] = {{m_fan.get(), POLLIN, 0}, {m_stop[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) {
          continue;
        }
        return;
      }
      if ((fds[0].revents & POLLIN) != 0) {
        alignas(fanotify_event_metadata) char buffer[4096];
        ssize_t n = read(m_fan.get(), buffer, sizeof(buffer));
        auto* event = reinterpret_cast<fanotify_event_metadata*>(buffer);
        for (; n > 0 && FAN_EVENT_OK(event, n); event = FAN_EVENT_NEXT(event, n)) {
          if (event->fd < 0) {
            continue;
          }
          if (!m_fired.exchange(true)) {
            m_action();
          }
          fanotify_response response{event->fd, FAN_ALLOW};
          (void)!write(m_fan.get(), &response, sizeof(response));
          close(event->fd);
        }
      }
      if ((fds[1].revents & POLLIN) != 0) {
        return;
      }
    }
  }

  aptship::Fd m_fan;
  int m_stop[2] = {-1, -1};
  std::function<void()> m_action;
  std::atomic<bool> m_fired{false};
  std::thread m_thread;
};

// Writes DATA to PATH with FLAGS. Runs on the gate's thread, where test
// macros and exceptions have no place; a failure shows in the pack result.
void put(const char* path, int flags, std::string_view data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0644);
  if (fd >= 0) {
    (void)!write(fd, data.data(), data.size());
    close(fd);
  }
}

struct Race {
  const char* what;
  const char* gated; // the file whose open or read is held
  uint64_t mask;     // FAN_OPEN_PERM or FAN_ACCESS_PERM
  std::function<void()> action;
  const char* message; // what the error must say about ./usr/share/b
};

// Every way a file can change while the packer reads it: holding b's first
// read changes b mid-copy.
std::vector<Race> races() {
  return {
      {"b grows while it is read", "tree/usr/share/b", FAN_ACCESS_PERM,
       [] { put("tree/usr/share/b", O_APPEND, "more\n"); }, "grew while packing"},
      {"b shrinks while it is read", "tree/usr/share/b", FAN_ACCESS_PERM,
       [] { (void)!truncate("tree/usr/share/b", 0); }, "shrank while packing"},
  };
}

// A change to b made while the packer lists the tree, before it reaches
// b: holding a's open, which the listing does, lets the test change b
// first. B_PACKED is what the package then holds as b; nullopt when the
// pack fails because b's name was listed but the file is gone.
struct ListedChange {
  const char* what;
  std::function<void()> action;
  std::optional<std::string> b_packed;
};

std::vector<ListedChange> listed_changes() {
  return {
      {"b vanishes", [] { unlink("tree/usr/share/b"); }, std::nullopt},
      {"b is replaced by another file of the same size",
       [] {
         put("tree/usr/share/b.new", O_CREAT | O_TRUNC, "SECOND FILE\n");
         rename("tree/usr/share/b.new", "tree/usr/share/b");
       },
       "SECOND FILE\n"},
      {"b changes size", [] { put("tree/usr/share/b", O_APPEND, "more\n"); },
       "second file\nmore\n"},
  };
}

} // namespace

TEST_CASE("deb_writer: a file that changes while it is read fails the pack and leaves nothing") {
  for (const Race& race : races()) {
    for (bool previous : {false, true}) {
      ScopedTempDir tmp;
      INFO(race.what << (previous ? ", over a previous package" : ", into an empty directory"));
      make_package();
      aptship::test::write("tree/usr/share/a", "first file\n");
      aptship::test::write("tree/usr/share/b", "second file\n");
      std::filesystem::create_directory("out");
      std::string before;
      if (previous) {
        REQUIRE(pack("tree", "out/hello.deb", options_for()));
        before = aptship::test::read("out/hello.deb");
      }
      auto gate = PermissionGate::watch(race.gated, race.mask, race.action);
      if (!gate) {
        WARN("fanotify permission events are not available here (needs root): case not run");
        return;
      }
      auto result = pack("tree", "out/hello.deb", options_for());
      CHECK(gate->fired());
      gate.reset();
      REQUIRE_FALSE(result);
      CHECK_THAT(result.error().message(),
                 Catch::Contains("./usr/share/b") && Catch::Contains(race.message));
      if (previous) {
        CHECK(listing("out") == std::set<std::string>{"hello.deb"});
        CHECK(aptship::test::read("out/hello.deb") == before);
      } else {
        CHECK(listing("out").empty());
      }
    }
  }
}

TEST_CASE("deb_writer: a file changed before it is listed is packed as it was listed") {
  for (const ListedChange& change : listed_changes()) {
    ScopedTempDir tmp;
    INFO(change.what);
    make_package();
    aptship::test::write("tree/usr/share/a", "first file\n");
    aptship::test::write("tree/usr/share/b", "second file\n");
    auto gate = PermissionGate::watch("tree/usr/share/a", FAN_OPEN_PERM, change.action);
    if (!gate) {
      WARN("fanotify permission events are not available here (needs root): case not run");
      return;
    }
    auto result = pack("tree", "hello.deb", options_for());
    CHECK(gate->fired());
    gate.reset();
    if (!change.b_packed) {
      REQUIRE_FALSE(result);
      CHECK(result.error().message() == "./usr/share/b: file vanished while packing");
      CHECK_FALSE(std::filesystem::exists("hello.deb"));
      continue;
    }
    REQUIRE(result);
    const auto contents = read_package("hello.deb");
    const auto b = std::find_if(contents.files.begin(), contents.files.end(),
                                [](const auto& f) { return f.path == "./usr/share/b"; });
    REQUIRE(b != contents.files.end());
    CHECK(b->size == change.b_packed->size());
    CHECK_THAT(contents.control_files.at("md5sums"),
               Catch::Contains(aptship::hex_digest(aptship::Digest::md5, *change.b_packed) +
                               "  usr/share/b\n"));
  }
}

TEST_CASE("deb_writer: failures before and after the output is opened leave nothing behind") {
  struct Case {
    const char* what;
    std::function<void(PackOptions&)> breakage;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"control without Version",
       [](PackOptions&) {
         aptship::test::write("tree/DEBIAN/control", "Package: hello\nArchitecture: all\n"
                                                     "Maintainer: M <m@example.org>\n"
                                                     "Description: d\n");
       },
       "Version"},
      {"a fifo in the tree", [](PackOptions&) { REQUIRE(mkfifo("tree/usr/fifo", 0644) == 0); },
       "./usr/fifo"},
      {"a conffile that is not in the tree",
       [](PackOptions&) { aptship::test::write("tree/DEBIAN/conffiles", "/etc/missing\n"); },
       "/etc/missing"},
      {"an invalid level", [](PackOptions& o) { o.level = 42; }, "42"},
      {"the signer fails",
       [](PackOptions& o) {
         o.sign = [](const aptship::deb::ByteReader&) -> Expected<std::string> {
           return aptship::make_error("signing: no secret key");
         };
       },
       "signing: no secret key"},
  };
  for (const Case& c : cases) {
    for (bool previous : {false, true}) {
      ScopedTempDir tmp;
      INFO(c.what << (previous ? ", over a previous package" : ", into an empty directory"));
      make_package();
      std::filesystem::create_directory("out");
      if (previous) {
        aptship::test::write("out/hello.deb", "the previous package");
      }
      PackOptions options = options_for();
      c.breakage(options);
      auto result = pack("tree", "out/hello.deb", options);
      REQUIRE_FALSE(result);
      CHECK_THAT(result.error().message(), Catch::Contains(c.message));
      if (previous) {
        CHECK(listing("out") == std::set<std::string>{"hello.deb"});
        CHECK(aptship::test::read("out/hello.deb") == "the previous package");
      } else {
        CHECK(listing("out").empty());
      }
    }
  }
}

TEST_CASE("deb_writer: the signer gets exactly debian-binary, control.tar and data.tar") {
  ScopedTempDir tmp;
  make_package();
  // Enough data that data.tar is read back in several pieces.
  std::string big;
  for (uint64_t i = 0; big.size() < (3U << 20); ++i) {
    big += std::to_string(i * 7919) + "\n";
  }
  aptship::test::write("tree/usr/share/hello/big", big);
  aptship::Hasher read_hash(aptship::Digest::sha256);
  uint64_t read_size = 0;
  std::string signature;
  PackOptions options = options_for();
  options.sign = [&](const aptship::deb::ByteReader& reader) -> Expected<std::string> {
    char buffer[4099]; // odd, so that reads straddle the member boundaries
    while (true) {
      ssize_t n = reader(buffer, sizeof(buffer));
      if (n < 0) {
        return aptship::errno_error("reading what to sign", errno);
      }
      if (n == 0) {
        break;
      }
      read_hash.update(std::string_view(buffer, static_cast<size_t>(n)));
      read_size += static_cast<uint64_t>(n);
    }
    // Odd-sized, so that the member needs its padding byte.
    signature = "-----SIGNATURE " + std::to_string(read_size) + "-----";
    return signature;
  };
  auto result = pack("tree", "hello.deb", options);
  INFO((result ? std::string() : result.error().message()));
  REQUIRE(result);
  const std::vector<Member> members = members_of("hello.deb");
  REQUIRE(members.size() == 4);
  CHECK(members[0].name == "debian-binary");
  CHECK(members[1].name == "control.tar.zst");
  CHECK(members[2].name == "data.tar.zst");
  CHECK(members[3].name == "_gpgorigin");
  const std::string covered = members[0].bytes + members[1].bytes + members[2].bytes;
  CHECK(read_size == covered.size());
  CHECK(read_hash.hex() == aptship::hex_digest(aptship::Digest::sha256, covered));
  CHECK(members[3].bytes == signature);
  CHECK(result->size == aptship::test::read("hello.deb").size());
  CHECK(result->size % 2 == 0);
  CHECK(read_package("hello.deb").has_signature);
}

TEST_CASE("deb_writer: md5sums matches md5sum, without conffiles, with hard links") {
  ScopedTempDir tmp;
  make_package();
  REQUIRE(pack("tree", "hello.deb", options_for()));
  const auto contents = read_package("hello.deb");
  REQUIRE(contents.control_files.count("md5sums") == 1);
  aptship::SubprocessOptions in_tree;
  in_tree.cwd = "tree";
  // In data.tar order; the symlink and the conffile have no line.
  auto expected = aptship::run(
      {"md5sum", "usr/bin/hello", "usr/bin/hi", "usr/share/doc/hello/copyright"}, in_tree);
  REQUIRE(expected);
  REQUIRE(expected->ok());
  CHECK(contents.control_files.at("md5sums") == expected->out);
}

TEST_CASE("deb_writer: a package of directories only has no md5sums") {
  ScopedTempDir tmp;
  aptship::test::write("tree/DEBIAN/control", k_control);
  std::filesystem::create_directories("tree/usr/share/hello");
  REQUIRE(pack("tree", "hello.deb", options_for()));
  const auto contents = read_package("hello.deb");
  CHECK(contents.control_files.count("md5sums") == 0);
  CHECK(contents.control.get("Installed-Size") == std::optional<std::string_view>("4"));
}

TEST_CASE("deb_writer: control.tar holds the control files with dpkg's modes") {
  ScopedTempDir tmp;
  make_package();
  auto result = pack("tree", "hello.deb", options_for());
  REQUIRE(result);
  CHECK(result->package == "hello");
  CHECK(result->version == "1.0-1");
  CHECK(result->architecture == "all");
  const auto contents = read_package("hello.deb");
  CHECK(contents.control.get("Installed-Size") ==
        std::optional<std::string_view>(std::to_string(result->installed_size_kib)));
  CHECK(contents.control_files.at("conffiles") == "/etc/hello/hello.conf\n");
  CHECK(contents.control_files.at("postinst") == "#!/bin/sh\nexit 0\n");

  auto fd = aptship::Fd::open("hello.deb", O_RDONLY);
  REQUIRE(fd);
  std::vector<std::string> seen;
  const auto& member = contents.members[1];
  REQUIRE(aptship::archive::read_tar(
      *fd, member.offset, member.size, member.name,
      [&seen](const aptship::archive::TarEntry& e,
              const aptship::archive::DataFn& /*data*/) -> Expected<void> {
        seen.push_back(fmt::format("{} {:o} {}", e.path, e.mode, e.mtime));
        CHECK(e.uid == 0);
        CHECK(e.gid == 0);
        return {};
      }));
  // md5sums is dated by SOURCE_DATE_EPOCH; the others keep (clamped) mtimes.
  CHECK(seen.size() == 5);
  CHECK(seen[0] == "./ 755 1700000000");
  CHECK(seen[1] == "./conffiles 644 1700000000");
  CHECK(seen[2] == "./control 644 1700000000");
  CHECK(seen[3] == "./md5sums 644 1700000000");
  CHECK(seen[4] == "./postinst 755 1700000000");
}

TEST_CASE("deb_writer: data.tar lists the scanned tree, and PackResult describes it") {
  for (Compression compression :
       {Compression::zstd, Compression::xz, Compression::gzip, Compression::none}) {
    ScopedTempDir tmp;
    INFO(aptship::archive::name(compression));
    make_package();
    auto result = pack("tree", "hello.deb", options_for(compression));
    REQUIRE(result);
    const auto contents = read_package("hello.deb");
    const std::string ext(aptship::archive::extension(compression));
    CHECK(contents.control_member == "control.tar" + ext);
    CHECK(contents.data_member == "data.tar" + ext);
    CHECK_FALSE(contents.has_signature);
    CHECK(result->size == contents.size);
    REQUIRE(result->entries == contents.files.size());
    std::vector<std::string> paths;
    for (const auto& f : contents.files) {
      paths.push_back(f.path);
      CHECK(f.mtime <= 1700000000);
      CHECK(f.uname == "root");
    }
    CHECK(paths ==
          std::vector<std::string>{"./", "./etc/", "./etc/hello/", "./etc/hello/hello.conf",
                                   "./usr/", "./usr/bin/", "./usr/bin/hello", "./usr/bin/hey",
                                   "./usr/bin/hi", "./usr/share/", "./usr/share/doc/",
                                   "./usr/share/doc/hello/", "./usr/share/doc/hello/copyright"});
    CHECK(contents.files[8].type == EntryType::hardlink);
    CHECK(contents.files[8].link_target == "./usr/bin/hello");
    // ar members are dated by SOURCE_DATE_EPOCH.
    CHECK(aptship::test::read("hello.deb").substr(8 + 16, 12) == "1700000000  ");
  }
}

TEST_CASE("deb_writer: SOURCE_DATE_EPOCH is read from the environment") {
  const char* saved = std::getenv("SOURCE_DATE_EPOCH");
  const std::string saved_value = saved != nullptr ? saved : "";
  unsetenv("SOURCE_DATE_EPOCH");
  auto unset = aptship::deb::source_date_epoch_from_env();
  REQUIRE(unset);
  CHECK_FALSE(unset->has_value());
  setenv("SOURCE_DATE_EPOCH", "", 1);
  auto empty = aptship::deb::source_date_epoch_from_env();
  REQUIRE(empty);
  CHECK_FALSE(empty->has_value());
  setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
  auto set = aptship::deb::source_date_epoch_from_env();
  REQUIRE(set);
  CHECK(*set == std::optional<int64_t>(1700000000));
  for (const char* bad : {"yesterday", "12a", "-1", " 1", "1.5"}) {
    INFO(bad);
    setenv("SOURCE_DATE_EPOCH", bad, 1);
    auto refused = aptship::deb::source_date_epoch_from_env();
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error().message(), Catch::Contains("SOURCE_DATE_EPOCH"));
  }
  if (saved != nullptr) {
    setenv("SOURCE_DATE_EPOCH", saved_value.c_str(), 1);
  } else {
    unsetenv("SOURCE_DATE_EPOCH");
  }
}

TEST_CASE("deb_writer: a zstd package's head is 4 KiB aligned, and a filesystem that cannot "
          "insert ranges gets the same bytes") {
  ScopedTempDir tmp;
  make_package();
  std::string big;
  for (uint64_t i = 0; big.size() < (2U << 20); ++i) {
    big += std::to_string(i * 104729) + "\n";
  }
  aptship::test::write("tree/usr/share/hello/big", big);
  PackOptions options = options_for();
  options.sign = [](const aptship::deb::ByteReader& reader) -> Expected<std::string> {
    aptship::Hasher hash(aptship::Digest::sha256);
    char buffer[65536];
    ssize_t n = 0;
    while ((n = reader(buffer, sizeof(buffer))) > 0) {
      hash.update(std::string_view(buffer, static_cast<size_t>(n)));
    }
    if (n < 0) {
      return aptship::errno_error("reading what to sign", errno);
    }
    return hash.hex();
  };
  REQUIRE(pack("tree", "hello.deb", options));
  const std::vector<Member> members = members_of("hello.deb");
  REQUIRE(members.size() == 4);
  // The head (magic, two members, data.tar's header) fills whole 4 KiB blocks.
  const size_t head = 8 + 3 * 60 + members[0].bytes.size() + members[1].bytes.size();
  CHECK(head % 4096 == 0);
  // The control member ends with a zstd skippable frame (magic 0x184D2A50).
  const std::string& control = members[1].bytes;
  CHECK(control.find(std::string("\x50\x2A\x4D\x18", 4)) != std::string::npos);
  // The signer saw the members as they are in the file.
  const std::string covered = members[0].bytes + members[1].bytes + members[2].bytes;
  CHECK(members[3].bytes == aptship::hex_digest(aptship::Digest::sha256, covered));
  CHECK(read_package("hello.deb").has_signature);

  // tmpfs has no FALLOC_FL_INSERT_RANGE: the copying path must give the
  // same package byte for byte.
  if (!std::filesystem::is_directory("/dev/shm")) {
    return;
  }
  const std::filesystem::path shm =
      std::filesystem::path("/dev/shm") / ("aptship-test-" + std::to_string(getpid()) + ".deb");
  auto copied = pack("tree", shm, options);
  const std::string shm_bytes = copied ? aptship::test::read(shm.string()) : std::string();
  std::filesystem::remove(shm);
  INFO((copied ? std::string() : copied.error().message()));
  REQUIRE(copied);
  CHECK(shm_bytes == aptship::test::read("hello.deb"));
}
