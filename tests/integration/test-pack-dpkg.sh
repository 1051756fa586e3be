#!/bin/bash
# `aptship pack` output read, extracted and installed by the real dpkg tools,
# for every compression: dpkg-deb --info/--contents/--field/-e/-x, dpkg -i,
# dpkg-query, dpkg --verify; and the ar and tar structure checked byte by
# byte (by the framework's own parser, not aptship's reader).
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016,SC2317 # single-quoted formats and programs; functions run via helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"

require_cmd dpkg dpkg-deb dpkg-query ar tar zstd xz gzip md5sum sha256sum "$PYTHON"
require_aptship

SDE=1700000000
export SOURCE_DATE_EPOCH=$SDE
NAME=hello
VERSION=1:2.10-3

make_tree "$T/tree" "$NAME" "$VERSION"
# One file older than SOURCE_DATE_EPOCH keeps its own mtime.
touch -d @1600000000 "$T/tree/usr/share/$NAME/data.txt"
tree_listing "$T/tree" >"$T/expected-listing"
# What md5sums must hold: every regular file but the conffiles, as
# debhelper writes it ("hex  path", no leading ./ or /).
(cd "$T/tree" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' |
  xargs -0 md5sum | LC_ALL=C sort -k2) >"$T/expected-md5sums"
# What `dpkg-deb --contents` must list: mode, owner and name of every entry.
(
  cd "$T/tree" || exit 1
  printf 'drwxr-xr-x root/root ./\n'
  find . -mindepth 1 ! -path ./DEBIAN ! -path './DEBIAN/*' -printf '%M root/root ./%P\t%y\t%l\n' |
    while IFS=$'\t' read -r line type target; do
      case $type in
        d) printf '%s/\n' "$line" ;;
        l) printf '%s -> %s\n' "$line" "$target" ;;
        *) printf '%s\n' "$line" ;;
      esac
    done
) | LC_ALL=C sort >"$T/expected-contents"
# Installed-Size bounds: dpkg-gencontrol's rule (1 KiB per non-file entry,
# the rounded-up size of each file or symlink) over the data tree alone, and
# over the tree with DEBIAN/ as debhelper happens to count it.
installed_size_of() {
  "$PYTHON" - "$@" <<'EOF'
import os, sys, math
root, with_debian = sys.argv[1], sys.argv[2] == 'yes'
total = 0
for dirpath, dirnames, filenames in os.walk(root):
    if not with_debian and dirpath == root:
        dirnames[:] = [d for d in dirnames if d != 'DEBIAN']
    for name in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
        if name != dirpath and os.path.isdir(name) and not os.path.islink(name):
            continue  # counted when walked
        st = os.lstat(name)
        if os.path.isfile(name) or os.path.islink(name):
            total += math.ceil(st.st_size / 1024)
        else:
            total += 1
print(total)
EOF
}
SIZE_MIN=$(($(installed_size_of "$T/tree" no) - 1))
SIZE_MAX=$(installed_size_of "$T/tree" yes)

# Sort the contents listing without the size/date columns (5 fields:
# mode owner size date time) that this suite does not predict.
contents_of() {
  dpkg-deb --contents "$1" | sed -E 's/^([^ ]+) +([^ ]+) +[0-9]+ [0-9-]+ [0-9:]+ /\1 \2 /' | LC_ALL=C sort
}

# The control file without the field aptship adds.
control_without_installed_size() {
  dpkg-deb --info "$1" control | grep -v '^Installed-Size:'
}

check_package() {
  local compress=$1
  local ext deb="$T/${NAME}_$compress.deb" x="$T/x-$compress" root="$T/root-$compress"
  ext=$(compression_ext "$compress")

  msg "pack --compress $compress"
  testsuccess aptship pack "$T/tree" -o "$deb" --compress "$compress"
  [ -f "$deb" ] || { _fail "$deb was written" "no file: later checks skipped"; return 0; }

  msg "ar container ($compress)"
  local member
  testequal "debian-binary
control.tar$ext
data.tar$ext" ar t "$deb"
  testtrue "ar magic, headers and even padding are well formed" deb_tool ar-check "$deb"
  cut -f1-5 "$OUT" >"$T/ar-$compress"
  # Member names as dpkg-deb writes them (no GNU "/" terminator), owned by
  # 0:0, mode 100644, dated SOURCE_DATE_EPOCH.
  testequal "debian-binary	mode=100644	uid=0	gid=0	mtime=$SDE
control.tar$ext	mode=100644	uid=0	gid=0	mtime=$SDE
data.tar$ext	mode=100644	uid=0	gid=0	mtime=$SDE" cat "$T/ar-$compress"
  testequal "2.0" ar p "$deb" debian-binary
  if [ "$compress" = zstd ]; then
    # The control member ends with a zstd skippable frame that aligns the
    # package head to 4 KiB (so data.tar is written once); zstd itself must
    # take the whole member.
    testtrue "control.tar.zst is valid zstd up to its end" \
      sh -c "ar p '$deb' control.tar.zst | zstd -t"
    testtrue "data.tar.zst ends with its compressed stream (no zero padding)" \
      deb_tool trailing-zeros "$deb" data.tar.zst
  elif [ "$compress" != none ]; then
    for member in control.tar$ext data.tar$ext; do
      testtrue "$member ends with its compressed stream (no zero padding)" \
        deb_tool trailing-zeros "$deb" "$member"
    done
  fi
  case $compress in
    zstd) testtrue "data.tar.zst is zstd" sh -c "ar p '$deb' data.tar.zst | zstd -t" ;;
    xz) testtrue "data.tar.xz is xz" sh -c "ar p '$deb' data.tar.xz | xz -t" ;;
    gzip) testtrue "data.tar.gz is gzip" sh -c "ar p '$deb' data.tar.gz | gzip -t" ;;
    none) testtrue "data.tar is an uncompressed tar" sh -c "ar p '$deb' data.tar | tar -t >/dev/null" ;;
  esac

  msg "tar members ($compress)"
  for member in control data; do
    testdecompress "$deb" "$member.tar$ext" "$T/$member-$compress.tar"
    testtrue "$member.tar: GNU/ustar, no pax, ./ paths, root:root, parents first, sorted, mtime <= SDE" \
      deb_tool tar-check "$T/$member-$compress.tar" "$SDE"
    grep -q '^format: GNU' "$OUT" || info "$member.tar: $(head -n 1 "$OUT")"
    # GNU tar warns on stderr about pax keywords and malformed headers.
    testsuccess tar -tvf "$T/$member-$compress.tar"
    testtrue "tar -tvf $member.tar printed no warning" test ! -s "$ERR"
  done
  deb_tool tar-list "$T/data-$compress.tar" >"$T/data-$compress.mtimes"
  testgrep "^\./usr/share/$NAME/data\.txt	1600000000	0$" "$T/data-$compress.mtimes"
  testgrep "^\./usr/bin/$NAME	$SDE	0$" "$T/data-$compress.mtimes"

  msg "dpkg-deb --field / --info ($compress)"
  testequal "$NAME" dpkg-deb --field "$deb" Package
  testequal "$VERSION" dpkg-deb --field "$deb" Version
  testequal "all" dpkg-deb --field "$deb" Architecture
  testequal "aptship tests <tests@example.org>" dpkg-deb --field "$deb" Maintainer
  testsuccess dpkg-deb --field "$deb" Installed-Size
  local size
  size=$(cat "$OUT")
  if [[ $size =~ ^[0-9]+$ ]] && [ "$size" -ge "$SIZE_MIN" ] && [ "$size" -le "$SIZE_MAX" ]; then
    _pass "Installed-Size $size KiB is within dpkg-gencontrol's count [$SIZE_MIN, $SIZE_MAX]"
  else
    _fail "Installed-Size is within dpkg-gencontrol's count" "got '$size', expected $SIZE_MIN..$SIZE_MAX"
  fi
  control_without_installed_size "$deb" >"$T/control-$compress" || true
  testdiff "control: every field of DEBIAN/control, in order, plus Installed-Size" \
    "$T/tree/DEBIAN/control" "$T/control-$compress"
  testsuccess dpkg-deb --info "$deb"
  cp "$OUT" "$T/info-$compress"
  for member in control md5sums conffiles postinst prerm; do
    testgrep "^ +[0-9]+ bytes, +[0-9]+ lines +\*? *$member( |$)" "$T/info-$compress"
  done
  testgrep "^ +[0-9]+ bytes, +[0-9]+ lines +\* +postinst +#!/bin/sh$" "$T/info-$compress"

  msg "control.tar contents ($compress)"
  testsuccess dpkg-deb --control "$deb" "$x.ctl"
  testequal "conffiles control md5sums postinst prerm" sh -c "ls '$x.ctl' | xargs"
  testequal "755 755 644 644 644" sh -c 'stat -c %a "$@" | xargs' - "$x.ctl/postinst" "$x.ctl/prerm" \
    "$x.ctl/control" "$x.ctl/md5sums" "$x.ctl/conffiles"
  testfilesame "$T/tree/DEBIAN/postinst" "$x.ctl/postinst"
  testfilesame "$T/tree/DEBIAN/prerm" "$x.ctl/prerm"
  testfilesame "$T/tree/DEBIAN/conffiles" "$x.ctl/conffiles"
  LC_ALL=C sort -k2 "$x.ctl/md5sums" >"$T/md5sums-$compress"
  testdiff "md5sums lists every regular file but the conffile, as 'hex  path'" \
    "$T/expected-md5sums" "$T/md5sums-$compress"

  msg "dpkg-deb --contents ($compress)"
  contents_of "$deb" >"$T/contents-$compress" || true
  testdiff "dpkg-deb --contents lists each entry with its mode, root/root and symlink target" \
    "$T/expected-contents" "$T/contents-$compress"

  msg "dpkg-deb -x reproduces the tree ($compress)"
  testsuccess dpkg-deb -x "$deb" "$x"
  tree_listing "$x" >"$T/listing-$compress"
  testdiff "extracted tree: same paths, types, modes, symlink targets, file contents" \
    "$T/expected-listing" "$T/listing-$compress"
  testsuccess diff -r --no-dereference --exclude=DEBIAN "$T/tree" "$x"

  msg "dpkg -i into a separate root ($compress)"
  dpkg_root "$root"
  testsuccess dpkg_in "$root" -i "$deb"
    testequal "install ok installed $VERSION" dpkg_query_in "$root" -W -f='${Status} ${Version}' "$NAME"
  testfileequal "$root/inst/var/lib/$NAME/postinst-ran" configure
  tree_listing "$root/inst" | grep -v "^var/lib/$NAME/postinst-ran	" >"$T/installed-$compress" || true
  testdiff "installed files match the tree" "$T/expected-listing" "$T/installed-$compress"
  dpkg_query_in "$root" --control-show "$NAME" md5sums | LC_ALL=C sort -k2 >"$T/reg-md5sums-$compress" || true
  testdiff "dpkg registered the md5sums" "$T/expected-md5sums" "$T/reg-md5sums-$compress"
  testequal " /etc/$NAME/$NAME.conf $(md5sum <"$T/tree/etc/$NAME/$NAME.conf" | cut -d' ' -f1)" \
    dpkg_query_in "$root" -W -f='${Conffiles}' "$NAME"
  testequal "" dpkg_in "$root" --verify "$NAME"
  # Proof that --verify checks what md5sums lists: a changed file is named.
  echo changed >>"$root/inst/usr/share/$NAME/with space.txt"
  testequal "??5??????   /usr/share/$NAME/with space.txt" dpkg_in "$root" --verify "$NAME"
  testsuccess dpkg_in "$root" --remove "$NAME"
  testfileequal "$root/inst/var/lib/$NAME/prerm-ran" remove
  testnofile "$root/inst/usr/bin/$NAME"
  testfile "$root/inst/etc/$NAME/$NAME.conf"
  testsuccess dpkg_in "$root" --purge "$NAME"
  testnofile "$root/inst/etc/$NAME/$NAME.conf"
  # A purged package is gone from the database, or listed as not-installed.
  local status
  status=$(dpkg_query_in "$root" -W -f='${db:Status-Status}' "$NAME" 2>/dev/null) || status=gone
  testtrue "$NAME is purged (status: $status)" test "$status" = gone -o "$status" = not-installed
}

for compress in zstd xz gzip none; do
  check_package "$compress"
done

msg "default compression, --level, --data after the subcommand"
testsuccess aptship pack "$T/tree" -o "$T/default.deb"
testequal "debian-binary
control.tar.zst
data.tar.zst" ar t "$T/default.deb"
testfilesame "$T/${NAME}_zstd.deb" "$T/default.deb"
testsuccess aptship pack "$T/tree" -o "$T/level19.deb" --compress zstd --level 19
testsuccess dpkg-deb -x "$T/level19.deb" "$T/x-level19"
tree_listing "$T/x-level19" >"$T/listing-level19"
testdiff "zstd --level 19 extracts to the same tree" "$T/expected-listing" "$T/listing-level19"
testsuccess aptship pack "$T/tree" -o "$T/xz1.deb" --compress xz --level 1
testsuccess dpkg-deb -x "$T/xz1.deb" "$T/x-xz1"
testsuccess aptship pack --data "$T/unused-data" "$T/tree" -o "$T/data-before.deb"
testsuccess aptship pack "$T/tree" -o "$T/data-after.deb" --data "$T/unused-data"
testfilesame "$T/data-before.deb" "$T/data-after.deb"
testnofile "$T/unused-data"

msg "a tree whose file names need GNU long-name headers"
LONG="$T/longtree"
make_tree "$LONG" longnames 1.0
deep="$LONG/usr/share/longnames/$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..60})"
mkdir -p "$deep"
printf 'long\n' >"$deep/$(printf 'f%.0s' {1..120}).txt"
ln -s "$(printf 't%.0s' {1..150})" "$deep/long-target-link"
find "$LONG" -type d -exec chmod 0755 {} +
tree_listing "$LONG" >"$T/expected-long"
testsuccess aptship pack "$LONG" -o "$T/long.deb" --compress gzip
testsuccess dpkg-deb -x "$T/long.deb" "$T/x-long"
tree_listing "$T/x-long" >"$T/listing-long"
testdiff "names over 100 bytes and long symlink targets survive" "$T/expected-long" "$T/listing-long"
testdecompress "$T/long.deb" data.tar.gz "$T/long.tar"
testtrue "long names use no pax header" deb_tool tar-check "$T/long.tar" "$SDE"
dpkg_root "$T/root-long"
testsuccess dpkg_in "$T/root-long" -i "$T/long.deb"

finish
