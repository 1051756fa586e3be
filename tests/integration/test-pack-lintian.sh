#!/bin/bash
# lintian finds nothing in an `aptship pack` package that it does not also
# find in the package `dpkg-deb --root-owner-group -b` builds from the same
# tree with the same compression: every tag line of ours (tag and context)
# must appear among the reference's.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2317 # functions run through the assertion helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"

require_cmd lintian dpkg-deb md5sum
require_aptship

export SOURCE_DATE_EPOCH=1700000000
NAME=hello

make_tree "$T/tree" "$NAME" 1.0-1
# The reference tree gets the md5sums file aptship generates (every regular
# file but the conffiles, as debhelper writes it): dpkg-deb -b packs
# DEBIAN/ as it is and makes none, and without it lintian would tag the
# reference alone (no-md5sums-control-file), hiding a wrong md5sums of ours.
cp -a "$T/tree" "$T/ref-tree"
(cd "$T/ref-tree" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' |
  LC_ALL=C sort -z | xargs -0 md5sum) >"$T/md5sums"
mv "$T/md5sums" "$T/ref-tree/DEBIAN/md5sums"

# Every tag lintian knows, experimental and pedantic included, none
# truncated, no user configuration; sorted tag lines. The exit code
# reflects lintian's own failures only (it cannot unpack, it crashes).
run_lintian() {
  lintian --no-cfg --fail-on none --tag-display-limit 0 --display-experimental \
    --display-info --pedantic "$1" 2>"$1.stderr" | LC_ALL=C sort -u
}

for compress in zstd xz gzip none; do
  msg "lintian, --compress $compress"
  ours="$T/ours-$compress.deb"
  ref="$T/ref-$compress.deb"
  testsuccess aptship pack "$T/tree" -o "$ours" --compress "$compress"
  testsuccess dpkg-deb --root-owner-group -Z"$compress" -b "$T/ref-tree" "$ref"
  if [ ! -f "$ours" ] || [ ! -f "$ref" ]; then continue; fi
  testtrue "lintian ran on aptship's package" run_lintian "$ours"
  cp "$OUT" "$T/tags-ours-$compress"
  testtrue "lintian ran on dpkg-deb's package" run_lintian "$ref"
  cp "$OUT" "$T/tags-ref-$compress"
  LC_ALL=C comm -23 "$T/tags-ours-$compress" "$T/tags-ref-$compress" >"$T/extra-$compress"
  if [ -s "$T/extra-$compress" ]; then
    _fail "lintian gives aptship's $compress package no tag beyond dpkg-deb's" \
      "tags only aptship's package gets:" "$(sed 's/^/  | /' "$T/extra-$compress")" \
      "tags of dpkg-deb's package:" "$(sed 's/^/  | /' "$T/tags-ref-$compress")"
  else
    _pass "lintian gives aptship's $compress package no tag beyond dpkg-deb's"
  fi
  info "tags on aptship's package ($(wc -l <"$T/tags-ours-$compress")):"
  sed 's/^/      /' "$T/tags-ours-$compress"
  LC_ALL=C comm -13 "$T/tags-ours-$compress" "$T/tags-ref-$compress" >"$T/fewer-$compress"
  if [ -s "$T/fewer-$compress" ]; then
    info "tags only dpkg-deb's package gets:"
    sed 's/^/      /' "$T/fewer-$compress"
  fi
done

finish
