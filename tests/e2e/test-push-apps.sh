#!/bin/bash
# git push to a running apt repository, end to end, for every example app
# (tests/apps/*, one per built-in buildpack): each app is pushed over a real
# sshd with a key aptship wrote, the push prints the Heroku-style build and
# the exact `apt-get install APP=VERSION` line, and `aptship serve` serves
# the published suite. In a clean Debian root (tests/lib/debroot.sh), the
# stock apt-get trusts the repository by signed-by alone, updates without a
# warning and installs each app with its runtime dependencies from the
# Debian mirror; the maintainer scripts made the app's user, state
# directory and env file; the web process, started the way its unit starts
# it (`APP run web`, PORT and GREETING set with `APP config:set`), answers
# HTTP. A second push of each app upgrades it: the new version installs
# without a conffile prompt, the admin's edit of /etc/APP/env survives and
# the app answers again. lintian finds no error in any of the packages but
# the zstd `malformed-deb-archive` tag; its warnings and notes are shown.
# A key not allowed for an app cannot push to it.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2317 # functions run through the test helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/repo.sh
. "$APTSHIP_SOURCE_DIR/tests/lib/repo.sh"
# shellcheck source=../lib/sshd.sh
. "$APTSHIP_SOURCE_DIR/tests/lib/sshd.sh"
# shellcheck source=../lib/debroot.sh
. "$APTSHIP_SOURCE_DIR/tests/lib/debroot.sh"

require_cmd git ssh-keygen curl lintian dpkg "$PYTHON"
require_aptship
sshd_require
debroot_require

# git reads neither the user's nor the system's configuration.
mkdir -p "$T/home"
export HOME="$T/home" GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=tests GIT_AUTHOR_EMAIL=tests@example.org
export GIT_COMMITTER_NAME=tests GIT_COMMITTER_EMAIL=tests@example.org

DATA="$T/data"
APPS_DIR="$APTSHIP_SOURCE_DIR/tests/apps"
# One app per built-in buildpack, each named after it.
BUILDPACKS=(nodejs python cmake static procfile)
# Builds run as an unprivileged user when root runs them: it must reach the
# data dir's cache below $T.
chmod 0711 "$T"

# testcontains TEXT FILE: FILE contains the fixed string TEXT.
testcontains() {
  if grep -qF -- "$1" "$2"; then
    _pass "$2 contains '$1'"
  else
    _fail "$2 contains '$1'" "it does not"
    _show "$2" "$2"
  fi
}

# server_rev APP REF: what REF is in APP's repository (empty if missing).
server_rev() { git --git-dir "$DATA/git/$1.git" rev-parse -q --verify "$2" 2>/dev/null || true; }

# ere VERSION: VERSION quoted for an extended regex ('+' and '.' are literal).
ere() { printf '%s' "$1" | sed 's/[][\\.*^$+?(){}|/]/\\&/g'; }

# testheroku FILE: every line from the server in FILE (a push's stderr) is
# a "-----> " heading, a detail indented by 7 spaces or a " !     " problem.
testheroku() {
  if sed -n 's/^remote: //p' "$1" | grep -qvE '^(-----> |       | !     )'; then
    _fail "$1: the server's lines are Heroku-style" "these lines are not:"
    sed -n 's/^remote: //p' "$1" | grep -vE '^(-----> |       | !     )' | head -n 10 |
      sed 's/^/        | /'
  else
    _pass "$1: the server's lines are Heroku-style"
  fi
}

# elapsed START: seconds since START (a `date +%s%N`), one decimal.
elapsed() { awk -v s="$1" -v e="$(date +%s%N)" 'BEGIN { printf "%.1f", (e - s) / 1e9 }'; }

# in_root CMD...: CMD inside the test root.
in_root() { debroot_exec "$ROOT" "$@"; }

# ---------------------------------------------------------------------------
# push_app BP ROUND: commits round ROUND of tests/apps/BP in its work tree
# and pushes it over ssh to hello-BP; checks the output and sets
# VERSION_OF[BP] to the version of the install line.
declare -A VERSION_OF=() FIRST_VERSION_OF=()
push_app() {
  local bp=$1 round=$2 app=hello-$1 work=$T/work/$1 start
  if [ "$round" = 1 ]; then
    mkdir -p "$T/work"
    cp -a "$APPS_DIR/$bp" "$work"
    git init -q -b main "$work"
  fi
  # A file of each round, shipped in /opt/APP: proof of which build is installed.
  printf 'round %s of %s\n' "$round" "$app" >"$work/round.txt"
  git -C "$work" add -A
  git -C "$work" commit -q -m "round $round"
  local commit
  commit=$(git -C "$work" rev-parse HEAD)
  start=$(date +%s%N)
  testsuccess sshd_git "$T/admin" -C "$work" push "$(sshd_url "$app")" main
  info "push of $app round $round took $(elapsed "$start") s"
  local out="$T/push-$bp-$round.err"
  cp "$ERR" "$out"
  testcontains "remote: -----> Building $app (build #" "$out"
  testcontains "commit ${commit:0:7}) for suite staging" "$out"
  testcontains "remote: -----> $bp app detected" "$out"
  testcontains "remote: -----> Published to suite staging" "$out"
  testgrep "^remote: -----> Packaged $app [^ ]+ \((all|amd64)\), [0-9]+ KiB installed, signed" "$out"
  testheroku "$out"
  local version
  version=$(sed -n "s/^remote:        Install with: apt-get install $app=\([^ ]*\).*/\1/p" "$out" | head -n 1)
  testtrue "the push of $app round $round prints the install line" test -n "$version"
  testequal "$commit" server_rev "$app" main
  testtrue "the version $version embeds commit ${commit:0:7}" test "${version%.g"${commit:0:7}"}" != "$version"
  VERSION_OF[$bp]=$version
  [ "$round" != 1 ] || FIRST_VERSION_OF[$bp]=$version
}

# published_versions APP: the versions suite staging lists for APP, one a line.
published_versions() {
  "$APTSHIP" --data "$DATA" repo list --suite staging --json |
    "$PYTHON" -c 'import json, sys
for p in json.load(sys.stdin):
    if p["name"] == sys.argv[1]:
        print(p["version"])' "$1" | sort -V
}

# start_web BP: starts hello-BP's web process in the root as its unit
# would (`hello-BP run web`, as root, which drops to the app's user), and
# waits until it answers; sets WEB_PID (a process group of its own, as the
# unit's cgroup would be: the wrapper's shell may keep the server as a
# child) and WEB_URL.
start_web() {
  local bp=$1 app=hello-$1 _i
  local log="$T/web-$bp.log"
  WEB_URL="http://127.0.0.1:$(in_root "$app" config:get PORT)"
  printf -- '--- %s run web\n' "$app" >>"$log"
  setsid chroot "$ROOT" /usr/bin/env -i PATH="$_DEBROOT_PATH" LC_ALL=C.UTF-8 \
    /usr/bin/"$app" run web >>"$log" 2>&1 &
  WEB_PID=$!
  track_pid "$WEB_PID"
  for _i in $(seq 1 300); do
    [ "$(http_status "$WEB_URL/")" = 000 ] || break
    kill -0 "$WEB_PID" 2>/dev/null || break
    sleep 0.1
  done
  if curl --noproxy '*' -sf --max-time 10 -o "$T/body-$bp" "$WEB_URL/"; then
    _pass "$app: '$app run web' in the root answers GET / on $WEB_URL"
  else
    : >"$T/body-$bp"
    _fail "$app: '$app run web' in the root answers GET / on $WEB_URL" "it does not; its log:"
    _show log "$log"
  fi
}

# stop_web: stops the process group of the last start_web, as systemd
# stops a unit's cgroup, and waits until its port is free.
stop_web() {
  local _i
  kill -TERM -- "-$WEB_PID" 2>/dev/null || true
  for _i in $(seq 1 100); do
    kill -0 -- "-$WEB_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$WEB_PID" 2>/dev/null || true
  stop_pid "$WEB_PID"
  testequal 000 http_status "$WEB_URL/"
}

# check_installed BP VERSION ROUND: hello-BP is installed at VERSION, the
# build of push ROUND, and its maintainer scripts did their work.
check_installed() {
  local bp=$1 version=$2 app=hello-$1
  # shellcheck disable=SC2016 # a dpkg-query format
  testequal "install ok installed $version" in_root dpkg-query -W -f='${Status} ${Version}' "$app"
  testsuccess in_root getent passwd "$app"
  testequal "/usr/sbin/nologin" in_root sh -c "getent passwd '$app' | cut -d: -f7"
  testequal "$app:$app 750" in_root stat -c '%U:%G %a' "/var/lib/$app"
  testequal "$app:$app 750" in_root stat -c '%U:%G %a' "/var/log/$app"
  testequal "root:$app 640" in_root stat -c '%U:%G %a' "/etc/$app/env"
  testtrue "$app: the units are installed" test -f "$ROOT/lib/systemd/system/$app-web.service" -a \
    -f "$ROOT/lib/systemd/system/$app.target"
  testequal "round $3 of $app" cat "$ROOT/opt/$app/round.txt"
}

# check_body BP GREETING: the body of GET / names the buildpack, and the
# greeting for apps that show it (all but the static site).
check_body() {
  local bp=$1
  testgrep "hello from $bp" "$T/body-$bp"
  if [ "$bp" != static ]; then
    testgrep "^$2\$" "$T/body-$bp"
  fi
}

# ---------------------------------------------------------------------------
msg "a data dir, a real sshd with aptship's keys, aptship serve"
aptship_init "$DATA"
sshd_start
for k in admin dev; do
  ssh-keygen -q -t ed25519 -N '' -C "$k@tests" -f "$T/$k"
done
testsuccess aptship --data "$DATA" keys add admin "$T/admin.pub" --admin \
  --authorized-keys "$SSHD_AUTHORIZED_KEYS"
testsuccess aptship --data "$DATA" keys add dev "$T/dev.pub" --app hello-procfile
start_server "$DATA"
testsuccess aptship --data "$DATA" key export
cp "$OUT" "$T/aptship.gpg"

msg "a push of each example app over ssh"
SUITE_START=$(date +%s%N)
for bp in "${BUILDPACKS[@]}"; do
  push_app "$bp" 1
done
for bp in "${BUILDPACKS[@]}"; do
  testequal "${VERSION_OF[$bp]}" published_versions "hello-$bp"
done

msg "a key not allowed for the app is refused"
commit_before=$(server_rev hello-nodejs main)
printf 'never lands\n' >"$T/work/nodejs/refused.txt"
git -C "$T/work/nodejs" add -A
git -C "$T/work/nodejs" commit -q -m refused
testfailuremsg "key dev may not push to app hello-nodejs" \
  sshd_git "$T/dev" -C "$T/work/nodejs" push "$(sshd_url hello-nodejs)" main
testequal "$commit_before" server_rev hello-nodejs main
git -C "$T/work/nodejs" reset -q --hard HEAD~1

msg "a clean Debian root trusts the served repository by signed-by"
ROOT=$(debroot_new apps)
testsuccess debroot_add_source "$ROOT" aptship \
  "deb [signed-by=/etc/apt/keyrings/aptship.gpg] $SERVER_URL staging main" "$T/aptship.gpg"
start=$(date +%s%N)
testsuccess debroot_apt "$ROOT" -o Acquire::Check-Valid-Until=true update
cp "$OUT" "$T/update-1.out"
cp "$ERR" "$T/update-1.err"
info "apt-get update: $(elapsed "$start") s"
testnogrep '^(W|E|Err):' "$T/update-1.out"
testnogrep '^(W|E|Err):' "$T/update-1.err"
testgrep "^(Get|Hit):[0-9]+ $SERVER_URL staging InRelease" "$T/update-1.out"

msg "each app installs with the stock apt-get and answers on its port"
for bp in "${BUILDPACKS[@]}"; do
  app=hello-$bp
  start=$(date +%s%N)
  testsuccess debroot_apt "$ROOT" install "$app"
  info "apt-get install $app: $(elapsed "$start") s"
  cp "$OUT" "$T/install-$bp.out"
  testgrep "^Setting up $app \($(ere "${VERSION_OF[$bp]}")\)" "$T/install-$bp.out"
  check_installed "$bp" "${VERSION_OF[$bp]}" 1
  testsuccess in_root "$app" config:set "PORT=$(free_port)" "GREETING=greetings from $bp, first"
  testequal "greetings from $bp, first" in_root "$app" config:get GREETING
  start_web "$bp"
  check_body "$bp" "greetings from $bp, first"
  stop_web
done

msg "the admin edits each env file; a second push of each app"
for bp in "${BUILDPACKS[@]}"; do
  testsuccess in_root "hello-$bp" config:set "GREETING=edited on the host for $bp"
  cp "$ROOT/etc/hello-$bp/env" "$T/env-$bp.edited"
  push_app "$bp" 2
  testtrue "hello-$bp: the second version ${VERSION_OF[$bp]} is greater than ${FIRST_VERSION_OF[$bp]}" \
    dpkg --compare-versions "${VERSION_OF[$bp]}" gt "${FIRST_VERSION_OF[$bp]}"
  testequal "${FIRST_VERSION_OF[$bp]}
${VERSION_OF[$bp]}" published_versions "hello-$bp"
done

msg "the upgrade keeps the env edits and the apps answer again"
testsuccess debroot_apt "$ROOT" -o Acquire::Check-Valid-Until=true update
cp "$OUT" "$T/update-2.out"
cp "$ERR" "$T/update-2.err"
testnogrep '^(W|E|Err):' "$T/update-2.out"
testnogrep '^(W|E|Err):' "$T/update-2.err"
for bp in "${BUILDPACKS[@]}"; do
  app=hello-$bp
  # No --force-confold: the packaged env file did not change, so dpkg keeps
  # the edited one without asking (a prompt would fail on the closed stdin).
  testsuccess debroot_apt "$ROOT" install --only-upgrade "$app"
  cp "$OUT" "$T/upgrade-$bp.out"
  testgrep "^Unpacking $app \($(ere "${VERSION_OF[$bp]}")\) over \($(ere "${FIRST_VERSION_OF[$bp]}")\)" \
    "$T/upgrade-$bp.out"
  testnogrep "Configuration file|conffile" "$T/upgrade-$bp.out"
  check_installed "$bp" "${VERSION_OF[$bp]}" 2
  testfilesame "$T/env-$bp.edited" "$ROOT/etc/$app/env"
  testtrue "$app: no .dpkg-new, .dpkg-dist or .dpkg-old next to the env file" \
    sh -c "! ls '$ROOT/etc/$app/'env.dpkg-* 2>/dev/null | grep -q ."
  start_web "$bp"
  check_body "$bp" "edited on the host for $bp"
  stop_web
done
info "pushes, installs and upgrades of ${#BUILDPACKS[@]} apps: $(elapsed "$SUITE_START") s"

msg "lintian on every package of the pool"
mapfile -t DEBS < <(find "$DATA/public/pool" -name 'hello-*.deb' | LC_ALL=C sort)
testequal $((2 * ${#BUILDPACKS[@]})) echo "${#DEBS[@]}"
start=$(date +%s%N)
lintian --no-cfg --fail-on none --tag-display-limit 0 --display-info "${DEBS[@]}" \
  >"$T/lintian.out" 2>"$T/lintian.err" || true
info "lintian on ${#DEBS[@]} packages: $(elapsed "$start") s"
testtrue "lintian ran" grep -qE '^[EWIPNO]: hello-' "$T/lintian.out"
# Debian 12's lintian tags every zstd member: the one error accepted.
grep -vE '^E: [^ ]+ malformed-deb-archive .*member (control|data)\.tar\.zst not ' "$T/lintian.out" \
  >"$T/lintian.rest" || true
for bp in "${BUILDPACKS[@]}"; do
  testnogrep "^E: hello-$bp(:| )" "$T/lintian.rest"
done
if grep -qE '^[WIP]: ' "$T/lintian.rest"; then
  info "lintian's warnings and notes (not failures):"
  grep -E '^[WIP]: ' "$T/lintian.rest" | LC_ALL=C sort -u | sed 's/^/      /'
fi

finish
