#!/bin/bash
# The clean Debian roots end-to-end suites install packages into
# (tests/lib/debroot.sh on the cache of scripts/debroot): how scripts/debroot
# finds this machine's mirror; two roots made from the cache are isolated
# from each other and from the machine; the stock apt-get installs from the
# Debian mirror into one, and the second install comes from the shared
# download cache; a package's maintainer script gets /dev/null and /proc,
# and services are forbidden to start; after the cleanup nothing is left
# mounted, whether the suite ends normally, fails, is terminated or killed.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016 # single-quoted programs for the root's shell
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/debroot.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/debroot.sh"

DEBROOT="$APTSHIP_SOURCE_DIR/scripts/debroot"

# ---------------------------------------------------------------- mirror

msg "scripts/debroot reads the mirror from the machine's apt sources"
fake="$T/fake-etc"
mkdir -p "$fake/apt/sources.list.d"
printf 'PRETTY_NAME="Debian"\nVERSION_CODENAME=trixie\nID=debian\n' >"$fake/os-release"
cat >"$fake/apt/sources.list.d/debian.sources" <<'EOF'
# security first, to show it is skipped
Types: deb
URIs: http://security.example.org/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example.org/debian
Suites: trixie
Components: main

Types: deb
URIs: http://disabled.example.org/debian
Suites: trixie
Components: main
Enabled: no

Types: deb
URIs: http://contrib-only.example.org/debian
Suites: trixie
Components: contrib non-free

Types: deb
# a comment inside the stanza
URIs: http://mirror.example.org/debian
  http://second.example.org/debian
Suites: trixie trixie-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
testequal "http://mirror.example.org/debian	/usr/share/keyrings/debian-archive-keyring.gpg" \
  env APTSHIP_DEBROOT_APT_DIR="$fake/apt" APTSHIP_DEBROOT_OS_RELEASE="$fake/os-release" \
  "$DEBROOT" --print-mirror
testequal "/var/cache/aptship-tests/trixie-minbase" \
  env -u APTSHIP_DEBROOT_CACHE APTSHIP_DEBROOT_OS_RELEASE="$fake/os-release" "$DEBROOT" --print-path

# sources.list is read before sources.list.d, as apt does.
cat >"$fake/apt/sources.list" <<'EOF'
deb http://updates.example.org/debian trixie-updates main
deb-src http://src.example.org/debian trixie main
# deb http://commented.example.org/debian trixie main
deb [ arch=amd64 signed-by=/etc/apt/keyrings/mirror.gpg ] http://oneline.example.org/debian trixie main
EOF
testequal "http://oneline.example.org/debian	/etc/apt/keyrings/mirror.gpg" \
  env APTSHIP_DEBROOT_APT_DIR="$fake/apt" APTSHIP_DEBROOT_OS_RELEASE="$fake/os-release" \
  "$DEBROOT" --print-mirror

printf 'deb http://plain.example.org/debian trixie main contrib\n' >"$fake/apt/sources.list"
testequal "http://plain.example.org/debian	-" \
  env APTSHIP_DEBROOT_APT_DIR="$fake/apt" APTSHIP_DEBROOT_OS_RELEASE="$fake/os-release" \
  "$DEBROOT" --print-mirror

rm -f "$fake/apt/sources.list"
printf 'ID=debian\nVERSION_CODENAME=forky\n' >"$fake/os-release"
testfailuremsg "no apt source of $fake/apt names a mirror of 'forky' with component main" \
  env APTSHIP_DEBROOT_APT_DIR="$fake/apt" APTSHIP_DEBROOT_OS_RELEASE="$fake/os-release" \
  "$DEBROOT" --print-mirror
printf 'ID=debian\nVERSION_ID=13\n' >"$fake/os-release"
testfailuremsg "has no VERSION_CODENAME" \
  env APTSHIP_DEBROOT_OS_RELEASE="$fake/os-release" "$DEBROOT" --print-path

# ---------------------------------------------------------------- roots

debroot_require
testtrue "the suite runs in a mount namespace of its own" \
  test "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)"
testfile "$DEBROOT_CACHE.stamp"
info "cache: $DEBROOT_CACHE ($(tr '\n' ' ' <"$DEBROOT_CACHE.stamp"))"

msg "two roots from the cache"
start=$(date +%s%N)
one=$(debroot_new one)
info "root one made in $((($(date +%s%N) - start) / 1000000)) ms: $one"
start=$(date +%s%N)
two=$(debroot_new two)
info "root two made in $((($(date +%s%N) - start) / 1000000)) ms: $two"
testfailuremsg "exists already" debroot_new one
testfailuremsg "bad root name" debroot_new ../escape
codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)
testequal "$codename" debroot_exec "$one" sh -c '. /etc/os-release && echo "$VERSION_CODENAME"'
testequal "$codename" debroot_exec "$two" sh -c '. /etc/os-release && echo "$VERSION_CODENAME"'
testfilesame /etc/resolv.conf "$one/etc/resolv.conf"
testtrue "/dev/null in the root is a character device" debroot_exec "$one" test -c /dev/null
testtrue "/proc is mounted in the root" debroot_exec "$one" test -r /proc/self/status
testequal "" debroot_exec "$one" sh -c 'echo discarded >/dev/null'
# The suite's variables stay outside.
export APTSHIP_LEAK_CHECK=leaked
testequal "unset" debroot_exec "$one" sh -c 'echo "${APTSHIP_LEAK_CHECK:-unset}"'
testequal "given" debroot_exec "$one" APTSHIP_LEAK_CHECK=given sh -c 'echo "$APTSHIP_LEAK_CHECK"'
unset APTSHIP_LEAK_CHECK
rc=0
debroot_exec "$one" /usr/sbin/policy-rc.d hello.service start || rc=$?
testequal 101 echo "$rc"

msg "roots are isolated from each other, from the cache and from the machine"
debroot_exec "$one" sh -c 'echo one >/etc/only-in-one'
testfile "$one/etc/only-in-one"
testnofile "$two/etc/only-in-one"
testnofile "$DEBROOT_CACHE/etc/only-in-one"
debroot_mounts >"$T/mounts-inside"
testgrep "^$one/proc\$" "$T/mounts-inside"
testgrep "^$two/var/cache/apt/archives\$" "$T/mounts-inside"
# pid 1 lives in the machine's mount namespace.
testnogrep "$T" /proc/1/mounts

msg "the stock apt-get installs from the Debian mirror"
testsuccess debroot_apt "$one" update
start=$(date +%s%N)
testsuccess debroot_apt "$one" install hello
info "apt-get install hello in root one: $((($(date +%s%N) - start) / 1000000)) ms"
testequal "Hello, world!" debroot_exec "$one" hello
testequal "install ok installed" debroot_exec "$one" dpkg-query -W -f='${Status}' hello
testfailure debroot_exec "$two" dpkg-query -W -f='${Status}' hello
testnofile "$two/usr/bin/hello"
testnofile "$DEBROOT_CACHE/usr/bin/hello"
hello_deb=$(cd "$one/var/cache/apt/archives" && ls hello_*.deb)
testfile "$DEBROOT_ARCHIVES/$hello_deb"

msg "a second root installs from the shared download cache"
start=$(date +%s%N)
testsuccess debroot_apt "$two" install hello
info "apt-get install hello in root two: $((($(date +%s%N) - start) / 1000000)) ms"
testgrep '^Need to get 0 B' "$OUT"
testequal "Hello, world!" debroot_exec "$two" hello

msg "maintainer scripts get /dev/null and /proc; services may not start"
pkg="$T/probe"
mkdir -p "$pkg/DEBIAN" "$pkg/usr/share/doc/debroot-probe"
cat >"$pkg/DEBIAN/control" <<'EOF'
Package: debroot-probe
Version: 1.0
Architecture: all
Maintainer: aptship tests <tests@example.org>
Description: checks the environment of maintainer scripts in a test root
EOF
cat >"$pkg/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
exec 3>/dev/null
echo "nothing to see" >&3
grep -q '^State:' /proc/self/status
test -r "/proc/$$/cmdline"
rc=0
/usr/sbin/policy-rc.d debroot-probe.service start || rc=$?
echo "postinst $1 proc=ok policy=$rc" >/var/lib/debroot-probe.log
EOF
chmod 0755 "$pkg/DEBIAN/postinst"
printf 'probe\n' >"$pkg/usr/share/doc/debroot-probe/README"
testsuccess dpkg-deb --root-owner-group -b "$pkg" "$one/tmp/debroot-probe.deb"
testsuccess debroot_exec "$one" dpkg -i /tmp/debroot-probe.deb
testgrep '^postinst configure proc=ok policy=101$' "$one/var/lib/debroot-probe.log"
testnofile "$two/var/lib/debroot-probe.log"

msg "sources with signed-by keys"
printf 'not really a key\n' >"$T/key.gpg"
testsuccess debroot_add_source "$two" local \
  "deb [signed-by=/etc/apt/keyrings/local.gpg] http://127.0.0.1:9 stable main" "$T/key.gpg"
testfilesame "$T/key.gpg" "$two/etc/apt/keyrings/local.gpg"
testfileequal "$two/etc/apt/sources.list.d/local.list" \
  "deb [signed-by=/etc/apt/keyrings/local.gpg] http://127.0.0.1:9 stable main"
testsuccess debroot_add_source "$two" local822 "Types: deb
URIs: http://127.0.0.1:9
Suites: stable
Components: main
Signed-By: /etc/apt/keyrings/local822.gpg" "$T/key.gpg"
testfilesame "$T/key.gpg" "$two/etc/apt/keyrings/local822.gpg"
testgrep '^Signed-By: /etc/apt/keyrings/local822.gpg$' "$two/etc/apt/sources.list.d/local822.sources"
testfailuremsg "names no signed-by file" debroot_add_source "$two" bad "deb http://127.0.0.1:9 stable main" "$T/key.gpg"
# A package that is not from the Debian mirror never enters the shared cache.
cp "$one/tmp/debroot-probe.deb" "$one/var/cache/apt/archives/debroot-probe_1.0_all.deb"
debroot_remove "$one"
testnofile "$DEBROOT_ARCHIVES/debroot-probe_1.0_all.deb"
testnofile "$(dirname "$one")"
debroot_mounts >"$T/mounts-after-remove"
testnogrep "^$(dirname "$one")/" "$T/mounts-after-remove"
testgrep "^$two/proc\$" "$T/mounts-after-remove"

# shellcheck disable=SC2317 # called through testsuccess
# pids_in ROOT: the processes whose root directory is ROOT.
pids_in() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" != "$1" ] || echo "${p#/proc/}"
  done
}
# shellcheck disable=SC2317 # called through testsuccess
# wait_for_file FILE: FILE appears within a minute.
wait_for_file() {
  local i
  for i in $(seq 600); do
    [ -f "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

msg "the cleanup leaves nothing mounted"
# A process still running in a root does not keep it mounted.
# (In a subshell of its own: the suite does not report its death.)
(debroot_exec "$two" sh -c 'touch /tmp/started; exec sleep 600' >/dev/null 2>&1 &)
testsuccess wait_for_file "$two/tmp/started"
sleepers=$(pids_in "$two")
testtrue "a process runs in root two" test -n "$sleepers"
(debroot_cleanup_all)
for p in $sleepers; do
  testfailure readlink "/proc/$p/root" # gone, or a zombie
done
debroot_mounts >"$T/mounts-after-cleanup"
testfileequal "$T/mounts-after-cleanup" ""
testnogrep "$T" /proc/mounts
testnofile "$_DEBROOT_DIR"

# child MODE: a suite that makes a root, then ends as MODE says: "fail" (a
# command fails), "term" (SIGTERM while a process runs in its root) or
# "kill" (SIGKILL). Once its root exists it writes its \$T, and for "term"
# its own pid and the pid of the process in its root, to $T/child-MODE.t.
child_script="$T/child-suite.sh"
cat >"$child_script" <<EOF
#!/bin/bash
. "$APTSHIP_SOURCE_DIR/tests/lib/framework.sh"
. "$APTSHIP_SOURCE_DIR/tests/lib/debroot.sh"
debroot_require
root=\$(debroot_new child)
case \$1 in
  fail)
    printf '%s\n' "\$T" >"$T/child-fail.t"
    false ;;
  term)
    (exec chroot "\$root" /bin/sleep 600) &
    while [ "\$(readlink /proc/\$!/root)" != "\$root" ]; do sleep 0.1; done
    printf '%s %s %s\n' "\$T" "\$\$" "\$!" >"$T/child-term.t.new"
    mv "$T/child-term.t.new" "$T/child-term.t"
    wait ;;
  kill)
    printf '%s\n' "\$T" >"$T/child-kill.t"
    kill -KILL \$\$ ;;
esac
EOF
mkdir -p "$T/child-tmp"

# The child gets its own namespace, as any suite run by CTest would.
run_child() {
  env -u APTSHIP_DEBROOT_MNTNS TMPDIR="$T/child-tmp" APTSHIP_KEEP_TMP=0 \
    bash "$child_script" "$1" >"$T/child-$1.log" 2>&1
}
msg "a failing suite unmounts and removes its roots"
rc=0
run_child fail || rc=$?
testequal 1 echo "$rc"
child_t=$(cat "$T/child-fail.t")
testnofile "$child_t"
testnogrep "$child_t" /proc/mounts

msg "a terminated suite stops the processes in its roots and removes them"
{ run_child term; } 2>/dev/null & # not "Terminated" in the log
child=$!
testsuccess wait_for_file "$T/child-term.t"
read -r child_t child_pid child_sleeper <"$T/child-term.t"
testsuccess kill -0 "$child_sleeper"
kill -TERM "$child_pid"
rc=0
wait "$child" || rc=$?
testequal 143 echo "$rc"
testfailure readlink "/proc/$child_sleeper/root"
testnofile "$child_t"
testnogrep "$child_t" /proc/mounts
testnogrep "$child_t" /proc/1/mounts

msg "a killed suite leaves no mount behind"
rc=0
{ run_child kill || rc=$?; } 2>/dev/null # not "Killed" in the log
testequal 137 echo "$rc"
child_t=$(cat "$T/child-kill.t")
testfile "$child_t/debroot/child/root"
testnogrep "$child_t" /proc/mounts
testnogrep "$child_t" /proc/1/mounts
# Nothing is mounted there, so removing it cannot reach /proc, /dev or the cache.
testsuccess rm -rf --one-file-system "$child_t"

finish
