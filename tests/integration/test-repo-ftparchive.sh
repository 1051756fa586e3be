#!/bin/bash
# aptship's Packages indexes against `apt-ftparchive packages` run on the
# same pool: for every package, the same fields with the same values
# (field order aside), and the same set of packages. The packages cover
# epochs, tildes, Depends/Pre-Depends/Recommends with alternatives and
# versions, multi-line descriptions, Multi-Arch, every architecture kind,
# a lib* name (pool prefix of four letters) and several versions of one name.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016,SC2317,SC2119 # single-quoted programs; functions run via helpers; optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/repo.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/repo.sh"

require_cmd apt-ftparchive dpkg-deb "$PYTHON"
require_aptship

DATA="$T/data"

# make_rich_deb NAME VERSION ARCH FIELDS: like make_deb, with FIELDS
# (complete control lines) added to the control file.
make_rich_deb() {
  local name=$1 version=$2 arch=$3 fields=$4
  local dir="$T/rich/${name}_${version#*:}_$arch"
  mkdir -p "$dir/DEBIAN" "$dir/usr/lib/$name" "$DEBS"
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\n' "$name" "$version" "$arch"
    printf 'Maintainer: Jane Doe <jane@example.org>\n'
    printf '%s\n' "$fields"
    printf 'Description: %s summary\n first line\n .\n  indented  line\n last line\n' "$name"
  } >"$dir/DEBIAN/control"
  head -c 20000 /dev/urandom >"$dir/usr/lib/$name/blob"
  chmod 0644 "$dir/DEBIAN/control" "$dir/usr/lib/$name/blob"
  chmod 0755 "$dir" "$dir/DEBIAN" "$dir/usr" "$dir/usr/lib" "$dir/usr/lib/$name"
  dpkg-deb --root-owner-group -Zxz --build "$dir" "$(deb_file "$name" "$version" "$arch")" >/dev/null
}

# packages_keys FILE...: "Package Version Architecture" of every stanza,
# sorted.
packages_keys() {
  awk 'function flush() { if (p != "") print p, v, a; p = v = a = "" }
    FNR == 1 { flush() }
    /^Package: /{p=$2} /^Version: /{v=$2} /^Architecture: /{a=$2} /^$/{flush()} END{flush()}' "$@" |
    LC_ALL=C sort -u
}

msg "packages"
make_deb hello 1.0 all
make_deb hello 1.1 all
make_deb hello 2.0~rc1 all 'libfoo1 (>= 1:2.0), base-files | coreutils'
make_rich_deb libfoo1 1:2.0-1 amd64 'Source: foo (2.0-1)
Multi-Arch: same
Section: libs
Priority: optional
Pre-Depends: libc6 (>= 2.34)
Depends: libc6 (>= 2.34), zlib1g (>= 1:1.2.0) | libz-ng
Recommends: foo-data
Homepage: https://example.org/foo'
make_rich_deb libfoo1 1:2.0-1 arm64 'Source: foo (2.0-1)
Multi-Arch: same
Section: libs
Priority: optional
Depends: libc6 (>= 2.34)'
make_rich_deb foo-data 2.0-1 all 'Source: foo
Multi-Arch: foreign
Section: misc
Priority: optional
Installed-Size: 12345
Essential: no
X-Custom-Field: kept as is'
make_rich_deb tool 0.9+git20240101.abc-1 amd64 'Section: utils
Priority: extra
Built-Using: gcc-12 (= 12.2.0-14)
Provides: tool-virtual (= 0.9)
Conflicts: old-tool
Breaks: old-tool (<< 0.5)
Replaces: old-tool'

repo_init "$DATA" '[suites.stable]
architectures = ["amd64", "arm64"]'
testsuccess aptship --data "$DATA" repo add "$DEBS"
# A second suite lists some of the same files.
testsuccess aptship --data "$DATA" repo promote hello=1.0 --from stable --to testing
testsuccess aptship --data "$DATA" repo add --suite testing "$(deb_file tool 0.9+git20240101.abc-1 amd64)"

msg "apt-ftparchive packages pool/"
testsuccess sh -c 'cd "$1" && apt-ftparchive packages pool/ >"$2"' - "$DATA/public" "$T/ftparchive"
info "$(grep -c '^Package: ' "$T/ftparchive") packages in apt-ftparchive's index"

# Every Packages file aptship published, in every suite and architecture.
find -L "$DATA/public/dists" -path '*/by-hash' -prune -o -name Packages -type f -print |
  LC_ALL=C sort >"$T/indexes"
info "$(wc -l <"$T/indexes") Packages files published"
testtrue "aptship published Packages files" test -s "$T/indexes"

# compare OURS THEIRS: each stanza of OURS equals THEIRS' stanza of the
# same (Package, Version, Architecture) as a set of fields; Filename is
# compared from pool/ on. Prints one line per difference.
compare() {
  "$PYTHON" - "$@" <<'PYEOF'
import sys

def stanzas(path):
    text = open(path, encoding='utf-8').read()
    out = []
    for block in text.split('\n\n'):
        block = block.strip('\n')
        if not block:
            continue
        fields, last = {}, None
        for line in block.split('\n'):
            if line[:1] in (' ', '\t'):
                fields[last] += '\n' + line
            else:
                name, _, value = line.partition(':')
                last = name
                if name in fields:
                    raise SystemExit(f'{path}: field {name} twice in a stanza')
                fields[name] = value.strip(' ')
        out.append(fields)
    return out

def key(f):
    return (f.get('Package'), f.get('Version'), f.get('Architecture'))

ours, theirs = sys.argv[1], sys.argv[2]
reference = {}
for f in stanzas(theirs):
    reference[key(f)] = f
problems = 0
for f in stanzas(ours):
    ref = reference.get(key(f))
    if ref is None:
        print(f'{ours}: {key(f)}: apt-ftparchive lists no such package')
        problems += 1
        continue
    mine = dict(f)
    other = dict(ref)
    for d in (mine, other):
        if 'Filename' in d:
            d['Filename'] = d['Filename'][d['Filename'].find('pool/'):]
    for name in sorted(set(mine) | set(other)):
        if mine.get(name) != other.get(name):
            print(f'{ours}: {key(f)}: {name}: aptship {mine.get(name)!r}, apt-ftparchive {other.get(name)!r}')
            problems += 1
sys.exit(1 if problems else 0)
PYEOF
}

msg "field for field"
while read -r index; do
  testtrue "${index#"$DATA"/public/}: every stanza as apt-ftparchive writes it" \
    compare "$index" "$T/ftparchive"
done <"$T/indexes"

msg "the same packages"
packages_keys "$T/ftparchive" >"$T/keys-ftparchive"
# shellcheck disable=SC2046 # one argument per index path (no spaces in them)
packages_keys $(cat "$T/indexes") >"$T/keys-ours"
testdiff "every pool package is in some index, and no index lists another" \
  "$T/keys-ftparchive" "$T/keys-ours"
testequal "$(find "$DATA/public/pool" -name '*.deb' | wc -l)" wc -l <"$T/keys-ftparchive"
# The lib prefix of the pool (Debian's convention).
testequal 2 sh -c 'ls "$1" | wc -l' - "$DATA/public/pool/main/libf/libfoo1"
testfile "$DATA/public/pool/main/f/foo-data/foo-data_2.0-1_all.deb"

msg "per architecture: 'all' everywhere, others only in their own index"
AMD64=$(packages_file "$DATA" stable amd64)
ARM64=$(packages_file "$DATA" stable arm64)
testequal "foo-data 2.0-1 all
hello 1.0 all
hello 1.1 all
hello 2.0~rc1 all
libfoo1 1:2.0-1 amd64
tool 0.9+git20240101.abc-1 amd64" packages_keys "$AMD64"
testequal "foo-data 2.0-1 all
hello 1.0 all
hello 1.1 all
hello 2.0~rc1 all
libfoo1 1:2.0-1 arm64" packages_keys "$ARM64"

finish
