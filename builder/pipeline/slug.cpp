#include "builder/pipeline/slug.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/subprocess.hpp"

namespace aptship::pipeline {

namespace fs = std::filesystem;

namespace {

bool is_elf(const fs::path& path) {
  int raw = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (raw < 0) {
    return false;
  }
  Fd fd(raw);
  char magic[4] = {};
  return pread(fd.get(), magic, sizeof(magic), 0) == 4 && magic[0] == 0x7f && magic[1] == 'E' &&
         magic[2] == 'L' && magic[3] == 'F';
}

} // namespace

Expected<void> copy_source_dir(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (!fs::is_directory(from, ec)) {
    return make_error("{}: not a directory", from.string());
  }
  fs::create_directories(to, ec);
  if (ec) {
    return make_error("creating {}: {}", to.string(), ec.message());
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(from, ec)) {
    if (entry.path().filename() == ".git") {
      continue;
    }
    fs::copy(entry.path(), to / entry.path().filename(),
             fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) {
      return make_error("copying {}: {}", entry.path().string(), ec.message());
    }
  }
  if (ec) {
    return make_error("reading {}: {}", from.string(), ec.message());
  }
  return {};
}

Expected<std::string> slug_architecture(const fs::path& slug) {
  std::error_code ec;
  bool compiled = false;
  for (auto it = fs::recursive_directory_iterator(slug, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec) && is_elf(it->path())) {
      compiled = true;
      break;
    }
  }
  if (ec) {
    return make_error("reading {}: {}", slug.string(), ec.message());
  }
  if (!compiled) {
    return std::string("all");
  }
  TRY_ASSIGN(std::string arch, run_checked({"dpkg", "--print-architecture"}));
  while (!arch.empty() && (arch.back() == '\n' || arch.back() == ' ')) {
    arch.pop_back();
  }
  return arch;
}

} // namespace aptship::pipeline
