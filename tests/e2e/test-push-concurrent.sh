#!/bin/bash
# Pushes at the same time, through the real pre-receive hook: two apps
# pushed at once both end published; two pushes of one app at once (its two
# deploy branches, main and master, both bound to suite staging) end as two
# published builds with increasing numbers and versions, the second having
# waited for the first.
#
# Each case runs twice: once as it comes (the pushes race freely), and once
# with the lock the pushes must wait for held by the suite until both are
# seen waiting, so that the overlap is certain without relying on timing:
# the repository lock for two apps (both builds ran side by side and both
# wait to publish), the app's build lock for one app (both builds queue).
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2317 # functions run through the test helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/repo.sh
. "$APTSHIP_SOURCE_DIR/tests/lib/repo.sh"

require_cmd git flock dpkg "$PYTHON"
require_aptship

# git reads neither the user's nor the system's configuration.
mkdir -p "$T/home"
export HOME="$T/home" GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=tests GIT_AUTHOR_EMAIL=tests@example.org
export GIT_COMMITTER_NAME=tests GIT_COMMITTER_EMAIL=tests@example.org

DATA="$T/data"
APPS_DIR="$APTSHIP_SOURCE_DIR/tests/apps"
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

# new_work DIR EXAMPLE: a work tree on branch main holding tests/apps/EXAMPLE,
# one commit.
new_work() {
  cp -a "$APPS_DIR/$2" "$1"
  git init -q -b main "$1"
  git -C "$1" add -A
  git -C "$1" commit -q -m "$2 example"
}

# new_commit DIR TEXT: a commit in DIR that changes a file.
new_commit() {
  printf '%s\n' "$2" >"$1/change.txt"
  git -C "$1" add -A
  git -C "$1" commit -q -m "$2"
}

# push_bg NAME DIR REFSPEC APP: `git push` of REFSPEC from DIR to APP's
# repository in the background, its output in $T/NAME.out and .err; sets
# PUSH_PID. A push runs in a plain environment: the hook finds aptship alone.
push_bg() {
  local name=$1 dir=$2 refspec=$3 app=$4
  env -i PATH=/usr/bin:/bin HOME="$HOME" GIT_CONFIG_NOSYSTEM=1 \
    git -C "$dir" push "$DATA/git/$app.git" "$refspec" >"$T/$name.out" 2>"$T/$name.err" &
  PUSH_PID=$!
  track_pid "$PUSH_PID"
}

# testpushed NAME PID: the background push NAME exits 0.
testpushed() {
  local rc=0
  wait_pid "$2" || rc=$?
  if [ "$rc" -eq 0 ]; then
    _pass "push $1 succeeded"
  else
    _fail "push $1 succeeded" "it exited $rc"
    _show stderr "$T/$1.err"
  fi
}

# install_version NAME APP: the version of the install line push NAME printed.
install_version() {
  sed -n "s/^remote:        Install with: apt-get install $2=\([^ ]*\).*/\1/p" "$T/$1.err" | head -n 1
}

# build_number NAME: the build number push NAME printed.
build_number() {
  sed -n 's/^remote: -----> Building [^ ]* (build #\([0-9]*\),.*/\1/p' "$T/$1.err" | head -n 1
}

# published_versions APP: the versions suite staging lists for APP, in
# Debian order (checked with dpkg below), one a line.
published_versions() {
  "$APTSHIP" --data "$DATA" repo list --suite staging --json |
    "$PYTHON" -c 'import json, sys
for p in json.load(sys.stdin):
    if p["name"] == sys.argv[1]:
        print(p["version"])' "$1" | sort -V
}

# records APP: "NUMBER RESULT VERSION" for each build record of APP.
records() {
  "$PYTHON" -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["number"], r["result"], r["version"])' "$DATA/builds/$1/builds.jsonl"
}

# hold_lock FILE: takes the flock FILE in the background, writes our pid
# into it as aptship's holders do, and keeps it until release_lock.
hold_lock() {
  local file=$1 _i
  rm -f "$T/held" "$T/release"
  mkdir -p "$(dirname "$file")"
  (
    exec 8<>"$file"
    flock 8
    printf '%s\n' "$BASHPID" >&8
    : >"$T/held"
    while [ ! -e "$T/release" ]; do sleep 0.05; done
  ) &
  HOLDER_PID=$!
  track_pid "$HOLDER_PID"
  for _i in $(seq 1 600); do
    [ ! -e "$T/held" ] || return 0
    sleep 0.05
  done
  _fail "the suite holds $file" "its holder never got the lock"
  return 1
}

# release_lock: ends the holder of hold_lock.
release_lock() {
  : >"$T/release"
  wait_pid "$HOLDER_PID" || true
}

# wait_for_text TEXT FILE...: waits (a minute at most) until each FILE
# contains TEXT; counts as a check.
wait_for_text() {
  local text=$1 _i f missing
  shift
  for _i in $(seq 1 1200); do
    missing=0
    for f in "$@"; do
      grep -qF -- "$text" "$f" 2>/dev/null || missing=1
    done
    if [ "$missing" = 0 ]; then
      _pass "'$text' shows in $*"
      return 0
    fi
    sleep 0.05
  done
  _fail "'$text' shows in $*" "not within a minute"
  for f in "$@"; do _show "$f" "$f"; done
  return 1
}

# two_apps ROUND: pushes a new commit of apps one and two at once; both
# end published with the version their push printed.
two_apps() {
  local round=$1 a b
  new_commit "$T/one" "round $round"
  new_commit "$T/two" "round $round"
  push_bg "one-$round" "$T/one" main one
  a=$PUSH_PID
  push_bg "two-$round" "$T/two" main two
  b=$PUSH_PID
  if [ "${HOLD:-}" = repo ]; then
    # Both builds ran while the other was running: both reached the
    # repository lock the suite holds.
    wait_for_text "waiting for the repository lock (held by pid $HOLDER_PID)" \
      "$T/one-$round.err" "$T/two-$round.err"
    release_lock
  fi
  testpushed "one-$round" "$a"
  testpushed "two-$round" "$b"
  local app name version
  for app in one two; do
    name=$app-$round
    testcontains "remote: -----> Published to suite staging" "$T/$name.err"
    version=$(install_version "$name" "$app")
    testtrue "push $name printed an install line" test -n "$version"
    testequal "$(git -C "$T/$app" rev-parse HEAD)" server_rev "$app" main
    testtrue "suite staging lists $app $version" grep -qxF -- "$version" <(published_versions "$app")
  done
}

# one_app ROUND: pushes two different commits of app same at once, one to
# main and one to master; both end published, as two builds whose numbers
# and versions increase in the order they ran.
one_app() {
  local round=$1 a b
  new_commit "$T/same-main" "main, round $round"
  new_commit "$T/same-master" "master, round $round"
  local before
  before=$(published_versions same | wc -l)
  push_bg "main-$round" "$T/same-main" main same
  a=$PUSH_PID
  push_bg "master-$round" "$T/same-master" master same
  b=$PUSH_PID
  if [ "${HOLD:-}" = build ]; then
    wait_for_text "-----> Waiting for the running build of same (pid $HOLDER_PID)" \
      "$T/main-$round.err" "$T/master-$round.err"
    release_lock
  fi
  testpushed "main-$round" "$a"
  testpushed "master-$round" "$b"
  testequal "$(git -C "$T/same-main" rev-parse HEAD)" server_rev same main
  testequal "$(git -C "$T/same-master" rev-parse HEAD)" server_rev same master

  local n_main n_master v_main v_master first second
  n_main=$(build_number "main-$round")
  n_master=$(build_number "master-$round")
  v_main=$(install_version "main-$round" same)
  v_master=$(install_version "master-$round" same)
  testtrue "the two builds have different numbers ($n_main, $n_master)" \
    test -n "$n_main" -a -n "$n_master" -a "$n_main" != "$n_master"
  # Whichever got the build lock first has the lower number and version.
  if [ "${n_main:-0}" -lt "${n_master:-0}" ]; then
    first=$v_main second=$v_master
  else
    first=$v_master second=$v_main
  fi
  info "build #$n_main (main) -> $v_main; build #$n_master (master) -> $v_master"
  testtrue "the later build's version $second is greater than $first" \
    dpkg --compare-versions "$second" gt "$first"
  # Only certain when the suite held the lock; else a matter of timing.
  local waited
  waited=$(grep -lF -- "-----> Waiting for the running build of same" \
    "$T/main-$round.err" "$T/master-$round.err" | xargs -r -n 1 basename | paste -sd' ')
  info "pushes that waited for a running build: ${waited:-none}"
  # Both versions stay in the suite, side by side.
  published_versions same >"$T/same-$round.versions"
  testequal $((before + 2)) sh -c "wc -l <'$T/same-$round.versions'"
  testequal "$first
$second" sh -c "tail -n 2 '$T/same-$round.versions'"
  # The build records: two more builds, published, numbers and versions
  # increasing together.
  records same >"$T/same-$round.records"
  testequal "$n_main published $v_main" grep -E "^$n_main " "$T/same-$round.records"
  testequal "$n_master published $v_master" grep -E "^$n_master " "$T/same-$round.records"
}

# ---------------------------------------------------------------------------
msg "a data dir and three apps"
aptship_init "$DATA"
for app in one two same; do
  testsuccess aptship --data "$DATA" apps create "$app"
done
new_work "$T/one" procfile
new_work "$T/two" static
new_work "$T/same-main" procfile
git clone -q "$T/same-main" "$T/same-master"
git -C "$T/same-master" checkout -q -b master

msg "two apps pushed at once, racing freely"
two_apps 1

msg "two apps pushed at once, both builds waiting to publish"
hold_lock "$DATA/lock"
HOLD=repo two_apps 2

msg "one app pushed twice at once (main and master), racing freely"
one_app 1

msg "one app pushed twice at once, both pushes queued behind a build"
hold_lock "$DATA/builds/same/lock"
HOLD=build one_app 2

msg "every build is recorded, in order, all published"
for app in one two same; do
  records "$app" >"$T/$app.records"
  # Every record says published.
  testequal "$(wc -l <"$T/$app.records")" grep -c '^[0-9]* published ' "$T/$app.records"
  testtrue "$app: build numbers are 1..N in the order of the records" \
    sh -c "cut -d' ' -f1 '$T/$app.records' | paste -sd' ' | grep -qx \"\$(seq -s' ' 1 \$(wc -l <'$T/$app.records'))\""
  testtrue "$app: versions increase with the build numbers" sh -c "
    prev=''
    while read -r n r v; do
      if [ -n \"\$prev\" ]; then dpkg --compare-versions \"\$v\" gt \"\$prev\" || exit 1; fi
      prev=\$v
    done <'$T/$app.records'"
done
testequal "2
2
4" sh -c "for a in one two same; do wc -l <'$DATA/builds/'\$a/builds.jsonl; done"

finish
