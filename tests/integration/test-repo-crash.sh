#!/bin/bash
# kill -9 at random moments of `aptship repo add` and `repo publish`, with
# the server running throughout: after each kill the real apt-get updates
# from the served tree without an error, and the next `repo add` succeeds
# without any manual step. At the end every package whose add exited 0 is
# listed, indexed and downloadable with its own bytes, and a package whose
# add was killed can be added again.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016,SC2317,SC2119 # single-quoted programs; functions run via helpers; optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/repo.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/repo.sh"

require_cmd apt-get dpkg-deb curl "$PYTHON"
require_aptship

DATA="$T/data"
KEYRING="$T/aptship.gpg"
ROUNDS=${APTSHIP_CRASH_ROUNDS:-25}

msg "repository"
# by_hash_keep = 1: old generations are deleted at every publish, so
# that kills also land in the cleanup.
repo_init "$DATA" '[suites.stable]
architectures = ["amd64", "arm64"]
compressions = ["gz", "xz"]
by_hash_keep = 1'
make_deb base 1.0 all
make_deb base 2.0 all
testsuccess aptship --data "$DATA" repo add "$(deb_file base 1.0 all)"
# Kill delays span a whole operation on this machine (at least 0-300 ms),
# so that some kills land late and some operations finish.
started=$(date +%s%N)
testsuccess aptship --data "$DATA" repo add "$(deb_file base 2.0 all)"
MAX_DELAY_MS=$((($(date +%s%N) - started) * 2 / 1000000))
[ "$MAX_DELAY_MS" -ge 300 ] || MAX_DELAY_MS=300
info "kill delays: 0 to $MAX_DELAY_MS ms"
testsuccess aptship --data "$DATA" key export -o "$KEYRING"
for i in $(seq 1 "$ROUNDS"); do
  make_deb "killed$i" 1.0 all
  make_deb "after$i" 1.0 amd64
done
start_server "$DATA"
apt_isolated "$T/apt" "$KEYRING" "$SERVER_URL" stable
testaptupdate

# Packages whose add exited 0, and those killed (or failed) midway.
ADDED=()
KILLED=()

msg "$ROUNDS rounds of kill -9"
for i in $(seq 1 "$ROUNDS"); do
  if [ $((i % 2)) -eq 1 ]; then
    op=(repo add "$(deb_file "killed$i" 1.0 all)")
  else
    op=(repo publish)
  fi
  ms=$((RANDOM % MAX_DELAY_MS))
  delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
  "$APTSHIP" --data "$DATA" "${op[@]}" >"$T/op-$i.out" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  rc=0
  wait "$pid" || rc=$?
  info "round $i: ${op[*]##*/} killed after ${delay}s, exit $rc"
  if [ "${op[1]}" = add ]; then
    if [ "$rc" -eq 0 ]; then ADDED+=("killed$i"); else KILLED+=("killed$i"); fi
  fi
  # The tree as served right after the kill.
  testaptupdate
  # The next operation recovers on its own.
  testsuccess aptship --data "$DATA" repo add "$(deb_file "after$i" 1.0 amd64)"
  ADDED+=("after$i")
  testaptupdate
done

msg "the packages of the adds that exited 0"
aptship --data "$DATA" repo list --suite stable >"$T/list"
PACKAGES=$(packages_file "$DATA" stable amd64)
testequal "1.0
2.0" packages_versions "$PACKAGES" base
for name in "${ADDED[@]}"; do
  testgrep "^$name +1\.0 " "$T/list"
  testequal 1.0 packages_versions "$PACKAGES" "$name"
done
# Downloaded through apt, byte for byte (one call for all of them), by a
# new client (see test-repo-apt's "two publishes within one second").
apt_isolated "$T/apt-final" "$KEYRING" "$SERVER_URL" stable
testaptupdate
specs=()
for name in "${ADDED[@]}"; do specs+=("$name=1.0"); done
testsuccess apt_download "$T/dl" "${specs[@]}"
for name in "${ADDED[@]}"; do
  case $name in after*) arch=amd64 ;; *) arch=all ;; esac
  testfilesame "$(deb_file "$name" 1.0 $arch)" "$T/dl/${name}_1.0_$arch.deb"
done

msg "a package whose add was killed can be added again"
info "${#KILLED[@]} adds killed: ${KILLED[*]:-none}"
for name in "${KILLED[@]}"; do
  testsuccess aptship --data "$DATA" repo add "$(deb_file "$name" 1.0 all)"
done
apt_isolated "$T/apt-readded" "$KEYRING" "$SERVER_URL" stable
testaptupdate
aptship --data "$DATA" repo list --suite stable >"$T/list"
for name in "${KILLED[@]}"; do
  testgrep "^$name +1\.0 " "$T/list"
  testsuccess apt_download "$T/dl2" "$name=1.0"
  testfilesame "$(deb_file "$name" 1.0 all)" "$T/dl2/${name}_1.0_all.deb"
done

msg "no leftovers"
testsuccess aptship --data "$DATA" repo publish
testtrue "no staging files left in public/.incoming" \
  test -z "$(find "$DATA/public/.incoming" -type f 2>/dev/null)"
testtrue "no temporary dists links left" \
  test -z "$(find "$DATA/public/dists" -mindepth 1 -maxdepth 1 ! -name stable)"
testsuccess aptship --data "$DATA" repo gc
testaptupdate

finish
