#!/bin/bash
# Same tree and SOURCE_DATE_EPOCH => same bytes, whatever the tree's path,
# creation order, inode numbers, atimes, owners or newer-than-SDE mtimes;
# another SOURCE_DATE_EPOCH => other bytes; tar mtimes = min(mtime, SDE).
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2317 # functions run through the assertion helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"

require_cmd cmp ar zstd xz gzip "$PYTHON"
require_aptship

SDE=1700000000
OLD=1600000000 # older than SDE: kept as is
NAME=repro

make_tree "$T/a" "$NAME" 2.0
touch -h -d @$OLD "$T/a/usr/share/$NAME/data.txt" "$T/a/usr/share/$NAME/link-to-data"
touch -d @$((SDE - 1)) "$T/a/usr/share/$NAME/nested"

# copy_shuffled SRC DST: the same tree made another way: entries created in
# reverse order (other inodes and directory order), mtimes newer than SDE
# replaced by other newer ones, atimes changed; older mtimes kept, since
# they are part of the input.
copy_shuffled() {
  local src=$1 dst=$2 path mode
  mkdir -p "$dst"
  (cd "$src" && find . -mindepth 1 -type d -printf '%P\n' | LC_ALL=C sort -r) |
    while IFS= read -r path; do mkdir -p "$dst/$path"; done
  (cd "$src" && find . ! -type d -printf '%P\n' | LC_ALL=C sort -r) |
    while IFS= read -r path; do
      if [ -L "$src/$path" ]; then
        ln -s "$(readlink "$src/$path")" "$dst/$path"
      else
        cat "$src/$path" >"$dst/$path"
      fi
    done
  (cd "$src" && find . ! -type l -printf '%m %P\n') |
    while read -r mode path; do chmod "$mode" "$dst/${path:-.}"; done
  local i=0
  (cd "$src" && find . -printf '%P\n' | LC_ALL=C sort -r) |
    while IFS= read -r path; do
      i=$((i + 1))
      touch -h -a -d @$((SDE - 5000 - i)) "$dst/${path:-.}"
      if [ "$(stat -c %Y "$src/${path:-.}")" -lt "$SDE" ]; then
        touch -h -m -r "$src/${path:-.}" "$dst/${path:-.}"
      else
        touch -h -m -d @$((SDE + 1000 + i * 37)) "$dst/${path:-.}"
      fi
    done
}
copy_shuffled "$T/a" "$T/elsewhere/deeper/b"
# Owners on disk never reach the package.
if [ "$(id -u)" -eq 0 ]; then
  chown -h 65534:65534 "$T/elsewhere/deeper/b/usr/bin/$NAME" "$T/elsewhere/deeper/b/usr/share/$NAME/link-to-data"
  chown 12345:54321 "$T/elsewhere/deeper/b/usr/share/$NAME/nested"
fi

msg "the two trees hold the same content"
testequal "$(tree_listing "$T/a")" tree_listing "$T/elsewhere/deeper/b"
testequal "$(cd "$T/a" && find DEBIAN -printf '%P %m\n' | sort)" \
  sh -c "cd '$T/elsewhere/deeper/b' && find DEBIAN -printf '%P %m\n' | sort"

# pack_as SDE OUT TREE [ARGS...]: aptship pack under SOURCE_DATE_EPOCH=SDE.
pack_as() {
  local sde=$1 out=$2 tree=$3
  shift 3
  SOURCE_DATE_EPOCH=$sde "$APTSHIP" pack "$tree" -o "$out" "$@"
}

for compress in zstd xz gzip none; do
  ext=$(compression_ext "$compress")
  msg "--compress $compress: same input, same bytes"
  d="$T/$compress"
  mkdir -p "$d"
  testsuccess pack_as $SDE "$d/first.deb" "$T/a" --compress "$compress"
  testsuccess pack_as $SDE "$d/second.deb" "$T/a" --compress "$compress"
  testfilesame "$d/first.deb" "$d/second.deb"
  testsuccess pack_as $SDE "$d/shuffled.deb" "$T/elsewhere/deeper/b" --compress "$compress"
  testfilesame "$d/first.deb" "$d/shuffled.deb"
  # A relative tree path from another working directory, another umask,
  # other TZ and locale.
  testsuccess sh -c "cd '$T/elsewhere' && umask 077 && TZ=Asia/Tokyo LC_ALL=C SOURCE_DATE_EPOCH=$SDE \
    '$APTSHIP' pack deeper/b -o '$d/relative.deb' --compress '$compress'"
  testfilesame "$d/first.deb" "$d/relative.deb"

  msg "--compress $compress: another SOURCE_DATE_EPOCH, other bytes"
  testsuccess pack_as $((SDE + 1)) "$d/later.deb" "$T/a" --compress "$compress"
  testfilediffer "$d/first.deb" "$d/later.deb"

  msg "--compress $compress: mtimes clamped to SOURCE_DATE_EPOCH"
  testdecompress "$d/first.deb" "data.tar$ext" "$d/data.tar"
  deb_tool tar-list "$d/data.tar" | cut -f1,2 | LC_ALL=C sort >"$d/mtimes" || true
  (
    cd "$T/a" || exit 1
    find . ! -path ./DEBIAN ! -path './DEBIAN/*' -printf '%y\t%T@\t%P\n' |
      while IFS=$'\t' read -r type mtime path; do
        mtime=${mtime%.*}
        [ "$mtime" -le "$SDE" ] || mtime=$SDE
        if [ -z "$path" ]; then
          path=./
        elif [ "$type" = d ]; then
          path="./$path/"
        else
          path="./$path"
        fi
        printf '%s\t%s\n' "$path" "$mtime"
      done | LC_ALL=C sort
  ) >"$d/expected-mtimes"
  testdiff "every data.tar mtime is min(file mtime, SOURCE_DATE_EPOCH)" "$d/expected-mtimes" "$d/mtimes"
  testdecompress "$d/first.deb" "control.tar$ext" "$d/control.tar"
  testtrue "control.tar mtimes are <= SOURCE_DATE_EPOCH" deb_tool tar-check "$d/control.tar" "$SDE"
  deb_tool ar-check "$d/first.deb" | sed -E 's/.*\tmtime=([0-9]+)\t.*/\1/' | sort -u >"$d/ar-mtimes" || true
  testfileequal "$d/ar-mtimes" "$SDE"
done

msg "SOURCE_DATE_EPOCH older than every file"
EARLY=1500000000
testsuccess pack_as $EARLY "$T/early.deb" "$T/a" --compress gzip
testdecompress "$T/early.deb" data.tar.gz "$T/early.tar"
deb_tool tar-list "$T/early.tar" | cut -f2 | sort -u >"$T/early-mtimes" || true
testfileequal "$T/early-mtimes" "$EARLY"
testsuccess pack_as $EARLY "$T/early-b.deb" "$T/elsewhere/deeper/b" --compress gzip
testfilesame "$T/early.deb" "$T/early-b.deb"

msg "levels are part of the input"
testsuccess pack_as $SDE "$T/l1.deb" "$T/a" --compress zstd --level 1
testsuccess pack_as $SDE "$T/l1-again.deb" "$T/elsewhere/deeper/b" --compress zstd --level 1
testfilesame "$T/l1.deb" "$T/l1-again.deb"
testfilediffer "$T/l1.deb" "$T/zstd/first.deb"

finish
