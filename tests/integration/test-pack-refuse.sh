#!/bin/bash
# `aptship pack` refuses bad input: exit 1, exactly one line on stderr
# ("aptship: error: ...") naming the file or field at fault, and nothing in
# the output directory: no .deb, no temporary file, a previous .deb intact.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2317 # functions run through the assertion helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"

require_cmd dpkg-deb
require_aptship

export SOURCE_DATE_EPOCH=1700000000
NAME=refused
make_tree "$T/good" "$NAME" 1.0-1
CASE=0

# testrefused DESCRIPTION ERE TREE [PACK-ARGS...]: packing TREE into an empty
# directory fails as described above; stderr matches ERE (case-insensitive).
testrefused() {
  local what=$1 pattern=$2 tree=$3
  shift 3
  CASE=$((CASE + 1))
  local outdir="$T/out-$CASE" rc=0
  mkdir "$outdir"
  "$APTSHIP" pack "$tree" -o "$outdir/$NAME.deb" "$@" >"$OUT" 2>"$ERR" || rc=$?
  _check_refusal "$what" "$pattern" "$outdir" "$rc" "$@"
}

# _check_refusal DESCRIPTION ERE OUTDIR RC [PACK-ARGS...]
_check_refusal() {
  local what=$1 pattern=$2 outdir=$3 rc=$4
  shift 4
  local problems=() lines leftovers
  [ "$rc" -eq 1 ] || problems+=("exit code $rc, expected 1")
  lines=$(wc -l <"$ERR")
  [ "$lines" -eq 1 ] || problems+=("stderr has $lines lines, expected exactly 1")
  head -n 1 "$ERR" | grep -q '^aptship: error: ' || problems+=("stderr does not start with 'aptship: error: '")
  grep -qiE -- "$pattern" "$ERR" || problems+=("stderr does not match /$pattern/ (case-insensitive)")
  leftovers=$(cd "$outdir" 2>/dev/null && ls -A) || true
  [ -z "$leftovers" ] || problems+=("left in the output dir: $(echo "$leftovers" | tr '\n' ' ')")
  if [ "${#problems[@]}" -eq 0 ]; then
    _pass "refused: $what -- $(head -n 1 "$ERR")"
  else
    _fail "refused: $what" "${problems[@]}"
    _show stderr "$ERR"
  fi
}

# case_tree NAME: a fresh copy of the good tree to break.
case_tree() {
  rm -rf "$T/case-$1"
  cp -a "$T/good" "$T/case-$1"
  echo "$T/case-$1"
}

# set_field TREE FIELD VALUE: replaces FIELD's value in TREE's control file.
set_field() {
  sed -i "s|^$2:.*|$2: $3|" "$1/DEBIAN/control"
}

msg "the untouched tree packs"
testsuccess aptship pack "$T/good" -o "$T/good.deb"
testsuccess dpkg-deb --info "$T/good.deb"

msg "missing control fields"
for field in Package Version Architecture Maintainer Description; do
  t=$(case_tree "no-$field")
  sed -i "/^$field:/d" "$t/DEBIAN/control"
  [ "$field" != Description ] || sed -i '/^ /d' "$t/DEBIAN/control"
  testrefused "no $field field" "control.*$field|$field.*control" "$t"
done
t=$(case_tree no-two-fields)
sed -i '/^Version:/d; /^Architecture:/d' "$t/DEBIAN/control"
testrefused "no Version and no Architecture: both named in the one line" \
  "Version.*Architecture|Architecture.*Version" "$t"

msg "malformed control files"
t=$(case_tree bad-line)
sed -i '/^Version:/a this line is no field' "$t/DEBIAN/control"
testrefused "a line that is no field" "control" "$t"
t=$(case_tree continuation-first)
sed -i '1i \ continuation before any field' "$t/DEBIAN/control"
testrefused "a continuation line before any field" "control" "$t"
t=$(case_tree duplicate-field)
sed -i '/^Version:/a Package: other' "$t/DEBIAN/control"
testrefused "a field given twice" "control.*Package|Package.*control" "$t"
t=$(case_tree two-paragraphs)
printf '\nPackage: second\n' >>"$t/DEBIAN/control"
testrefused "two paragraphs" "control" "$t"
t=$(case_tree empty-control)
: >"$t/DEBIAN/control"
testrefused "an empty control file" "control" "$t"
t=$(case_tree no-control)
rm "$t/DEBIAN/control"
testrefused "DEBIAN/control missing" "control" "$t"
t=$(case_tree no-debian)
rm -r "$t/DEBIAN"
testrefused "no DEBIAN directory" "DEBIAN|control" "$t"

msg "invalid package names (dpkg-deb refuses them too)"
for bad in Hello_World -dash 'a b' 'caf€'; do
  t=$(case_tree name)
  set_field "$t" Package "$bad"
  testrefused "Package: $bad" "Package" "$t"
done

msg "invalid versions (dpkg-deb refuses them too)"
for bad in 1.0_1 a:1.0 abc '1.0 2' 1.0- 1: -1; do
  t=$(case_tree version)
  set_field "$t" Version "$bad"
  testrefused "Version: $bad" "Version" "$t"
done

msg "conffiles"
t=$(case_tree conffile-missing)
echo "/etc/$NAME/missing.conf" >>"$t/DEBIAN/conffiles"
testrefused "a conffile not in the tree" "/etc/$NAME/missing\.conf" "$t"
t=$(case_tree conffile-relative)
echo "etc/$NAME/$NAME.conf" >"$t/DEBIAN/conffiles"
testrefused "a conffile with a relative path" "etc/$NAME/$NAME\.conf" "$t"
t=$(case_tree conffile-escape)
echo "/etc/../../outside.conf" >"$t/DEBIAN/conffiles"
testrefused "a conffile path escaping the root" "outside\.conf" "$t"
t=$(case_tree conffile-dir)
echo "/etc/$NAME" >"$t/DEBIAN/conffiles"
testrefused "a conffile that is a directory" "/etc/$NAME" "$t"

msg "maintainer scripts"
t=$(case_tree script-mode)
chmod 0644 "$t/DEBIAN/postinst"
testrefused "postinst not executable (0644)" "postinst" "$t"
t=$(case_tree script-world-writable)
chmod 0777 "$t/DEBIAN/prerm"
testrefused "prerm world-writable (0777; dpkg-deb wants 0555..0775)" "prerm" "$t"
t=$(case_tree script-shebang)
printf 'echo no interpreter line\n' >"$t/DEBIAN/postinst"
testrefused "postinst without #! line" "postinst" "$t"

msg "the file tree"
t=$(case_tree symlink-loop)
ln -s b "$t/usr/share/$NAME/a"
ln -s a "$t/usr/share/$NAME/b"
testrefused "symlinks a -> b -> a" "usr/share/$NAME/(a|b)|loop" "$t"
t=$(case_tree symlink-self)
ln -s self "$t/usr/share/$NAME/self"
testrefused "a symlink to itself" "usr/share/$NAME/self" "$t"
t=$(case_tree newline)
printf 'x\n' >"$t/usr/share/$NAME/two"$'\n'"lines"
testrefused "a file name with a newline" "usr/share/$NAME/two" "$t"
t=$(case_tree fifo)
mkfifo "$t/usr/share/$NAME/pipe"
testrefused "a fifo in the tree" "usr/share/$NAME/pipe" "$t"
testrefused "a tree that does not exist" "$T/does-not-exist" "$T/does-not-exist"
t=$(case_tree file-as-tree)
testrefused "a regular file as tree" "control|DEBIAN|directory|$t/DEBIAN" "$t/DEBIAN/control"

msg "options and environment"
testrefused "--compress lzma" "compress|lzma" "$T/good" --compress lzma
testrefused "--level 99 for zstd" "level|99" "$T/good" --compress zstd --level 99
testrefused "--level 10 for gzip" "level|10" "$T/good" --compress gzip --level 10
SOURCE_DATE_EPOCH=yesterday testrefused "SOURCE_DATE_EPOCH=yesterday" "SOURCE_DATE_EPOCH" "$T/good"
mkdir -p "$T/empty-data"
testrefused "--sign with a data dir that has no key" "key|init|gnupg|sign" "$T/good" \
  --sign --data "$T/empty-data"

msg "output"
CASE=$((CASE + 1))
rc=0
"$APTSHIP" pack "$T/good" -o "$T/no-such-dir/$NAME.deb" >"$OUT" 2>"$ERR" || rc=$?
_check_refusal "output directory missing" "no-such-dir" "$T/no-such-dir" "$rc"
testnofile "$T/no-such-dir"
CASE=$((CASE + 1))
: >"$T/a-file"
rc=0
"$APTSHIP" pack "$T/good" -o "$T/a-file/$NAME.deb" >"$OUT" 2>"$ERR" || rc=$?
_check_refusal "output directory is a file" "a-file" "$T/a-file" "$rc"
testequal "" cat "$T/a-file"
mkdir -p "$T/out-dir-target/$NAME.deb"
rc=0
"$APTSHIP" pack "$T/good" -o "$T/out-dir-target/$NAME.deb" >"$OUT" 2>"$ERR" || rc=$?
# The directory in the way is left alone, and nothing sits beside it.
CASE=$((CASE + 1))
mkdir -p "$T/out-$CASE"
_check_refusal "output path is a directory" "$NAME\.deb" "$T/out-$CASE" "$rc"
testequal "$NAME.deb" ls -A "$T/out-dir-target"
testtrue "the directory in the way is still an empty directory" \
  sh -c "[ -d '$T/out-dir-target/$NAME.deb' ] && [ -z \"\$(ls -A '$T/out-dir-target/$NAME.deb')\" ]"

# An unwritable output directory: root writes anywhere, so root runs this
# case as nobody, on a copy of the tree that nobody can read.
CASE=$((CASE + 1))
pub="$T/pub"
mkdir -p "$pub/ro"
cp -a "$T/good" "$pub/tree"
chmod 0755 "$T" "$pub"
chmod 0555 "$pub/ro"
rc=0
if [ "$(id -u)" -eq 0 ]; then
  require_cmd setpriv
  chmod -R a+rX "$pub/tree"
  setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/nonexistent \
    "$APTSHIP" pack "$pub/tree" -o "$pub/ro/$NAME.deb" >"$OUT" 2>"$ERR" || rc=$?
else
  "$APTSHIP" pack "$pub/tree" -o "$pub/ro/$NAME.deb" >"$OUT" 2>"$ERR" || rc=$?
fi
_check_refusal "output directory not writable" "$pub/ro|denied|permission" "$pub/ro" "$rc"
chmod 0700 "$T"

msg "a failed pack leaves the previous output as it was"
mkdir -p "$T/keep"
printf 'previous package\n' >"$T/keep/$NAME.deb"
t=$(case_tree keep)
sed -i '/^Version:/d' "$t/DEBIAN/control"
testfailure aptship pack "$t" -o "$T/keep/$NAME.deb"
testfileequal "$T/keep/$NAME.deb" "previous package"
testequal "$NAME.deb" ls -A "$T/keep"
testfailure aptship pack "$T/good" -o "$T/keep/$NAME.deb" --compress lzma
testfileequal "$T/keep/$NAME.deb" "previous package"
testequal "$NAME.deb" ls -A "$T/keep"
testsuccess aptship pack "$T/good" -o "$T/keep/$NAME.deb"
testequal "$NAME" dpkg-deb --field "$T/keep/$NAME.deb" Package
testequal "$NAME.deb" ls -A "$T/keep"

finish
