#!/bin/bash
# aptship's own Debian package, from a clean clone of the committed tree to
# a working build server: dpkg-buildpackage -b builds aptship_VERSION_ARCH.deb
# and lintian finds no error or warning in it; the stock apt-get installs it
# into a clean Debian root (the aptship user, its data dir and signing key,
# the conffile, the units); aptship.service's command line runs there as the
# unit would run it (its User=, Environment=, WorkingDirectory= and
# readiness check) and serves a published repository; the timer's command
# re-signs it; an app pushed over ssh to the root's own sshd builds there and
# installs from the served repository into a second clean root with a
# signed-by source, and upgrades through nginx running the packaged example
# site; an upgrade to a newer build of the package keeps the
# repository, the key, the push keys and the edited configuration; remove
# keeps the data and the configuration, purge removes the configuration
# only, and a reinstall finds the same key again.
#
# No systemd runs in a chroot: the unit files are checked with
# systemd-analyze inside the root, and their commands are run by hand.
# Compiling aptship twice takes minutes; with ccache installed, both builds
# use the machine's compiler cache.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016 # single-quoted programs for the root's shell
# shellcheck disable=SC2317 # functions run through the test helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/debroot.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/debroot.sh"

debroot_require
require_cmd git dpkg-buildpackage dpkg-parsechangelog dh lintian curl ssh ssh-keygen gpgv setpriv "$PYTHON"

DATA=/var/lib/aptship
UNITS=/lib/systemd/system
ARCH=$(dpkg --print-architecture)
SUITE_START=$SECONDS

# debhelper (compat 13) points HOME at a scratch dir during the build, so
# ccache must be told where the machine's cache is, and to ignore the
# clone's path, which changes with every run.
BUILD_ENV=(DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" DEB_BUILD_PROFILES=nocheck)
if command -v ccache >/dev/null; then
  BUILD_ENV+=(CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_DIR="$(ccache -k cache_dir)" CCACHE_NOHASHDIR=1)
fi

# git reads neither the user's nor the system's configuration.
mkdir -p "$T/home"
export HOME="$T/home" GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=tests GIT_AUTHOR_EMAIL=tests@example.org
export GIT_COMMITTER_NAME=tests GIT_COMMITTER_EMAIL=tests@example.org

# ---------------------------------------------------------------- helpers

# testcontains TEXT FILE: FILE contains the fixed string TEXT.
testcontains() {
  if grep -qF -- "$1" "$2"; then
    _pass "$2 contains '$1'"
  else
    _fail "$2 contains '$1'" "it does not"
    _show "$2" "$2"
  fi
}

# must DESCRIPTION LOG CMD...: CMD succeeds, its output going to LOG; the
# rest of the suite depends on it, so a failure ends the suite.
must() {
  local description=$1 log=$2 rc=0 start=$SECONDS
  shift 2
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    _pass "$description ($((SECONDS - start)) s)"
    return 0
  fi
  _fail "$description" "$(_quote_cmd "$@") exited $rc; the end of $log:"
  tail -n 40 "$log" | sed 's/^/        | /'
  finish
}

# build_package DIR: dpkg-buildpackage -b in the clone DIR; the packages land
# in its parent.
build_package() {
  (cd "$1" && env "${BUILD_ENV[@]}" CCACHE_BASEDIR="$1" dpkg-buildpackage -b -us -uc)
}

# processes_in ROOT: the processes running inside ROOT, one a line.
processes_in() {
  local p root
  root=$(realpath "$1")
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ]; then
      ps -o pid=,user=,args= -p "${p#/proc/}" || true
    fi
  done
}

# in_server CMD...: CMD as root in the server root.
in_server() { debroot_exec "$SERVER" "$@"; }

# as_aptship CMD...: CMD as the aptship user in the server root, the way
# the README tells administrators to run aptship.
as_aptship() { debroot_exec "$SERVER" runuser -u aptship -- "$@"; }

# unit_value UNIT KEY: the last KEY= line of the installed UNIT.
unit_value() { sed -n "s/^$2=//p" "$SERVER$UNITS/$1" | tail -n 1; }

# unit_argv UNIT KEY [MAINPID]: sets UNIT_ARGV to the command line that
# runs UNIT's KEY (ExecStart, ExecStartPost) in the server root as the unit
# would: as its User= and Group= with their groups, in a clean environment
# holding its Environment= and what systemd sets for a User= service, in its
# WorkingDirectory= with its UMask=; ${MAINPID} becomes MAINPID.
UNIT_ARGV=()
unit_argv() {
  local unit=$1 key=$2 mainpid=${3:-} user group dir umask home
  user=$(unit_value "$unit" User)
  group=$(unit_value "$unit" Group)
  dir=$(unit_value "$unit" WorkingDirectory)
  umask=$(unit_value "$unit" UMask)
  home=$(in_server getent passwd "$user" | cut -d: -f6)
  local env=() cmd=()
  read -r -a env <<<"$(sed -n 's/^Environment=//p' "$SERVER$UNITS/$unit" | tr '\n' ' ')"
  read -r -a cmd <<<"$(unit_value "$unit" "$key" | sed "s/\${MAINPID}/$mainpid/g")"
  UNIT_ARGV=(chroot "$SERVER" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/sh "${env[@]}"
    setpriv --reuid="$user" --regid="$group" --init-groups --
    /bin/sh -c 'umask "$1" && cd "$2" && shift 2 && exec "$@"' sh "${umask:-0022}" "${dir:-/}" "${cmd[@]}")
}

# run_unit UNIT KEY [MAINPID]: runs that command line.
run_unit() {
  unit_argv "$@"
  "${UNIT_ARGV[@]}"
}

SERVE_PID=''
# start_serve: aptship.service's ExecStart in the background, then its
# ExecStartPost readiness check with the server's pid.
start_serve() {
  # Each program execs the next: the pid is the server's own, as MAINPID is.
  unit_argv aptship.service ExecStart
  "${UNIT_ARGV[@]}" >>"$T/serve.log" 2>&1 &
  SERVE_PID=$!
  testtrue "aptship.service's ExecStartPost sees the server listening" \
    run_unit aptship.service ExecStartPost "$SERVE_PID"
}
stop_serve() {
  if [ -n "$SERVE_PID" ]; then
    kill "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    SERVE_PID=''
  fi
}

# A port nobody listens on now (the roots share the machine's network).
free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ssh_args KEY: the client's options: key KEY only, no user configuration,
# agent or known_hosts, never a prompt.
SSH_PORT=''
ssh_args() {
  printf '%s\n' -F /dev/null -i "$1" -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p "$SSH_PORT"
}
push() {
  local dir=$1 args=()
  shift
  mapfile -t args < <(ssh_args "$T/alice")
  GIT_SSH_COMMAND="ssh $(printf '%q ' "${args[@]}")" git -C "$dir" push "$@"
}
ssh_to_server() {
  local args=()
  mapfile -t args < <(ssh_args "$T/alice")
  # shellcheck disable=SC2029 # the command is for the server
  ssh "${args[@]}" aptship@127.0.0.1 "$@"
}

# served_field SUITE FIELD: FIELD of the InRelease the server serves.
served_field() {
  curl -fsS "http://127.0.0.1:$PORT/dists/$1/InRelease" | sed -n "s/^$2: //p"
}

# ---------------------------------------------------------------- build
msg "dpkg-buildpackage -b in a clean clone of the committed tree"
SRC="$T/build/aptship"
must "git clone of $APTSHIP_SOURCE_DIR at HEAD" "$T/clone.log" \
  git clone --no-hardlinks "$APTSHIP_SOURCE_DIR" "$SRC"
VERSION=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
info "commit $(git -C "$SRC" log -1 --format='%h %s' | cut -c1-70), version $VERSION"
DEB="$T/build/aptship_${VERSION}_${ARCH}.deb"
must "dpkg-buildpackage -b -us -uc (nocheck)" "$T/build-1.log" build_package "$SRC"
testfile "$DEB"
info "$(basename "$DEB"): $(stat -c %s "$DEB") bytes"
testtrue "the build leaves the clone as git checked it out" \
  test -z "$(git -C "$SRC" status --porcelain --untracked-files=no)"

msg "lintian: no error, no warning"
testtrue "lintian --fail-on error,warning" lintian --fail-on error,warning --display-info "$DEB"
sed 's/^/      /' "$OUT"

msg "the package's contents"
dpkg-deb -c "$DEB" | awk '{print $1, $6}' >"$T/contents"
for path in ./usr/bin/aptship ./usr/libexec/aptship/wait-listening \
  ./usr/share/aptship/buildpacks/procfile/bin/compile ./usr/share/aptship/buildpacks/python/bin/detect; do
  testgrep "^-rwxr-xr-x $path\$" "$T/contents"
done
for path in ./etc/aptship/aptship.toml ./lib/systemd/system/aptship.service \
  ./lib/systemd/system/aptship-refresh.service ./lib/systemd/system/aptship-refresh.timer \
  ./usr/share/doc/aptship/examples/nginx-aptship.conf ./usr/share/doc/aptship/examples/fleet.toml \
  ./usr/share/doc/aptship/examples/aptship-client.sources ./usr/share/doc/aptship/examples/sshd-aptship.conf \
  ./usr/share/man/man1/aptship.1.gz; do
  testgrep "^-rw-r--r-- $path\$" "$T/contents"
done
testequal "/etc/aptship/aptship.toml" sh -c "dpkg-deb --ctrl-tarfile '$DEB' | tar -xOf - ./conffiles"

# ---------------------------------------------------------------- install
msg "apt-get install ./aptship_${VERSION}_${ARCH}.deb into a clean root"
SERVER=$(debroot_new server)
must "apt-get update in the server root" "$T/server-update.log" debroot_apt "$SERVER" update
cp "$DEB" "$SERVER/tmp/"
must "apt-get install /tmp/$(basename "$DEB")" "$T/install-1.log" \
  debroot_apt "$SERVER" install "/tmp/$(basename "$DEB")"
testcontains "aptship: the repository's public key" "$T/install-1.log"
# The key's generation started a gpg-agent, which must not outlive it.
testequal "" processes_in "$SERVER"
testequal "install ok installed $VERSION" in_server dpkg-query -W -f='${Status} ${Version}' aptship
testequal "install ok installed" in_server dpkg-query -W -f='${Status}' openssh-server

msg "the aptship user and its data dir"
passwd_line=$(in_server getent passwd aptship)
info "$passwd_line"
testequal "/var/lib/aptship:/bin/sh" sh -c "echo '$passwd_line' | cut -d: -f6,7"
testtrue "aptship is a system user (uid below 1000)" test "$(echo "$passwd_line" | cut -d: -f3)" -lt 1000
testequal "*" sh -c "chroot '$SERVER' getent shadow aptship | cut -d: -f2"
testequal "aptship aptship 755" in_server stat -c '%U %G %a' "$DATA"
testequal "aptship aptship 700" in_server stat -c '%U %G %a' "$DATA/gnupg"
testequal "/etc/aptship/aptship.toml" readlink "$SERVER$DATA/aptship.toml"
testequal "root root 644" stat -c '%U %G %a' "$SERVER/etc/aptship/aptship.toml"
testgrep '^ /etc/aptship/aptship.toml [0-9a-f]{32}$' <(in_server dpkg-query -W -f='${Conffiles}\n' aptship)
FINGERPRINT=$(as_aptship aptship --data "$DATA" key fingerprint)
testtrue "a signing key was made: $FINGERPRINT" test "${#FINGERPRINT}" -eq 40
as_aptship aptship --data "$DATA" key export >"$T/aptship.gpg"

msg "the units: installed, enabled, valid for systemd"
for unit in aptship.service aptship-refresh.service aptship-refresh.timer; do
  testfile "$SERVER$UNITS/$unit"
done
testequal "$UNITS/aptship.service" readlink "$SERVER/etc/systemd/system/multi-user.target.wants/aptship.service"
testequal "$UNITS/aptship-refresh.timer" readlink "$SERVER/etc/systemd/system/timers.target.wants/aptship-refresh.timer"
testequal "/usr/bin/aptship --data /var/lib/aptship serve" unit_value aptship.service ExecStart
testequal "aptship" unit_value aptship.service User
testequal "strict" unit_value aptship.service ProtectSystem
testequal "/var/lib/aptship" unit_value aptship.service ReadWritePaths
testequal "yes" unit_value aptship.service NoNewPrivileges
testequal "yes" unit_value aptship.service PrivateTmp
testequal "/usr/bin/aptship --data /var/lib/aptship repo publish" unit_value aptship-refresh.service ExecStart
testequal "aptship" unit_value aptship-refresh.service User
testequal "daily" sed -n 's/^OnCalendar=//p' "$SERVER$UNITS/aptship-refresh.timer"

# ---------------------------------------------------------------- serve
msg "aptship.service's command serves the repository"
PORT=$(free_port)
# An administrator's edit of the conffile, which every upgrade must keep.
sed -i "s/^listen = .*/listen = \"127.0.0.1:$PORT\"/" "$SERVER/etc/aptship/aptship.toml"
mkdir -p "$T/greeting/DEBIAN" "$T/greeting/usr/share/greeting"
printf 'Package: greeting\nVersion: 1.0\nArchitecture: all\nMaintainer: tests <tests@example.org>\nDescription: a package to publish\n' \
  >"$T/greeting/DEBIAN/control"
echo hello >"$T/greeting/usr/share/greeting/hello"
dpkg-deb --root-owner-group -b "$T/greeting" "$SERVER/tmp/greeting_1.0_all.deb" >/dev/null
testsuccess as_aptship aptship --data "$DATA" repo add --suite stable /tmp/greeting_1.0_all.deb
start_serve
testsuccess curl -fsS -o "$T/InRelease" "http://127.0.0.1:$PORT/dists/stable/InRelease"
testsuccess gpgv --keyring "$T/aptship.gpg" "$T/InRelease"
testtrue "a static web server running as another user can read the published tree" \
  in_server setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$DATA/public/dists/stable/InRelease"

msg "the timer's command re-signs the repository"
date_before=$(served_field stable Date)
valid_before=$(served_field stable Valid-Until)
testsuccess run_unit aptship-refresh.service ExecStart
date_after=$(served_field stable Date)
info "Date: $date_before -> $date_after; Valid-Until: $valid_before -> $(served_field stable Valid-Until)"
testtrue "InRelease has a later Date" test "$(date -d "$date_after" +%s)" -gt "$(date -d "$date_before" +%s)"
testtrue "and a later Valid-Until" \
  test "$(date -d "$(served_field stable Valid-Until)" +%s)" -gt "$(date -d "$valid_before" +%s)"
curl -fsS -o "$T/InRelease" "http://127.0.0.1:$PORT/dists/stable/InRelease"
testsuccess gpgv --keyring "$T/aptship.gpg" "$T/InRelease"

# ---------------------------------------------------------------- push
msg "a push over ssh to the root's sshd builds and publishes"
SSH_PORT=$(free_port)
printf 'Port %s\nListenAddress 127.0.0.1\n' "$SSH_PORT" >"$SERVER/etc/ssh/sshd_config.d/test-port.conf"
cp "$SERVER/usr/share/doc/aptship/examples/sshd-aptship.conf" "$SERVER/etc/ssh/sshd_config.d/aptship.conf"
install -d -m 0755 "$SERVER/run/sshd"
testsuccess in_server /usr/sbin/sshd -t
chroot "$SERVER" /usr/sbin/sshd -D -e >>"$T/sshd.log" 2>&1 &
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null && break
  sleep 0.1
done

ssh-keygen -q -t ed25519 -N '' -C alice -f "$T/alice"
cp "$T/alice.pub" "$SERVER/tmp/alice.pub"
testsuccess as_aptship aptship --data "$DATA" keys add alice /tmp/alice.pub --admin
testequal "aptship aptship 700" in_server stat -c '%U %G %a' "$DATA/.ssh"
testequal "aptship aptship 600" in_server stat -c '%U %G %a' "$DATA/.ssh/authorized_keys"
testcontains 'command="/usr/bin/aptship --data /var/lib/aptship receive --key alice"' \
  "$SERVER$DATA/.ssh/authorized_keys"
testfailuremsg "this key may only push with git" ssh_to_server id

# Not "hello": Debian has a package of that name, and a higher version.
APP=hello-app
cp -r "$APTSHIP_SOURCE_DIR/tests/apps/procfile" "$T/app"
git init -q -b main "$T/app"
git -C "$T/app" add -A
git -C "$T/app" commit -q -m "first"
testsuccess push "$T/app" "ssh://aptship@127.0.0.1:$SSH_PORT/$APP.git" main
cp "$ERR" "$T/push-1.log"
testcontains "Install with: apt-get install $APP=" "$T/push-1.log"
APP_V1=$(sed -n "s/.*apt-get install $APP=\([^ ]*\).*/\1/p" "$T/push-1.log" | head -n 1)
info "pushed $APP $APP_V1"
testgrep "^$APP +${APP_V1//+/\\+}" <(as_aptship aptship --data "$DATA" repo list --suite staging)

msg "the app installs from the served repository into a second clean root"
CLIENT=$(debroot_new client)
sources=$(sed -e '/^#/d' -e "s|^URIs: .*|URIs: http://127.0.0.1:$PORT/|" \
  "$SERVER/usr/share/doc/aptship/examples/aptship-client.sources")
debroot_add_source "$CLIENT" aptship "$sources" "$T/aptship.gpg"
must "apt-get update in the client root" "$T/client-update-1.log" debroot_apt "$CLIENT" update
must "apt-get install $APP" "$T/client-install-1.log" debroot_apt "$CLIENT" install "$APP"
testequal "install ok installed $APP_V1" debroot_exec "$CLIENT" dpkg-query -W -f='${Status} ${Version}' "$APP"
testfile "$CLIENT/opt/$APP/Procfile"

# ---------------------------------------------------------------- upgrade
msg "an upgrade to a newer build keeps the repository, the key and the configuration"
NEW_VERSION="$VERSION+e2e1"
{
  printf 'aptship (%s) unstable; urgency=medium\n\n  * A newer build, to test upgrades.\n\n' "$NEW_VERSION"
  printf ' -- tests <tests@example.org>  %s\n\n' "$(date -R)"
  cat "$SRC/debian/changelog"
} >"$T/changelog"
mv "$T/changelog" "$SRC/debian/changelog"
NEW_DEB="$T/build/aptship_${NEW_VERSION}_${ARCH}.deb"
must "dpkg-buildpackage -b of $NEW_VERSION" "$T/build-2.log" build_package "$SRC"
cp "$NEW_DEB" "$SERVER/tmp/"
cp "$SERVER/etc/aptship/aptship.toml" "$T/aptship.toml.edited"
cp "$SERVER$DATA/.ssh/authorized_keys" "$T/authorized_keys.before"
as_aptship aptship --data "$DATA" repo list >"$T/repo-list.before"
# As on a real upgrade, the old server runs on until the new package restarts it.
must "apt-get install /tmp/$(basename "$NEW_DEB")" "$T/install-2.log" \
  debroot_apt "$SERVER" install "/tmp/$(basename "$NEW_DEB")"
stop_serve
start_serve
testequal "install ok installed $NEW_VERSION" in_server dpkg-query -W -f='${Status} ${Version}' aptship
testequal "$FINGERPRINT" as_aptship aptship --data "$DATA" key fingerprint
testdiff "the configuration edit is kept" "$T/aptship.toml.edited" "$SERVER/etc/aptship/aptship.toml"
testnofile "$SERVER/etc/aptship/aptship.toml.dpkg-dist"
testdiff "the push keys are kept" "$T/authorized_keys.before" "$SERVER$DATA/.ssh/authorized_keys"
testdiff "the repository is kept" "$T/repo-list.before" <(as_aptship aptship --data "$DATA" repo list)
testsuccess curl -fsS -o "$T/InRelease.upgraded" "http://127.0.0.1:$PORT/dists/stable/InRelease"
testfilesame "$T/InRelease" "$T/InRelease.upgraded"

msg "after the upgrade, a push builds the next version and the client upgrades to it"
echo "# second" >>"$T/app/Procfile"
git -C "$T/app" commit -q -am "second"
testsuccess push "$T/app" "ssh://aptship@127.0.0.1:$SSH_PORT/$APP.git" main
cp "$ERR" "$T/push-2.log"
APP_V2=$(sed -n "s/.*apt-get install $APP=\([^ ]*\).*/\1/p" "$T/push-2.log" | head -n 1)
info "pushed $APP $APP_V2"
testtrue "$APP_V2 > $APP_V1" dpkg --compare-versions "$APP_V2" gt "$APP_V1"

msg "nginx with the example site serves the tree; the client upgrades through it"
must "apt-get install nginx in the server root" "$T/install-nginx.log" \
  debroot_apt "$SERVER" install --no-install-recommends nginx
NGINX_PORT=$(free_port)
rm -f "$SERVER/etc/nginx/sites-enabled/default"
sed -e "s/^\( *\)listen 80;/\1listen 127.0.0.1:$NGINX_PORT;/" -e '/listen \[::\]:80;/d' \
  -e "s|http://127.0.0.1:8080|http://127.0.0.1:$PORT|" \
  "$SERVER/usr/share/doc/aptship/examples/nginx-aptship.conf" >"$SERVER/etc/nginx/sites-enabled/aptship"
testsuccess in_server nginx -t
testsuccess in_server nginx
testsuccess curl -fsS -o "$T/InRelease.nginx" "http://127.0.0.1:$NGINX_PORT/dists/stable/InRelease"
testsuccess gpgv --keyring "$T/aptship.gpg" "$T/InRelease.nginx"
testequal 404 curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/.gen/"
testsuccess curl -fsS -o "$T/nginx.sources" "http://127.0.0.1:$NGINX_PORT/aptship.sources"
testcontains "URIs: http://127.0.0.1:$NGINX_PORT/" "$T/nginx.sources"
sed -i "s|^URIs: .*|URIs: http://127.0.0.1:$NGINX_PORT/|" "$CLIENT/etc/apt/sources.list.d/aptship.sources"
must "apt-get update in the client root" "$T/client-update-2.log" debroot_apt "$CLIENT" update
must "apt-get install $APP (upgrade)" "$T/client-install-2.log" debroot_apt "$CLIENT" install "$APP"
testequal "install ok installed $APP_V2" debroot_exec "$CLIENT" dpkg-query -W -f='${Status} ${Version}' "$APP"

msg "the units are valid for systemd (systemd-analyze verify in the root)"
must "apt-get install systemd in the server root" "$T/install-systemd.log" \
  debroot_apt "$SERVER" install --no-install-recommends systemd
testsuccess in_server systemd-analyze verify --man=no aptship.service aptship-refresh.service aptship-refresh.timer
testsuccess in_server systemd-analyze security --offline=true --threshold=30 "$UNITS/aptship.service"
info "$(grep -E 'Overall exposure' "$OUT")"

# ---------------------------------------------------------------- remove, purge
msg "remove keeps the data and the configuration; purge removes the configuration only"
stop_serve
in_server nginx -s stop >/dev/null 2>&1 || true
kill "$(cat "$SERVER/run/sshd.pid")" 2>/dev/null || true
must "apt-get remove aptship" "$T/remove.log" debroot_apt "$SERVER" remove aptship
testnofile "$SERVER/usr/bin/aptship"
testfile "$SERVER/etc/aptship/aptship.toml"
testfile "$SERVER$DATA/gnupg"
must "apt-get purge aptship" "$T/purge.log" debroot_apt "$SERVER" purge aptship
testnofile "$SERVER/etc/aptship"
testnofile "$SERVER/etc/systemd/system/multi-user.target.wants/aptship.service"
testcontains "rm -rf /var/lib/aptship" "$T/purge.log"
testfile "$SERVER$DATA/gnupg"
testfile "$SERVER$DATA/public/dists/staging/InRelease"
testtrue "the aptship user stays" in_server getent passwd aptship
must "apt-get install /tmp/$(basename "$NEW_DEB") after the purge" "$T/install-3.log" \
  debroot_apt "$SERVER" install "/tmp/$(basename "$NEW_DEB")"
testequal "$FINGERPRINT" as_aptship aptship --data "$DATA" key fingerprint
testequal 'listen = "127.0.0.1:8080"' grep '^listen = ' "$SERVER/etc/aptship/aptship.toml"
testgrep "^$APP +${APP_V2//+/\\+}" <(as_aptship aptship --data "$DATA" repo list --suite staging)

info "suite duration: $((SECONDS - SUITE_START)) s"
finish
