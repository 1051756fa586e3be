// libFuzzer target for the .deb reader: any bytes must be read or refused
// cleanly (ar layout, both tar members through libarchive, the control
// file), and whatever is accepted must have the shape read_deb promises.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "aptrepo/deb/deb_reader.hpp"

namespace {

// One in-memory file for the whole run, rewritten for each input: the reader
// takes a path, and a memfd spares the disk.
int input_fd() {
  static const int fd = memfd_create("fuzz.deb", MFD_CLOEXEC);
  if (fd < 0) {
    __builtin_trap();
  }
  return fd;
}

void check_accepted(const aptship::deb::DebContents& contents, size_t size) {
  if (contents.size != size || contents.members.size() < 3 ||
      contents.members[0].name != "debian-binary" || !contents.control.get("Package") ||
      contents.control_files.count("control") != 1) {
    __builtin_trap();
  }
  for (const auto& member : contents.members) {
    if (member.offset + member.size > size) {
      __builtin_trap();
    }
  }
  for (const auto& entry : contents.files) {
    if (entry.pax || entry.type == aptship::archive::EntryType::other ||
        !(entry.path == "." || entry.path.starts_with("./"))) {
      __builtin_trap();
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = input_fd();
  if (ftruncate(fd, 0) != 0) {
    __builtin_trap();
  }
  size_t written = 0;
  while (written < size) {
    ssize_t n = pwrite(fd, data + written, size - written, static_cast<off_t>(written));
    if (n <= 0) {
      __builtin_trap();
    }
    written += static_cast<size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  auto contents = aptship::deb::read_deb(path);
  if (contents) {
    check_accepted(*contents, size);
  } else if (contents.error().message().empty()) {
    __builtin_trap();
  }
  return 0;
}
