#include "builder/stage/wrapper.hpp"

#include <string_view>

#include <fmt/format.h>

#include "aptrepo/core/text.hpp"
#include "builder/stage/names.hpp"
#include "builder/stage/shell.hpp"

namespace aptship::stage {

namespace {

// The part of the script that is the same for every app. It never
// interpolates a value into code: names and values reach commands as
// arguments, and the only eval'd names are checked keys.
constexpr std::string_view k_body = R"SH(
newline='
'
cr=$(printf '\r')

die() {
	printf '%s: %s\n' "$app" "$*" >&2
	exit 1
}

usage() {
	cat <<USAGE
Usage: $app COMMAND [ARG...]

Commands:
  run PROCESS [ARG...]     run a process type of the Procfile ($process_names)
  run COMMAND [ARG...]     run a command in the app's directory and environment
  config                   print the configuration, KEY=VALUE
  config:get KEY           print the value of KEY
  config:set KEY=VALUE...  set keys in $env_file
  config:unset KEY...      remove keys from $env_file
  logs [-f]                print (or follow) the processes' logs
  restart                  restart every process ($app.target)
  status                   show the state of every process
  help                     print this text
USAGE
}

is_key() {
	case $1 in
	'' | [!A-Za-z_]* | *[!A-Za-z0-9_]*) return 1 ;;
	esac
}

# Prints the key that env file line $1 assigns; fails for other lines.
line_key() {
	key=${1%%=*}
	[ "$key" != "$1" ] || return 1
	key=${key#"${key%%[! 	]*}"}
	case $key in
	export[\ \	]*)
		key=${key#export}
		key=${key#"${key%%[! 	]*}"}
		;;
	esac
	is_key "$key" || return 1
	printf '%s\n' "$key"
}

# Prints every key the env files assign, sorted, each once.
config_keys() {
	for file in "$env_file" "$conf_dir"/*.env; do
		[ -f "$file" ] || continue
		sed -n 's/^[[:space:]]*\(export[[:space:]][[:space:]]*\)\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\)=.*/\2/p' "$file"
	done | LC_ALL=C sort -u
}

# Exports what the env files set: env first, then conf.d/*.env in name
# order. The list is made before reading any file, since a file may assign
# any name.
load_env() {
	[ -e "$env_file" ] || die "$env_file is missing (reinstall the package with --force-confmiss)"
	set -- "$env_file" "$conf_dir"/*.env
	set -a
	set +u
	for file do
		[ -e "$file" ] || continue
		[ -r "$file" ] || die "cannot read $file (run as root or as $app_user)"
		# shellcheck source=/dev/null
		. "$file"
	done
	set +a
	set -u
}

# As root, runs this command again as the app user; the systemd units
# already start it as that user.
as_app_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	[ "$app_user" != root ] || return 0
	getent passwd "$app_user" >/dev/null || die "user $app_user does not exist (is the package configured?)"
	USER=$app_user
	LOGNAME=$app_user
	export USER LOGNAME
	exec setpriv --reuid="$app_user" --regid="$(id -g "$app_user")" --init-groups -- "$self" "$@"
}

# launch DEFAULT_PORT OFFSET DIR MODE COMMAND [ARG...]: loads the env files,
# sets PORT and HOME, then in bash (which buildpacks' .profile.d scripts
# expect) sources DIR/.profile.d/*.sh and runs COMMAND, a Procfile command
# line, with the ARGs (MODE process) or the ARGs themselves (MODE command).
# Past load_env it assigns no variable of its own: the env files may have
# exported any name.
launch() {
	load_env
	PORT=${PORT:-$1}
	case $PORT in
	'' | *[!0-9]*) die "PORT='$PORT' is not a number" ;;
	esac
	PORT=$((PORT + $2))
	HOME=$3
	export PORT HOME
	cd "$3" || die "cannot enter $3"
	shift 2
	exec /bin/bash -c '
aptship_dir=$1 aptship_mode=$2 aptship_command=$3
shift 3
for aptship_file in "$aptship_dir"/.profile.d/*.sh; do
	if [ -r "$aptship_file" ]; then
		. "$aptship_file"
	fi
done
unset aptship_dir aptship_file
if [ "$aptship_mode" = command ]; then
	unset aptship_mode aptship_command
	exec "$@"
elif [ $# -gt 0 ]; then
	exec /bin/bash -c "$aptship_command \"\$@\"" "$0" "$@"
else
	exec /bin/bash -c "$aptship_command" "$0"
fi' "$app" "$@"
}

cmd_run() {
	[ $# -gt 0 ] || die "usage: $app run PROCESS|COMMAND [ARG...]"
	as_app_user run "$@"
	if process_type "$1"; then
		shift
		launch "$default_port" "$port_offset" "$app_dir" process "$process_command" "$@"
	fi
	launch "$default_port" 0 "$app_dir" command "" "$@"
}

cmd_config() {
	[ $# -eq 0 ] || die "usage: $app config"
	# shellcheck disable=SC2046 # keys are single words
	set -- $(config_keys)
	(
		load_env
		for key do
			eval "printf '%s=%s\n' \"\$key\" \"\${$key-}\""
		done
	)
}

cmd_config_get() {
	if [ $# -ne 1 ] || ! is_key "$1"; then
		die "usage: $app config:get KEY"
	fi
	config_keys | grep -qx -- "$1" || exit 1
	(
		load_env
		eval "printf '%s\n' \"\${$1-}\""
	)
}

# Prints KEY=VALUE for the env file, VALUE quoted as its header explains.
env_line() {
	case $2 in
	'' | *[!A-Za-z0-9_./:@%+,-]*)
		printf '%s="%s"\n' "$1" "$(printf '%s' "$2" | sed 's/[\\"`$]/\\&/g')"
		;;
	*) printf '%s=%s\n' "$1" "$2" ;;
	esac
}

# listed KEY ARG...: whether an ARG is KEY or KEY=...
listed() {
	wanted=$1
	shift
	for arg do
		if [ "${arg%%=*}" = "$wanted" ]; then
			return 0
		fi
	done
	return 1
}

# value_of KEY ARG...: the value of the last KEY=VALUE among the ARGs.
value_of() {
	wanted=$1
	value=
	shift
	for arg do
		if [ "${arg%%=*}" = "$wanted" ]; then
			value=${arg#*=}
		fi
	done
	printf '%s' "$value"
}

# edit_env set KEY=VALUE... | edit_env unset KEY...: rewrites the env file
# under a lock, keeping comments and other lines; a set key replaces its
# first assignment (later ones are dropped) or is appended. The new file
# replaces the old one by rename, with its owner and mode.
edit_env() {
	op=$1
	shift
	dir=$(dirname -- "$env_file")
	exec 9<"$dir"
	flock 9
	tmp=$(mktemp "$env_file.XXXXXX") || die "cannot write in $dir"
	trap 'rm -f -- "$tmp"' EXIT
	written=' '
	{
		if [ -e "$env_file" ]; then
			while IFS= read -r line || [ -n "$line" ]; do
				if key=$(line_key "$line") && listed "$key" "$@"; then
					case $written in *" $key "*) continue ;; esac
					written="$written$key "
					if [ "$op" = set ]; then
						env_line "$key" "$(value_of "$key" "$@")"
					fi
					continue
				fi
				printf '%s\n' "$line"
			done <"$env_file"
		fi
		if [ "$op" = set ]; then
			for arg do
				key=${arg%%=*}
				case $written in *" $key "*) continue ;; esac
				written="$written$key "
				env_line "$key" "$(value_of "$key" "$@")"
			done
		fi
	} >"$tmp"
	if [ -e "$env_file" ]; then
		chmod --reference="$env_file" -- "$tmp"
		chown --reference="$env_file" -- "$tmp" 2>/dev/null || true
	else
		chmod 0640 -- "$tmp"
		chgrp -- "$app_user" "$tmp" 2>/dev/null || true
	fi
	sync -- "$tmp"
	mv -f -- "$tmp" "$env_file"
	trap - EXIT
	printf "%s: %s updated; '%s restart' applies it\n" "$app" "$env_file" "$app" >&2
}

cmd_config_set() {
	[ $# -gt 0 ] || die "usage: $app config:set KEY=VALUE..."
	for arg do
		key=${arg%%=*}
		if [ "$key" = "$arg" ] || ! is_key "$key"; then
			die "not KEY=VALUE with a KEY of letters, digits and _: $arg"
		fi
		case $arg in
		*"$newline"* | *"$cr"*) die "the value of $key must be one line" ;;
		esac
	done
	edit_env set "$@"
}

cmd_config_unset() {
	[ $# -gt 0 ] || die "usage: $app config:unset KEY..."
	for arg do
		is_key "$arg" || die "not a key: $arg"
	done
	edit_env unset "$@"
}

cmd_logs() {
	follow=
	for arg do
		case $arg in
		-f | --follow) follow=-f ;;
		*) die "usage: $app logs [-f]" ;;
		esac
	done
	if [ -d /run/systemd/system ] && command -v journalctl >/dev/null 2>&1; then
		set --
		for unit in $units; do
			set -- "$@" -u "$unit"
		done
		exec journalctl --no-pager -n 100 $follow "$@"
	fi
	set -- "$log_dir"/*.log
	[ -e "$1" ] || die "no logs: the systemd journal is not available and $log_dir has no *.log files"
	exec tail -n 100 $follow -- "$@"
}

cmd_restart() {
	[ $# -eq 0 ] || die "usage: $app restart"
	[ -d /run/systemd/system ] || die "systemd is not running: start a process with '$app run PROCESS'"
	exec systemctl restart "$app.target"
}

cmd_status() {
	[ $# -eq 0 ] || die "usage: $app status"
	[ -d /run/systemd/system ] || die "systemd is not running"
	# shellcheck disable=SC2086 # unit names are single words
	exec systemctl status --no-pager $units
}

if [ $# -eq 0 ]; then
	usage >&2
	exit 1
fi
command=$1
shift
case $command in
run) cmd_run "$@" ;;
config) cmd_config "$@" ;;
config:get) cmd_config_get "$@" ;;
config:set) cmd_config_set "$@" ;;
config:unset) cmd_config_unset "$@" ;;
logs) cmd_logs "$@" ;;
restart) cmd_restart "$@" ;;
status) cmd_status "$@" ;;
help | -h | --help) usage ;;
*)
	usage >&2
	die "unknown command: $command"
	;;
esac
)SH";

} // namespace

std::string render_wrapper(const AppSpec& spec) {
  std::string units;
  for (const std::string& unit : unit_names(spec)) {
    units += units.empty() ? "" : " ";
    units += unit;
  }
  std::string names;
  std::string table;
  for (const ProcessType& process : spec.processes) {
    names += names.empty() ? "" : " ";
    names += process.name;
    // Process type names are letters, digits, '_' and '-': safe as patterns.
    table += fmt::format("\t{}) process_command={} port_offset={} ;;\n", process.name,
                         shell_quote(process.command), port_offset(spec, process));
  }
  std::string out = fmt::format(
      "#!/bin/sh\n"
      "# {app}: runs the {app} application and edits its configuration\n"
      "# (`{app} help`). Generated by aptship; the systemd units start every\n"
      "# process through `{app} run PROCESS`.\n"
      "set -eu\n"
      "\n"
      "app={q_app}\n"
      "self={q_self}\n"
      "app_user={q_user}\n"
      "app_dir={q_app_dir}\n"
      "env_file={q_env}\n"
      "conf_dir={q_conf}\n"
      "log_dir={q_log}\n"
      "default_port={port}\n"
      "units={q_units}\n"
      "process_names={q_names}\n"
      "\n"
      "# The Procfile: sets process_command and port_offset for process type $1.\n"
      "# shellcheck disable=SC2016 # the commands expand when they run\n"
      "process_type() {{\n"
      "\tcase $1 in\n"
      "{table}"
      "\t*) return 1 ;;\n"
      "\tesac\n"
      "}}\n",
      fmt::arg("app", spec.app), fmt::arg("q_app", shell_quote(spec.app)),
      fmt::arg("q_self", shell_quote(command_path(spec))),
      fmt::arg("q_user", shell_quote(user_of(spec))),
      fmt::arg("q_app_dir", shell_quote(app_dir(spec))),
      fmt::arg("q_env", shell_quote(env_path(spec))),
      fmt::arg("q_conf", shell_quote(conf_dir(spec))),
      fmt::arg("q_log", shell_quote(log_dir(spec))), fmt::arg("port", spec.port),
      fmt::arg("q_units", shell_quote(units)),
      fmt::arg("q_names", shell_quote(names.empty() ? "none" : names)), fmt::arg("table", table));
  out += k_body;
  return out;
}

} // namespace aptship::stage
