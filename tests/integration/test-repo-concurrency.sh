#!/bin/bash
# Several `aptship repo add` at once: each exits 0 and every package is in
# `repo list`, in the published indexes and installable through the real
# apt-get. The repository lock (flock on DATA/lock): a waiting add says
# whom it waits for and succeeds once the lock is free; with
# APTSHIP_LOCK_TIMEOUT it gives up with a one-line message naming the lock,
# a non-zero exit and no change to the repository.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016,SC2317,SC2119 # single-quoted programs; functions run via helpers; optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/repo.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/repo.sh"

require_cmd apt-get dpkg-deb curl jq "$PYTHON"
require_aptship

DATA="$T/data"
KEYRING="$T/aptship.gpg"
PARALLEL=8

msg "repository"
repo_init "$DATA"
make_deb base 1.0 all
testsuccess aptship --data "$DATA" repo add "$(deb_file base 1.0 all)"
testsuccess aptship --data "$DATA" key export -o "$KEYRING"
for i in $(seq 1 "$PARALLEL"); do
  make_deb "par$i" 1.0 all
  make_deb "par$i" 2.0 amd64
done

msg "$PARALLEL parallel adds"
pids=()
for i in $(seq 1 "$PARALLEL"); do
  # Two files per add, one of them in its own suite for every other add:
  # the lock covers several suites too.
  if [ $((i % 2)) -eq 0 ]; then suite=stable; else suite=other; fi
  "$APTSHIP" --data "$DATA" repo add --suite "$suite" "$(deb_file "par$i" 1.0 all)" \
    "$(deb_file "par$i" 2.0 amd64)" >"$T/add-$i.out" 2>"$T/add-$i.err" &
  pids+=($!)
done
for i in $(seq 1 "$PARALLEL"); do
  rc=0
  wait "${pids[$((i - 1))]}" || rc=$?
  if [ "$rc" -eq 0 ]; then
    _pass "parallel add $i exited 0"
  else
    _fail "parallel add $i exited 0" "exit code $rc"
    _show stdout "$T/add-$i.out"
    _show stderr "$T/add-$i.err"
  fi
done
testsuccess aptship --data "$DATA" repo list
cp "$OUT" "$T/list"
for i in $(seq 1 "$PARALLEL"); do
  if [ $((i % 2)) -eq 0 ]; then suite=stable; else suite=other; fi
  testgrep "^par$i +1\.0 +all +$suite " "$T/list"
  testgrep "^par$i +2\.0 +amd64 +$suite " "$T/list"
  testequal "1.0
2.0" packages_versions "$(packages_file "$DATA" "$suite" amd64)" "par$i"
done
testgrep '^base +1\.0 +all +stable ' "$T/list"
testsuccess aptship --data "$DATA" repo list --json
cp "$OUT" "$T/list.json"
testequal $((2 * PARALLEL + 1)) jq length "$T/list.json"
testsuccess aptship --data "$DATA" repo list --suite other --json
cp "$OUT" "$T/list-other.json"
testequal "$(for i in $(seq 1 2 "$PARALLEL"); do echo "par$i"; done | LC_ALL=C sort -u)" \
  jq -r '[.[] | .name] | unique | .[]' "$T/list-other.json"

msg "every package through apt"
start_server "$DATA"
for suite in stable other; do
  apt_isolated "$T/apt-$suite" "$KEYRING" "$SERVER_URL" "$suite"
  testaptupdate
  for i in $(seq 1 "$PARALLEL"); do
    if [ $((i % 2)) -eq 0 ] && [ $suite = other ]; then continue; fi
    if [ $((i % 2)) -eq 1 ] && [ $suite = stable ]; then continue; fi
    testinstallsim "par$i" 2.0 "par$i"
    testinstallsim "par$i" 1.0 "par$i=1.0"
  done
done

msg "a held lock: the add waits, then succeeds"
make_deb waiter 1.0 all
make_deb timeout 1.0 all
# One process holds flock(2) on DATA/lock, as aptship does, until killed.
"$PYTHON" -c '
import fcntl, sys, time
lock = open(sys.argv[1], "a")
fcntl.flock(lock, fcntl.LOCK_EX)
open(sys.argv[2], "w").write("held\n")
time.sleep(600)
' "$DATA/lock" "$T/held" &
HOLDER=$!
track_pid "$HOLDER"
for _ in $(seq 1 300); do [ -s "$T/held" ] && break; sleep 0.1; done
testfile "$T/held"
"$APTSHIP" --data "$DATA" repo add "$(deb_file waiter 1.0 all)" >"$T/waiter.out" 2>"$T/waiter.err" &
WAITER=$!
track_pid "$WAITER"
for _ in $(seq 1 300); do grep -q 'lock' "$T/waiter.err" && break; sleep 0.1; done
testgrep 'waiting for the repository lock' "$T/waiter.err"
# Whom it names is the holder, or nobody: not the last aptship that held
# the lock and has exited since.
named=$(sed -n 's/.*held by pid \([0-9]*\).*/\1/p' "$T/waiter.err" | head -n 1)
if [ -z "$named" ] || [ "$named" = "$HOLDER" ]; then
  _pass "the waiting message names the holder or nobody ($(head -n 1 "$T/waiter.err"))"
else
  _fail "the waiting message names the holder or nobody" "it names pid $named; the holder is pid $HOLDER" \
    "$(ps -o pid=,args= -p "$named" || echo "pid $named is not running")"
fi

msg "a held lock: APTSHIP_LOCK_TIMEOUT=1 gives up"
aptship --data "$DATA" repo list >"$T/list-before"
SNAPSHOT_BEFORE=$(cd "$DATA/public" && find . -path ./.incoming -prune -o -printf '%p %l\n' | LC_ALL=C sort | md5sum)
rc=0
APTSHIP_LOCK_TIMEOUT=1 "$APTSHIP" --data "$DATA" repo add "$(deb_file timeout 1.0 all)" \
  >"$T/timeout.out" 2>"$T/timeout.err" || rc=$?
testtrue "the add exits non-zero (exit $rc)" test "$rc" -ne 0
grep -v '^aptship: waiting for the repository lock' "$T/timeout.err" >"$T/timeout.msg" || true
testequal 1 wc -l <"$T/timeout.msg"
testgrep '^aptship: error: .*lock' "$T/timeout.msg"
info "$(cat "$T/timeout.err")"
aptship --data "$DATA" repo list >"$T/list-after"
testdiff "repo list unchanged" "$T/list-before" "$T/list-after"
SNAPSHOT_AFTER=$(cd "$DATA/public" && find . -path ./.incoming -prune -o -printf '%p %l\n' | LC_ALL=C sort | md5sum)
testequal "$SNAPSHOT_BEFORE" echo "$SNAPSHOT_AFTER"
testnofile "$DATA/public/pool/main/t/timeout"

msg "the lock released"
stop_pid "$HOLDER"
rc=0
wait_pid "$WAITER" || rc=$?
testtrue "the waiting add exited 0 (exit $rc)" test "$rc" -eq 0
testgrep 'waiter' "$T/waiter.out"
testsuccess aptship --data "$DATA" repo add "$(deb_file timeout 1.0 all)"
apt_isolated "$T/apt-after-lock" "$KEYRING" "$SERVER_URL" stable
testaptupdate
testinstallsim waiter 1.0 waiter
testinstallsim timeout 1.0 timeout

msg "apt-get update while adds publish"
# by-hash keeps the indexes of the last generations: a client that read
# an InRelease just before a switch still gets the files it names.
for i in $(seq 1 10); do make_deb "live$i" 1.0 all; done
(
  for i in $(seq 1 10); do
    "$APTSHIP" --data "$DATA" repo add "$(deb_file "live$i" 1.0 all)" >/dev/null 2>&1 || exit 1
  done
) &
PUBLISHER=$!
track_pid "$PUBLISHER"
updates=0
failed=0
while kill -0 "$PUBLISHER" 2>/dev/null; do
  updates=$((updates + 1))
  APT_CONF="$T/apt-stable/apt.conf" apt_get update >"$T/live.out" 2>&1 || true
  if grep -qE '^(W|E|Err):' "$T/live.out"; then
    failed=$((failed + 1))
    cp "$T/live.out" "$T/live-failed-$failed.out"
  fi
done
rc=0
wait_pid "$PUBLISHER" || rc=$?
testtrue "10 adds while clients update (exit $rc)" test "$rc" -eq 0
info "$updates updates ran during the adds"
testtrue "every update during the adds succeeded ($failed of $updates failed)" test "$failed" -eq 0
[ "$failed" -eq 0 ] || _show "first failed update" "$T/live-failed-1.out"
apt_isolated "$T/apt-live" "$KEYRING" "$SERVER_URL" stable
testaptupdate
for i in $(seq 1 10); do testinstallsim "live$i" 1.0 "live$i"; done

msg "a bad APTSHIP_LOCK_TIMEOUT"
APTSHIP_LOCK_TIMEOUT=soon testfailuremsg 'APTSHIP_LOCK_TIMEOUT' \
  "$APTSHIP" --data "$DATA" repo publish

finish
