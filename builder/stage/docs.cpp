#include "builder/stage/docs.hpp"

#include <array>
#include <ctime>
#include <string_view>

#include <fmt/format.h>

#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/deb/deb_writer.hpp"
#include "aptrepo/deb/version.hpp"
#include "builder/stage/names.hpp"

namespace aptship::stage {

namespace {

// RFC 5322 date as changelogs carry it, in UTC, without the locale.
std::string rfc5322_date(int64_t seconds) {
  constexpr std::array<std::string_view, 7> k_days = {"Sun", "Mon", "Tue", "Wed",
                                                      "Thu", "Fri", "Sat"};
  constexpr std::array<std::string_view, 12> k_months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto time = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&time, &tm);
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} +0000", k_days.at(tm.tm_wday), tm.tm_mday,
                     k_months.at(tm.tm_mon), tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// TEXT for roff: backslashes and hyphens escaped (names and paths only,
// never at the start of a line).
std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  return out;
}

std::string upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return text;
}

Expected<std::string> gzip(const std::string& text) {
  SubprocessOptions options;
  options.input = text;
  TRY_ASSIGN(std::string out, run_checked({"gzip", "-9n"}, options));
  return out;
}

} // namespace

std::string render_changelog(const AppSpec& spec, int64_t date) {
  std::string out = fmt::format("{} ({}) unstable; urgency=medium\n\n", spec.app, spec.version);
  if (spec.changes.empty()) {
    out += "  * Packaged by aptship.\n";
  }
  for (const std::string& change : spec.changes) {
    out += fmt::format("  * {}\n", change);
  }
  out += fmt::format("\n -- {}  {}\n", spec.maintainer, rfc5322_date(date));
  return out;
}

std::string render_manpage(const AppSpec& spec) {
  const std::string app = roff(spec.app);
  std::string processes;
  for (const ProcessType& process : spec.processes) {
    processes += processes.empty() ? "" : ", ";
    processes += "\\fB" + roff(process.name) + "\\fR";
  }
  if (processes.empty()) {
    processes = "none";
  }
  return fmt::format(
      R"(.TH {APP} 1 "" "{app} {version}" "User Commands"
.SH NAME
{app} \- run and configure the {app} application
.SH SYNOPSIS
.B {app}
.I command
.RI [ argument ...]
.SH DESCRIPTION
.B {app}
runs the processes of the {app} application, installed in
.IR {dir} ,
and edits its configuration.
Its systemd units start every process with
.BR "{app} run" ,
as the
.B {user}
user, grouped by
.BR {target} .
.PP
Process types: {processes}.
.SH COMMANDS
.TP
.BI "run " process " \fR[\fIargument\fR ...]"
Runs a process type of the Procfile, with the arguments appended to its
command line.
As root, switches to the
.B {user}
user first.
The process runs in
.I {dir}
(also its
.BR HOME )
with the variables of the configuration exported, after sourcing
.IR {dir}/.profile.d/*.sh .
.B PORT
is the configured port for the web process; the N\-th other process
type gets
.BR PORT +N.
.TP
.BI "run " command " \fR[\fIargument\fR ...]"
Runs any other command the same way.
.TP
.B config
Prints the configuration, one
.IR KEY = VALUE
per line.
.TP
.BI "config:get " key
Prints the value of
.IR key ;
exits with status 1 if it is not set.
.TP
.BI "config:set " key = value " \fR...\fP"
Sets keys in
.IR {env} ,
keeping its other lines.
.TP
.BI "config:unset " key " \fR...\fP"
Removes keys from
.IR {env} .
.TP
.B "logs \fR[\fB\-f\fR]"
Prints the last lines of the processes' logs from the systemd journal, or
.IR {log}/*.log
without it;
.B \-f
follows them.
.TP
.B restart
Restarts every process
.RB ( "systemctl restart {target}" ).
Configuration changes apply from the next start.
.TP
.B status
Shows the state of every process.
.SH FILES
.TP
.I {env}
The configuration: lines
.IR KEY = VALUE ,
read by systemd and by the shell; a value with characters other than
letters, digits and _./:@%+,\- is written in double quotes with
.BR \e ,
.BR \(dq ,
.B \(ga
and
.B $
escaped by a backslash.
Upgrades keep it.
.TP
.I {conf}/*.env
More configuration in the same format, read after
.I {env}
in name order.
.TP
.I {state}
Data of the application, owned by
.BR {user} .
.SH SEE ALSO
.BR systemctl (1),
.BR journalctl (1)
)",
      fmt::arg("APP", roff(upper(spec.app))), fmt::arg("app", app),
      fmt::arg("version", roff(spec.version)), fmt::arg("dir", roff(app_dir(spec))),
      fmt::arg("user", roff(user_of(spec))), fmt::arg("target", roff(target_name(spec))),
      fmt::arg("processes", processes), fmt::arg("env", roff(env_path(spec))),
      fmt::arg("conf", roff(conf_dir(spec))), fmt::arg("log", roff(log_dir(spec))),
      fmt::arg("state", roff(state_dir(spec))));
}

std::string render_copyright(const AppSpec& spec) {
  return fmt::format("The {app} application, packaged by aptship from its source repository.\n"
                     "\n"
                     "Copyright: its authors, as its source states.\n"
                     "License: as its source states; the source is installed in {dir}.\n",
                     fmt::arg("app", spec.app), fmt::arg("dir", app_dir(spec)));
}

std::string render_lintian_overrides(const AppSpec& spec) {
  return fmt::format("# An application deployed by aptship is add-on software, not part of the\n"
                     "# distribution: it lives in {dir} (FHS 3.13).\n"
                     "{app}: dir-or-file-in-opt\n"
                     "# The app's services are wanted by {target}, which groups them and which\n"
                     "# multi-user.target wants.\n"
                     "{app}: systemd-service-file-refers-to-unusual-wantedby-target {target} "
                     "[lib/systemd/system/*]\n"
                     "# The application's own copyright notices are in its source, in {dir}.\n"
                     "{app}: copyright-without-copyright-notice\n"
                     "# The debsigs signature member (_gpgorigin), which debsig-verify checks\n"
                     "# and dpkg ignores.\n"
                     "{app}: misplaced-extra-member-in-deb _gpgorigin *\n",
                     fmt::arg("app", spec.app), fmt::arg("dir", app_dir(spec)),
                     fmt::arg("target", target_name(spec)));
}

Expected<std::vector<DocFile>> render_docs(const AppSpec& spec) {
  int64_t date = 0;
  if (spec.date) {
    date = *spec.date;
  } else {
    TRY_ASSIGN(std::optional<int64_t> sde, deb::source_date_epoch_from_env());
    date = sde ? *sde : static_cast<int64_t>(std::time(nullptr));
  }
  TRY_ASSIGN(deb::Version version, deb::Version::parse(spec.version));
  // Policy 12.7: a native version (no revision) has changelog.gz, a
  // packaged upstream one changelog.Debian.gz.
  const std::string changelog = version.revision.empty() ? "changelog.gz" : "changelog.Debian.gz";
  const std::string doc = "usr/share/doc/" + spec.app + "/";
  std::vector<DocFile> out;
  out.push_back(DocFile{doc + "copyright", render_copyright(spec)});
  TRY_ASSIGN(std::string changelog_gz, gzip(render_changelog(spec, date)));
  out.push_back(DocFile{doc + changelog, std::move(changelog_gz)});
  TRY_ASSIGN(std::string manpage_gz, gzip(render_manpage(spec)));
  out.push_back(DocFile{"usr/share/man/man1/" + spec.app + ".1.gz", std::move(manpage_gz)});
  out.push_back(DocFile{"usr/share/lintian/overrides/" + spec.app, render_lintian_overrides(spec)});
  return out;
}

} // namespace aptship::stage
