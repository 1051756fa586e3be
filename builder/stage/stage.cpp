#include "builder/stage/stage.hpp"

#include <fcntl.h>
#include <stdio.h> // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include <fmt/format.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/tempdir.hpp"
#include "builder/stage/control.hpp"
#include "builder/stage/copy_tree.hpp"
#include "builder/stage/docs.hpp"
#include "builder/stage/env_file.hpp"
#include "builder/stage/names.hpp"
#include "builder/stage/scripts.hpp"
#include "builder/stage/units.hpp"
#include "builder/stage/validate.hpp"
#include "builder/stage/wrapper.hpp"

namespace aptship::stage {

namespace {

// Makes ROOT/REL and its missing parents with mode 0755, whatever the umask.
Expected<void> make_dirs(const std::filesystem::path& root, const std::filesystem::path& rel) {
  std::filesystem::path path = root;
  for (const auto& part : rel) {
    path /= part;
    if (mkdir(path.c_str(), 0755) != 0) {
      if (errno == EEXIST) {
        continue;
      }
      return errno_error(fmt::format("{}: mkdir", path.string()), errno);
    }
    if (chmod(path.c_str(), 0755) != 0) {
      return errno_error(fmt::format("{}: chmod", path.string()), errno);
    }
  }
  return {};
}

// Writes ROOT/REL, which must not exist, with exactly MODE.
Expected<void> write_new(const std::filesystem::path& root, const std::filesystem::path& rel,
                         std::string_view content, mode_t mode) {
  TRY(make_dirs(root, rel.parent_path()));
  const std::filesystem::path path = root / rel;
  TRY_ASSIGN(Fd fd, Fd::open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600));
  TRY_CTX(fd.write_all(content), path.string());
  if (fchmod(fd.get(), mode) != 0) {
    return errno_error(fmt::format("{}: chmod", path.string()), errno);
  }
  TRY_CTX(fd.close(), path.string());
  return {};
}

Expected<void> write_tree(const AppSpec& spec, const std::filesystem::path& app_source,
                          const std::filesystem::path& root) {
  // Everything fallible that does not touch the tree comes first.
  TRY_ASSIGN(std::string control, render_control(spec));
  TRY_ASSIGN(std::vector<DocFile> docs, render_docs(spec));

  const std::filesystem::path rel_app = app_dir(spec).substr(1);
  TRY(make_dirs(root, rel_app.parent_path()));
  TRY_CTX(copy_tree(app_source, root / rel_app), "copying the app");

  TRY(write_new(root, command_path(spec).substr(1), render_wrapper(spec), 0755));
  TRY(write_new(root, env_path(spec).substr(1), render_env_file(spec), 0644));
  TRY(make_dirs(root, conf_dir(spec).substr(1)));
  for (const UnitFile& unit : render_units(spec)) {
    TRY(write_new(root, std::filesystem::path("lib/systemd/system") / unit.name, unit.text, 0644));
  }
  for (const DocFile& doc : docs) {
    TRY(write_new(root, doc.path, doc.bytes, 0644));
  }

  const MaintainerScripts scripts = render_maintainer_scripts(spec);
  TRY(write_new(root, "DEBIAN/control", control, 0644));
  TRY(write_new(root, "DEBIAN/conffiles", render_conffiles(spec), 0644));
  TRY(write_new(root, "DEBIAN/postinst", scripts.postinst, 0755));
  TRY(write_new(root, "DEBIAN/prerm", scripts.prerm, 0755));
  TRY(write_new(root, "DEBIAN/postrm", scripts.postrm, 0755));
  return {};
}

} // namespace

Expected<void> stage_app(const AppSpec& spec, const std::filesystem::path& app_source,
                         const std::filesystem::path& stage_dir) {
  const std::string context = fmt::format("staging {}", stage_dir.string());
  TRY_CTX(check_spec(spec), context);
  struct stat st {};
  if (stat(app_source.c_str(), &st) != 0) {
    return errno_error(fmt::format("{}: {}", context, app_source.string()), errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error("{}: {}: not a directory", context, app_source.string());
  }
  if (lstat(stage_dir.c_str(), &st) == 0) {
    return make_error("{}: it already exists", context);
  }
  if (errno != ENOENT) {
    return errno_error(context, errno);
  }
  const std::filesystem::path name = stage_dir.filename();
  if (name.empty() || name == "." || name == "..") {
    return make_error("{}: not a name for a new directory", context);
  }
  std::filesystem::path parent = stage_dir.parent_path();
  if (parent.empty()) {
    parent = ".";
  }

  // Built beside its final name and renamed into place, so that STAGE_DIR
  // is complete or absent; the temporary directory goes away on any error.
  TRY_ASSIGN(TempDir tmp, TempDir::create(name.string() + ".tmp", parent));
  if (chmod(tmp.path().c_str(), 0755) != 0) {
    return errno_error(fmt::format("{}: chmod {}", context, tmp.path().string()), errno);
  }
  TRY_CTX(write_tree(spec, app_source, tmp.path()), context);
  if (renameat2(AT_FDCWD, tmp.path().c_str(), AT_FDCWD, stage_dir.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) {
      return make_error("{}: it already exists", context);
    }
    return errno_error(fmt::format("{}: rename from {}", context, tmp.path().string()), errno);
  }
  tmp.keep();
  return {};
}

} // namespace aptship::stage
