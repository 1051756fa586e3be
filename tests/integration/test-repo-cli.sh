#!/bin/bash
# `aptship repo ...` from the command line: add (files and folders), list
# (table and JSON), identical re-adds, refused conflicts and bad packages
# that change nothing, remove, promote (same bytes, same hashes), publish,
# gc, configuration errors, the lock's wait and timeout messages, and 8
# parallel adds that all land. The Packages stanzas are compared with
# `apt-ftparchive packages` on the same pool, field by field.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016,SC2317 # single-quoted programs; functions run via helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"

require_cmd gpg "$PYTHON" dpkg-deb
require_aptship

export SOURCE_DATE_EPOCH=1700000000
DATA="$T/data"
PUB="$DATA/public"
aptship_init "$DATA"

# make_pkg OUT NAME VERSION [ARCH] [PAYLOAD]: a small package built by
# `aptship pack`; PAYLOAD makes two builds of one version differ.
make_pkg() {
  local out=$1 name=$2 version=$3 arch=${4:-all} payload=${5:-payload}
  local tree="$T/trees/$name-$version-$arch-$RANDOM"
  mkdir -p "$tree/DEBIAN" "$tree/usr/share/$name" "$(dirname "$out")"
  cat >"$tree/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: aptship tests <tests@example.org>
Section: misc
Priority: optional
Depends: libc6 (>= 2.36)
Description: test package $name
 Built by aptship's repository suite.
EOF
  printf '%s\n' "$payload" >"$tree/usr/share/$name/payload"
  "$APTSHIP" pack "$tree" -o "$out" --compress gzip >/dev/null
}

# repo ARGS...: aptship repo on the suite's data dir.
repo() { "$APTSHIP" --data "$DATA" repo "$@"; }

# testonelineerror DESCRIPTION TEXT CMD...: CMD exits 1 with exactly one
# line "aptship: error: ..." on stderr containing TEXT.
testonelineerror() {
  local what=$1 text=$2 rc=0
  shift 2
  "$@" >"$OUT" 2>"$ERR" || rc=$?
  local problems=() lines
  [ "$rc" -eq 1 ] || problems+=("exit code $rc, expected 1")
  lines=$(wc -l <"$ERR")
  [ "$lines" -eq 1 ] || problems+=("stderr has $lines lines, expected exactly 1")
  grep -q '^aptship: error: ' "$ERR" || problems+=("stderr does not start with 'aptship: error: '")
  grep -qF -- "$text" "$ERR" || problems+=("stderr lacks '$text'")
  if [ "${#problems[@]}" -eq 0 ]; then
    _pass "$what -- $(head -n 1 "$ERR")"
  else
    _fail "$what" "$(_quote_cmd "$@")" "${problems[@]}"
    _show stderr "$ERR"
  fi
}

# pool_listing: every file below the pool, sorted.
pool_listing() { (cd "$PUB" && find pool -type f 2>/dev/null | LC_ALL=C sort); }

# stanza INDEX NAME VERSION: the stanza of NAME VERSION in a Packages file.
stanza() {
  awk -v RS= -v name="$2" -v version="$3" \
    '$0 ~ "(^|\n)Package: " name "\n" && $0 ~ "\nVersion: " version "\n" { print; exit }' "$1"
}

# field NAME: the value of field NAME in the stanza on stdin.
field() { awk -v f="$1" -F': ' '$1 == f { print $2; exit }'; }

msg "an uninitialized data dir"
testonelineerror "repo add without init" "run 'aptship init' first" \
  "$APTSHIP" --data "$T/none" repo add "$T/nothing.deb"
testonelineerror "repo list without init" "run 'aptship init' first" \
  "$APTSHIP" --data "$T/none" repo list
testnofile "$T/none"

msg "add one package: pool, list, index"
make_pkg "$T/debs/hello_1.0_all.deb" hello 1.0
testsuccess repo add "$T/debs/hello_1.0_all.deb"
cp "$OUT" "$T/add.out"
testequal "added hello 1.0 (all) to stable/main" head -n 1 "$T/add.out"
testgrep '^published stable: generation 1' "$T/add.out"
testfilesame "$T/debs/hello_1.0_all.deb" "$PUB/pool/main/h/hello/hello_1.0_all.deb"
testequal "hello  1.0  all  stable  main" repo list
testfile "$PUB/dists/stable/InRelease"
testfile "$PUB/dists/stable/main/binary-amd64/Packages"
stanza "$PUB/dists/stable/main/binary-amd64/Packages" hello 1.0 >"$T/hello.stanza"
testequal "pool/main/h/hello/hello_1.0_all.deb" field Filename <"$T/hello.stanza"
testequal "$(sha256sum <"$T/debs/hello_1.0_all.deb" | cut -d' ' -f1)" field SHA256 <"$T/hello.stanza"
testequal "$(stat -c %s "$T/debs/hello_1.0_all.deb")" field Size <"$T/hello.stanza"

msg "pool layout: lib prefix and epoch"
make_pkg "$T/debs/libfoo1_2.0_amd64.deb" libfoo1 2.0 amd64
make_pkg "$T/debs/hello_2.0_all.deb" hello 1:2.0
testsuccess repo add "$T/debs/libfoo1_2.0_amd64.deb" "$T/debs/hello_2.0_all.deb"
testfile "$PUB/pool/main/libf/libfoo1/libfoo1_2.0_amd64.deb"
testfile "$PUB/pool/main/h/hello/hello_1%3a2.0_all.deb"
testequal "hello    1.0    all    stable  main
hello    1:2.0  all    stable  main
libfoo1  2.0    amd64  stable  main" repo list

msg "list --json"
testsuccess repo list --json
cp "$OUT" "$T/list.json"
testtrue "the JSON is an array of packages with every column" "$PYTHON" - "$T/list.json" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
assert isinstance(rows, list) and len(rows) == 3, rows
names = [(r['name'], r['version'], r['architecture'], r['suite'], r['component']) for r in rows]
assert names == [('hello', '1.0', 'all', 'stable', 'main'), ('hello', '1:2.0', 'all', 'stable', 'main'),
                 ('libfoo1', '2.0', 'amd64', 'stable', 'main')], names
assert rows[1]['filename'] == 'pool/main/h/hello/hello_1%3a2.0_all.deb', rows[1]
assert all(len(r['sha256']) == 64 for r in rows)
EOF
testequal "[]" repo list --suite nosuch --json

msg "adding an identical file again is a no-op"
cp "$PUB/dists/stable/InRelease" "$T/InRelease.before"
testsuccess repo add "$T/debs/hello_1.0_all.deb"
cp "$OUT" "$T/readd.out"
testequal "already in stable/main: hello 1.0 (all)" cat "$T/readd.out"
testfilesame "$T/InRelease.before" "$PUB/dists/stable/InRelease"

msg "a different file with the same name, version and architecture is refused"
make_pkg "$T/other/hello_1.0_all.deb" hello 1.0 all "other bytes"
make_pkg "$T/other/fresh_1.0_all.deb" fresh 1.0
pool_listing >"$T/pool.before"
testonelineerror "conflicting file" \
  "hello_1.0_all.deb: a different file with the same name, version and architecture is already in the pool (sha256 $(sha256sum <"$T/debs/hello_1.0_all.deb" | cut -d' ' -f1) vs $(sha256sum <"$T/other/hello_1.0_all.deb" | cut -d' ' -f1))" \
  repo add "$T/other"
testfilesame "$T/debs/hello_1.0_all.deb" "$PUB/pool/main/h/hello/hello_1.0_all.deb"
pool_listing >"$T/pool.after"
testdiff "the pool is unchanged" "$T/pool.before" "$T/pool.after"
testfilesame "$T/InRelease.before" "$PUB/dists/stable/InRelease"
testequal "3" sh -c "'$APTSHIP' --data '$DATA' repo list | wc -l"

msg "one bad package in a folder changes nothing"
mkdir -p "$T/batch/sub"
make_pkg "$T/batch/alpha_1.0_all.deb" alpha 1.0
make_pkg "$T/batch/sub/beta_1.0_all.deb" beta 1.0
printf '!<arch>\nnot a package\n' >"$T/batch/sub/broken_1.0_all.deb"
testonelineerror "bad package in a batch" "$T/batch/sub/broken_1.0_all.deb: " repo add "$T/batch"
pool_listing >"$T/pool.after"
testdiff "the pool is unchanged" "$T/pool.before" "$T/pool.after"
testequal "3" sh -c "'$APTSHIP' --data '$DATA' repo list | wc -l"
# A data.tar path escaping the tree.
mkdir -p "$T/evil/x"
printf 'Package: evil\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: evil\n' >"$T/evil/control"
echo bad >"$T/evil/x/evil"
(
  cd "$T/evil" || exit 1
  echo 2.0 >debian-binary
  tar -czf control.tar.gz ./control
  tar -C x -czf data.tar.gz --transform 's,^\./,./../,' ./evil
  ar rc "$T/evil.deb" debian-binary control.tar.gz data.tar.gz
)
testonelineerror "a path escaping the tree" "evil.deb: data.tar: './../evil' contains '..'" \
  repo add "$T/evil.deb"
rm "$T/batch/sub/broken_1.0_all.deb"
testsuccess repo add "$T/batch"
cp "$OUT" "$T/batch.out"
testequal "added alpha 1.0 (all) to stable/main
added beta 1.0 (all) to stable/main" grep '^added' "$T/batch.out"

msg "remove"
testonelineerror "remove of a missing version" "no package hello=9.9 in suite stable" \
  repo remove --suite stable hello=9.9
testonelineerror "remove of a missing package" "no package nosuch in suite stable" \
  repo remove --suite stable nosuch
testsuccess repo remove --suite stable hello=1.0
cp "$OUT" "$T/remove.out"
testequal "removed hello 1.0 (all) from stable/main" head -n 1 "$T/remove.out"
testequal "" stanza "$PUB/dists/stable/main/binary-amd64/Packages" hello 1.0
testfile "$PUB/pool/main/h/hello/hello_1.0_all.deb"
# No suite lists it now, but the previous generation, still kept, does.
testsuccess repo gc
testnogrep 'hello_1.0_all.deb' "$OUT"
testfile "$PUB/pool/main/h/hello/hello_1.0_all.deb"
testequal "alpha    1.0    all    stable  main
beta     1.0    all    stable  main
hello    1:2.0  all    stable  main
libfoo1  2.0    amd64  stable  main" repo list --suite stable

msg "promote keeps the bytes and the hashes"
testonelineerror "promote of a version not in the source suite" "no package hello=1.0 in suite stable" \
  repo promote hello=1.0 --from stable --to testing
testsuccess repo promote hello=1:2.0 --from stable --to testing
cp "$OUT" "$T/promote.out"
testequal "promoted hello 1:2.0 (all) from stable to testing/main" head -n 1 "$T/promote.out"
stanza "$PUB/dists/stable/main/binary-amd64/Packages" hello 1:2.0 >"$T/stable.stanza"
stanza "$PUB/dists/testing/main/binary-amd64/Packages" hello 1:2.0 >"$T/testing.stanza"
testtrue "the promoted stanza is not empty" test -s "$T/testing.stanza"
testfilesame "$T/stable.stanza" "$T/testing.stanza"
testequal "hello  1:2.0  all  testing  main" repo list --suite testing
testequal "1" sh -c "find '$PUB/pool' -name 'hello_1%3a2.0_all.deb' | wc -l"

msg "publish"
gen_before=$(readlink "$PUB/dists/stable")
testsuccess repo publish --suite stable
testgrep '^published stable: generation' "$OUT"
testtrue "the stable generation changed" test "$(readlink "$PUB/dists/stable")" != "$gen_before"
testsuccess repo publish
testgrep '^published stable' "$OUT"
testgrep '^published testing' "$OUT"
testgrep '^Valid-Until: ' "$PUB/dists/stable/Release"
testonelineerror "publish of an unknown suite" "unknown suite nosuch" repo publish --suite nosuch

msg "gc"
# A file no suite lists and no generation names: what a crash could leave.
mkdir -p "$PUB/pool/main/s/stray"
echo stray >"$PUB/pool/main/s/stray/stray_1_all.deb"
# Two publishes of stable since hello 1.0 left it: with the default 3 kept
# generations, none names it any more, so its file goes too.
testsuccess repo gc
testgrep '^removed pool/main/s/stray/stray_1_all.deb$' "$OUT"
testgrep '^removed pool/main/h/hello/hello_1.0_all.deb$' "$OUT"
testgrep '^gc: 2 pool files removed, 1 packages forgotten$' "$OUT"
testnofile "$PUB/pool/main/s/stray"
testnofile "$PUB/pool/main/h/hello/hello_1.0_all.deb"
testfile "$PUB/pool/main/h/hello/hello_1%3a2.0_all.deb"
testsuccess repo gc
testgrep '^gc: 0 pool files removed, 0 packages forgotten$' "$OUT"

msg "retention"
cat >>"$DATA/aptship.toml" <<'EOF'

[suites.short]
retention = 2
EOF
for v in 1.0 1.1 1.10 1.9; do make_pkg "$T/ret/app_${v}_all.deb" app "$v"; done
testsuccess repo add --suite short "$T/ret"
testgrep '^pruned app 1.0 \(all\) from short/main \(retention\)$' "$OUT"
testgrep '^pruned app 1.1 \(all\) from short/main \(retention\)$' "$OUT"
testequal "app  1.9   all  short  main
app  1.10  all  short  main" repo list --suite short

msg "configuration errors are reported with their key path"
cp "$DATA/aptship.toml" "$T/aptship.toml.good"
printf '\n[suites.stable]\nretension = 3\narchitectures = "amd64"\n' >>"$DATA/aptship.toml"
testonelineerror "unknown key" "aptship.toml: " repo add "$T/debs/hello_1.0_all.deb"
testgrep "suites\.stable\.retension: unknown key" "$ERR"
testgrep "suites\.stable\.architectures: expected an array of strings" "$ERR"
cp "$T/aptship.toml.good" "$DATA/aptship.toml"

msg "argument errors"
testfailure repo remove hello
testfailure repo promote hello=1:2.0 --from stable
testonelineerror "promote without a version" "NAME=VERSION" repo promote hello --from stable --to testing
testonelineerror "an invalid suite name" "suite name '../x'" repo add --suite ../x "$T/debs/hello_1.0_all.deb"
testonelineerror "a missing file" "$T/missing.deb" repo add "$T/missing.deb"

msg "the lock: wait message, then a timeout naming the holder"
"$PYTHON" - "$DATA/lock" "$T/holder.ready" <<'EOF' &
import fcntl, os, sys, time
f = open(sys.argv[1], 'a+')
fcntl.flock(f, fcntl.LOCK_EX)
f.truncate(0); f.write(f'{os.getpid()}\n'); f.flush()
open(sys.argv[2], 'w').close()
time.sleep(30)
EOF
HOLDER=$!
for _ in $(seq 100); do [ -e "$T/holder.ready" ] && break; sleep 0.1; done
rc=0
APTSHIP_LOCK_TIMEOUT=1 "$APTSHIP" --data "$DATA" repo add "$T/debs/hello_1.0_all.deb" >"$OUT" 2>"$ERR" || rc=$?
cp "$ERR" "$T/timeout.err"
testequal "aptship: waiting for the repository lock (held by pid $HOLDER)
aptship: error: timed out after 1 s waiting for the repository lock held by pid $HOLDER" cat "$T/timeout.err"
testtrue "the timed-out add failed" test "$rc" -eq 1
# Released while a command waits: the command goes on.
APTSHIP_LOCK_TIMEOUT=30 "$APTSHIP" --data "$DATA" repo add "$T/debs/hello_1.0_all.deb" >"$T/waiter.out" 2>"$T/waiter.err" &
WAITER=$!
sleep 1
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null || true
rc=0
wait "$WAITER" || rc=$?
testtrue "the waiting add succeeded once the lock was free" test "$rc" -eq 0
testgrep "waiting for the repository lock \(held by pid $HOLDER\)" "$T/waiter.err"

msg "8 parallel adds all land"
pids=()
for i in 1 2 3 4 5 6 7 8; do
  make_pkg "$T/par/par$i.deb" "par$i" 1.0 amd64
done
for i in 1 2 3 4 5 6 7 8; do
  "$APTSHIP" --data "$DATA" repo add --suite par "$T/par/par$i.deb" >"$T/par/$i.out" 2>"$T/par/$i.err" &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
testtrue "all 8 adds succeeded" test "$failed" -eq 0
testequal "par1 par2 par3 par4 par5 par6 par7 par8" sh -c "'$APTSHIP' --data '$DATA' repo list --suite par | awk '{print \$1}' | xargs"
testequal "8" sh -c "grep -c '^Package: par' '$PUB/dists/par/main/binary-amd64/Packages'"

msg "the stanzas carry the fields apt-ftparchive gives"
if command -v apt-ftparchive >/dev/null 2>&1; then
  (cd "$PUB" && apt-ftparchive packages pool >"$T/ftparchive.Packages" 2>"$T/ftparchive.err")
  testtrue "apt-ftparchive indexed the pool" test -s "$T/ftparchive.Packages"
  testtrue "same stanzas field by field (field order aside)" "$PYTHON" - "$T/ftparchive.Packages" \
    "$PUB"/dists/*/main/binary-amd64/Packages <<'EOF'
import sys
def stanzas(path):
    out = {}
    for block in open(path).read().split('\n\n'):
        fields, last = {}, None
        for line in block.splitlines():
            if line[:1] in (' ', '\t') and last:
                fields[last] += '\n' + line
            elif line:
                last, value = line.split(':', 1)
                fields[last] = value.strip() if '\n' not in value else value
        if fields:
            out[(fields['Package'], fields['Version'], fields['Architecture'])] = fields
    return out
theirs = stanzas(sys.argv[1])
ours = {}
for path in sys.argv[2:]:
    ours.update(stanzas(path))
compared = 0
for key, fields in theirs.items():
    if key not in ours:
        continue  # in the pool, but in no suite (pruned by retention)
    compared += 1
    if fields != ours[key]:
        sys.exit(f'{key}: ours {ours[key]} theirs {fields}')
assert compared >= 10, f'only {compared} stanzas compared'
print(f'{compared} stanzas identical')
EOF
else
  info "apt-ftparchive not installed: field comparison not run"
fi

finish
