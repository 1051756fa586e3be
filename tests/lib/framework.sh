# Shared framework of aptship's shell suites (tests/integration, tests/e2e).
#
# A suite sources this file, calls the helpers below and ends with
# `finish`. Every assertion prints what it ran and what went wrong; a failed
# assertion is counted and the suite goes on, so one run shows every problem.
# A command that fails outside an assertion aborts the suite (set -e) and the
# exit trap names the line.
#
# Environment (CTest sets the first three):
#   APTSHIP               the aptship binary under test
#   APTSHIP_SOURCE_DIR    the source tree
#   APTSHIP_BUILD_DIR     the build tree
#   APTSHIP_KEEP_TMP=1    keep the suite's temp dir when the suite fails
#                         (=always: keep it in any case)
#   APTSHIP_REQUIRE_E2E=1 a suite that would be skipped fails instead (CI)
#   APTSHIP_VERBOSE=1     show the output of successful commands too

set -euo pipefail
umask 022
export LC_ALL=C.UTF-8 TZ=UTC
# dpkg wants ldconfig and start-stop-daemon on PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
# Tools under test must never read the user's keys or configuration.
unset GNUPGHOME APTSHIP_DATA SOURCE_DATE_EPOCH

SUITE_NAME="$(basename "${BASH_SOURCE[1]:-$0}" .sh)"
SUITE_DIR="$(cd "$(dirname "${BASH_SOURCE[1]:-$0}")" && pwd)"
APTSHIP_SOURCE_DIR="${APTSHIP_SOURCE_DIR:-$(cd "$SUITE_DIR/../.." && pwd)}"
APTSHIP_BUILD_DIR="${APTSHIP_BUILD_DIR:-$APTSHIP_SOURCE_DIR/build}"
APTSHIP="${APTSHIP:-$APTSHIP_BUILD_DIR/aptship}"
PYTHON="${PYTHON:-python3}"

TESTS_TOTAL=0
TESTS_FAILED=0
FAILED_NAMES=()
SUITE_FINISHED=0
# Data dirs and GnuPG homes whose agents are stopped on exit.
GNUPG_HOMES=()

if [ -t 1 ]; then
  C_RED=$'\e[31m' C_GREEN=$'\e[32m' C_YELLOW=$'\e[33m' C_BOLD=$'\e[1m' C_RESET=$'\e[0m'
else
  C_RED='' C_GREEN='' C_YELLOW='' C_BOLD='' C_RESET=''
fi

T="$(mktemp -d "${TMPDIR:-/tmp}/aptship-${SUITE_NAME}.XXXXXX")"
# Per-command captures: stdout and stderr of the last command an assertion ran.
OUT="$T/.stdout"
ERR="$T/.stderr"

# ---------------------------------------------------------------- messages

# msg TEXT...: a heading for the next group of assertions.
msg() { printf '%s==> %s%s\n' "$C_BOLD" "$*" "$C_RESET"; }

# info TEXT...: a detail worth seeing in the log.
info() { printf '    %s\n' "$*"; }

# Shows a command as it could be pasted into a shell.
_quote_cmd() {
  local out='' a
  for a in "$@"; do out+="$(printf '%q' "$a") "; done
  printf '%s' "${out% }"
}

# Shows a file's content indented, at most 40 lines.
_show() {
  local label=$1 file=$2
  [ -s "$file" ] || { printf '      %s: (empty)\n' "$label"; return 0; }
  printf '      %s:\n' "$label"
  head -n 40 "$file" | sed 's/^/        | /'
  local lines
  lines=$(wc -l <"$file")
  [ "$lines" -le 40 ] || printf '        | ... (%d lines in all)\n' "$lines"
}

_pass() {
  TESTS_TOTAL=$((TESTS_TOTAL + 1))
  printf '  %sPASS%s %s\n' "$C_GREEN" "$C_RESET" "$1"
  if [ "${APTSHIP_VERBOSE:-0}" = 1 ]; then
    _show stdout "$OUT"
    _show stderr "$ERR"
  fi
}

# _fail DESCRIPTION [DETAIL...]: counts a failure and prints why.
_fail() {
  TESTS_TOTAL=$((TESTS_TOTAL + 1))
  TESTS_FAILED=$((TESTS_FAILED + 1))
  FAILED_NAMES+=("$1")
  printf '  %sFAIL%s %s\n' "$C_RED" "$C_RESET" "$1"
  shift
  local line
  for line in "$@"; do printf '      %s\n' "$line"; done
  return 0
}

# ---------------------------------------------------------------- assertions

# testsuccess CMD...: CMD exits 0.
testsuccess() {
  local rc=0
  "$@" >"$OUT" 2>"$ERR" || rc=$?
  if [ "$rc" -eq 0 ]; then
    _pass "$(_quote_cmd "$@")"
  else
    _fail "$(_quote_cmd "$@")" "expected success, exit code $rc"
    _show stdout "$OUT"
    _show stderr "$ERR"
  fi
}

# testfailure CMD...: CMD exits non-zero.
testfailure() {
  local rc=0
  "$@" >"$OUT" 2>"$ERR" || rc=$?
  if [ "$rc" -ne 0 ]; then
    _pass "$(_quote_cmd "$@") (fails, exit $rc)"
  else
    _fail "$(_quote_cmd "$@")" "expected failure, but it exited 0"
    _show stdout "$OUT"
    _show stderr "$ERR"
  fi
}

# testfailuremsg TEXT CMD...: CMD exits non-zero and its stderr contains TEXT
# (a fixed string).
testfailuremsg() {
  local text=$1 rc=0
  shift
  "$@" >"$OUT" 2>"$ERR" || rc=$?
  if [ "$rc" -eq 0 ]; then
    _fail "$(_quote_cmd "$@")" "expected failure with '$text' on stderr, but it exited 0"
    _show stderr "$ERR"
  elif ! grep -qF -- "$text" "$ERR"; then
    _fail "$(_quote_cmd "$@")" "failed (exit $rc) but stderr lacks '$text'"
    _show stderr "$ERR"
  else
    _pass "$(_quote_cmd "$@") (fails with '$text')"
  fi
}

# testequal EXPECTED CMD...: CMD exits 0 and prints exactly EXPECTED (the
# final newline aside).
testequal() {
  local expected=$1 rc=0
  shift
  "$@" >"$OUT" 2>"$ERR" || rc=$?
  if [ "$rc" -ne 0 ]; then
    _fail "$(_quote_cmd "$@")" "expected output '$expected', but exit code $rc"
    _show stderr "$ERR"
  elif [ "$(cat "$OUT")" != "$expected" ]; then
    printf '%s\n' "$expected" >"$T/.expected"
    _fail "$(_quote_cmd "$@")" "output differs from the expected (diff expected actual):"
    diff -u "$T/.expected" "$OUT" | tail -n +3 | head -n 40 | sed 's/^/        | /' || true
  else
    _pass "$(_quote_cmd "$@") = $(printf '%q' "$(head -c 60 "$OUT")")"
  fi
}

# testfileequal FILE EXPECTED: FILE holds exactly EXPECTED (the final newline
# aside).
testfileequal() {
  local file=$1 expected=$2
  if [ ! -f "$file" ]; then
    _fail "content of $file" "file is missing"
  elif [ "$(cat "$file")" != "$expected" ]; then
    printf '%s\n' "$expected" >"$T/.expected"
    _fail "content of $file" "differs from the expected (diff expected actual):"
    diff -u "$T/.expected" "$file" | tail -n +3 | head -n 40 | sed 's/^/        | /' || true
  else
    _pass "content of $file"
  fi
}

# testfilesame A B: files A and B are byte-identical.
testfilesame() {
  if cmp -- "$1" "$2" >"$OUT" 2>&1; then
    _pass "$1 and $2 are identical"
  else
    _fail "$1 and $2 are identical" "$(cat "$OUT")"
  fi
}

# testfilediffer A B: files A and B differ.
testfilediffer() {
  if [ -f "$1" ] && [ -f "$2" ] && ! cmp -s -- "$1" "$2"; then
    _pass "$1 and $2 differ"
  else
    _fail "$1 and $2 differ" "they are identical (or one is missing)"
  fi
}

# testfile PATH: PATH exists (any type, a dangling symlink included).
testfile() {
  if [ -e "$1" ] || [ -L "$1" ]; then _pass "$1 exists"; else _fail "$1 exists" "it does not"; fi
}

# testnofile PATH: PATH does not exist.
testnofile() {
  if [ -e "$1" ] || [ -L "$1" ]; then
    _fail "$1 does not exist" "it does: $(ls -ld -- "$1")"
  else
    _pass "$1 does not exist"
  fi
}

# testgrep ERE FILE: a line of FILE matches the extended regex ERE.
testgrep() {
  if grep -qE -- "$1" "$2"; then
    _pass "$2 matches /$1/"
  else
    _fail "$2 matches /$1/" "no line does"
    _show "$2" "$2"
  fi
}

# testnogrep ERE FILE: no line of FILE matches ERE.
testnogrep() {
  if grep -qE -- "$1" "$2"; then
    _fail "$2 has no line matching /$1/" "these do:"
    grep -E -- "$1" "$2" | head -n 20 | sed 's/^/        | /'
  else
    _pass "$2 has no line matching /$1/"
  fi
}

# testdiff DESCRIPTION A B: files A and B have the same lines (shows a diff).
testdiff() {
  if diff -u -- "$2" "$3" >"$T/.diff" 2>&1; then
    _pass "$1"
  else
    _fail "$1" "diff $2 $3:"
    head -n 60 "$T/.diff" | sed 's/^/        | /'
  fi
}

# testtrue DESCRIPTION CMD...: like testsuccess, with a readable name.
testtrue() {
  local description=$1 rc=0
  shift
  "$@" >"$OUT" 2>"$ERR" || rc=$?
  if [ "$rc" -eq 0 ]; then
    _pass "$description"
  else
    _fail "$description" "$(_quote_cmd "$@") exited $rc"
    _show stdout "$OUT"
    _show stderr "$ERR"
  fi
}

# ---------------------------------------------------------------- skipping

# skip REASON: the suite cannot run here (exit 77, shown as skipped), unless
# APTSHIP_REQUIRE_E2E=1, where it is a failure.
skip() {
  if [ "${APTSHIP_REQUIRE_E2E:-0}" = 1 ]; then
    printf '%sFAIL%s %s: cannot run (%s) and APTSHIP_REQUIRE_E2E=1 forbids skipping\n' \
      "$C_RED" "$C_RESET" "$SUITE_NAME" "$*"
    SUITE_FINISHED=1
    exit 1
  fi
  printf '%sSKIP%s %s: %s\n' "$C_YELLOW" "$C_RESET" "$SUITE_NAME" "$*"
  SUITE_FINISHED=1
  exit 77
}

# require_cmd NAME...: skip the suite unless every NAME is on PATH.
require_cmd() {
  local c missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ "${#missing[@]}" -eq 0 ] || skip "missing tools: ${missing[*]}"
}

# require_aptship: the binary under test exists (its absence is a failure,
# not a skip: the build is broken).
require_aptship() {
  if [ ! -x "$APTSHIP" ]; then
    printf '%sFAIL%s %s: aptship binary not found at %s (set APTSHIP)\n' \
      "$C_RED" "$C_RESET" "$SUITE_NAME" "$APTSHIP"
    SUITE_FINISHED=1
    exit 1
  fi
}

# ---------------------------------------------------------------- exit

# finish: the summary line; exits 1 if any assertion failed.
finish() {
  SUITE_FINISHED=1
  if [ "$TESTS_FAILED" -eq 0 ]; then
    printf '%s%s: all %d checks passed%s\n' "$C_GREEN" "$SUITE_NAME" "$TESTS_TOTAL" "$C_RESET"
    exit 0
  fi
  printf '%s%s: %d of %d checks FAILED:%s\n' "$C_RED" "$SUITE_NAME" "$TESTS_FAILED" "$TESTS_TOTAL" "$C_RESET"
  local name
  for name in "${FAILED_NAMES[@]}"; do printf '    %s\n' "$name"; done
  exit 1
}

_on_exit() {
  local rc=$?
  set +e
  if [ "$SUITE_FINISHED" != 1 ]; then
    printf '%s%s: ABORTED (exit %d) at line %s: %s%s\n' "$C_RED" "$SUITE_NAME" "$rc" \
      "${_ERR_LINE:-?}" "${_ERR_CMD:-?}" "$C_RESET"
    printf '    %d checks ran before, %d of them failed\n' "$TESTS_TOTAL" "$TESTS_FAILED"
    [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || rc=1
  fi
  local home
  for home in "${GNUPG_HOMES[@]}"; do
    [ -d "$home" ] && gpgconf --homedir "$home" --kill all >/dev/null 2>&1
  done
  if [ "${APTSHIP_KEEP_TMP:-0}" = always ] ||
    { [ "${APTSHIP_KEEP_TMP:-0}" = 1 ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
    printf 'kept temp dir %s\n' "$T"
  else
    chmod -R u+rwX "$T" 2>/dev/null
    rm -rf "$T"
  fi
  exit "$rc"
}
trap '_ERR_LINE=$LINENO; _ERR_CMD=$BASH_COMMAND' ERR
trap _on_exit EXIT
set -E

# ---------------------------------------------------------------- aptship

# aptship ARGS...: the binary under test.
aptship() { "$APTSHIP" "$@"; }

# aptship_init DATADIR: `aptship --data DATADIR init`, once per data dir.
aptship_init() {
  local data=$1
  if [ ! -d "$data/gnupg" ]; then
    testsuccess "$APTSHIP" --data "$data" init
  fi
  GNUPG_HOMES+=("$data/gnupg")
}

# new_gnupg_home DIR: an empty GnuPG home for the test's own gpg calls.
new_gnupg_home() {
  mkdir -p "$1"
  chmod 0700 "$1"
  GNUPG_HOMES+=("$1")
}

# ---------------------------------------------------------------- trees

# make_tree DIR NAME VERSION: a package source tree as `dpkg-deb -b` takes it:
# DEBIAN/control, conffiles and maintainer scripts (0755, with shebang), a
# conffile under /etc, an executable, nested dirs, an empty dir, relative and
# absolute symlinks, a file with spaces in its name, a private file (0640),
# a setgid directory and a file large enough to compress. Every mode is set explicitly, so the
# tree does not depend on the umask.
make_tree() {
  local dir=$1 name=$2 version=$3
  local share="$dir/usr/share/$name" doc="$dir/usr/share/doc/$name"
  mkdir -p "$dir/DEBIAN" "$dir/etc/$name" "$dir/usr/bin" "$share/nested/deeper" \
    "$share/empty" "$doc" "$dir/var/lib/$name"
  cat >"$dir/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: all
Maintainer: aptship tests <tests@example.org>
Section: misc
Priority: optional
Homepage: https://example.org/$name
Description: test package built by aptship's integration suites
 This package exercises every kind of entry the packer handles: nested
 directories, an empty directory, symlinks, executables, a conffile and
 a file whose name contains spaces.
EOF
  printf '/etc/%s/%s.conf\n' "$name" "$name" >"$dir/DEBIAN/conffiles"
  # Under --force-script-chrootless dpkg exports DPKG_ROOT: the scripts leave
  # a trace there, and never touch the host when run that way.
  cat >"$dir/DEBIAN/postinst" <<EOF
#!/bin/sh
set -e
if [ -n "\${DPKG_ROOT:-}" ]; then
	echo "\$1" >"\$DPKG_ROOT/var/lib/$name/postinst-ran"
fi
EOF
  cat >"$dir/DEBIAN/prerm" <<EOF
#!/bin/sh
set -e
if [ -n "\${DPKG_ROOT:-}" ]; then
	echo "\$1" >"\$DPKG_ROOT/var/lib/$name/prerm-ran"
fi
EOF
  chmod 0755 "$dir/DEBIAN/postinst" "$dir/DEBIAN/prerm"
  chmod 0644 "$dir/DEBIAN/control" "$dir/DEBIAN/conffiles"

  printf '# %s configuration\nlisten = 127.0.0.1:8000\n' "$name" >"$dir/etc/$name/$name.conf"
  printf '#!/bin/sh\necho "%s %s"\n' "$name" "$version" >"$dir/usr/bin/$name"
  chmod 0755 "$dir/usr/bin/$name"
  printf 'data of %s\n' "$name" >"$share/data.txt"
  printf 'deep\n' >"$share/nested/deeper/file.txt"
  printf 'spaces in the name\n' >"$share/with space.txt"
  printf 'private\n' >"$share/private.key"
  chmod 0640 "$share/private.key"
  seq 1 40000 >"$share/numbers.txt" # ~230 KB: something to compress
  ln -s data.txt "$share/link-to-data"
  ln -s ../../bin/"$name" "$share/nested/link-to-bin"
  ln -s /etc/"$name"/"$name".conf "$share/absolute-link"
  cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $name

Files: *
Copyright: 2024 aptship tests
License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a
 copy of this software, to deal in the software without restriction.
EOF
  find "$dir" -type f ! -path "$dir/DEBIAN/*" ! -perm /111 ! -name private.key -exec chmod 0644 {} +
  find "$dir" -type d -exec chmod 0755 {} +
  chmod 2775 "$dir/var/lib/$name" # setgid: mode bits beyond 0777 survive
}

# tree_listing DIR: one line per entry below DIR (DEBIAN excluded): path,
# type, mode, symlink target, and a sha256 for regular files.
tree_listing() {
  local dir=$1
  (
    cd "$dir"
    find . -mindepth 1 ! -path ./DEBIAN ! -path './DEBIAN/*' -printf '%P\t%y\t%m\t%l\n' |
      while IFS=$'\t' read -r path type mode target; do
        if [ "$type" = f ]; then
          printf '%s\t%s\t%s\t%s\t%s\n' "$path" "$type" "$mode" "$target" \
            "$(sha256sum <"$path" | cut -d' ' -f1)"
        else
          printf '%s\t%s\t%s\t%s\t-\n' "$path" "$type" "$mode" "$target"
        fi
      done | LC_ALL=C sort
  )
}

# ---------------------------------------------------------------- packages

# compression_ext METHOD: the member suffix for an --compress METHOD.
compression_ext() {
  case $1 in
    zstd) echo .zst ;;
    xz) echo .xz ;;
    gzip) echo .gz ;;
    none) echo '' ;;
    *) return 1 ;;
  esac
}

# decompress_member DEB MEMBER: MEMBER's decompressed bytes on stdout.
decompress_member() {
  local deb=$1 member=$2
  case $member in
    *.zst) ar p "$deb" "$member" | zstd -dc ;;
    *.xz) ar p "$deb" "$member" | xz -dc ;;
    *.gz) ar p "$deb" "$member" | gzip -dc ;;
    *) ar p "$deb" "$member" ;;
  esac
}

# testdecompress DEB MEMBER FILE: MEMBER of DEB decompresses cleanly with the
# stock tool (trailing bytes after the compressed stream are an error) and
# is written to FILE.
testdecompress() {
  local deb=$1 member=$2 file=$3 rc=0
  decompress_member "$deb" "$member" >"$file" 2>"$ERR" || rc=$?
  if [ "$rc" -eq 0 ]; then
    _pass "$member of $(basename "$deb") decompresses cleanly"
  else
    _fail "$member of $(basename "$deb") decompresses cleanly" "exit code $rc"
    _show stderr "$ERR"
  fi
}

# deb_tool SUBCOMMAND ARGS...: byte-level helpers written in Python, so that
# the structure is checked independently of aptship's own reader:
#   ar-check DEB                       ar magic, headers, padding; prints members
#   ar-offset DEB MEMBER               "OFFSET SIZE" of MEMBER's data
#   ar-splice OUT BASE DONOR MEMBER    BASE without MEMBER, plus DONOR's MEMBER
#   trailing-zeros DEB MEMBER          fails if MEMBER ends in 16+ zero bytes
#                                      (padding after a compressed stream)
#   flip-byte FILE OFFSET              XOR the byte at OFFSET with 0xff
#   tar-check TARFILE [SDE]            header format, owners, order (see below)
#   tar-list TARFILE                   "path<TAB>mtime<TAB>type" per entry
deb_tool() {
  "$PYTHON" - "$@" <<'PYEOF'
import os, sys

def ar_members(path):
    data = open(path, 'rb').read()
    if data[:8] != b'!<arch>\n':
        raise SystemExit(f'{path}: bad ar magic {data[:8]!r}')
    pos, members = 8, []
    while pos < len(data):
        if pos + 60 > len(data):
            raise SystemExit(f'{path}: truncated ar header at offset {pos}')
        hdr = data[pos:pos + 60]
        if hdr[58:60] != b'`\n':
            raise SystemExit(f'{path}: bad ar header terminator at offset {pos}: {hdr!r}')
        name = hdr[0:16].decode('ascii').rstrip(' ')
        try:
            size = int(hdr[48:58].decode('ascii').strip())
            fields = dict(mtime=int(hdr[16:28].strip() or 0), uid=int(hdr[28:34].strip() or 0),
                          gid=int(hdr[34:40].strip() or 0), mode=hdr[40:48].decode().strip())
        except ValueError:
            raise SystemExit(f'{path}: bad ar header at offset {pos}: {hdr!r}')
        start = pos + 60
        if start + size > len(data):
            raise SystemExit(f'{path}: member {name} runs past the end of the file')
        members.append(dict(name=name, offset=start, size=size, header=hdr, **fields))
        pos = start + size
        if size % 2:
            if data[pos:pos + 1] != b'\n':
                raise SystemExit(f'{path}: member {name} of odd size not padded with \\n')
            pos += 1
    return data, members

def octal(field):
    field = field.rstrip(b'\0 ').lstrip(b' ')
    return int(field, 8) if field else 0

def number(field):
    if field[0] & 0x80:  # GNU base-256
        value = int.from_bytes(field[1:], 'big')
        return value
    return octal(field)

def tar_entries(path):
    """Yields (header, name, size, typeflag, mtime, uid, gid, uname, gname, linkname, magic)."""
    data = open(path, 'rb').read()
    pos, long_name, long_link = 0, None, None
    zero_blocks = 0
    while pos + 512 <= len(data):
        hdr = data[pos:pos + 512]
        if hdr == b'\0' * 512:
            zero_blocks += 1
            pos += 512
            continue
        if zero_blocks:
            raise SystemExit(f'{path}: data after an end-of-archive block at {pos}')
        chksum = octal(hdr[148:156])
        computed = sum(hdr[:148]) + 8 * 32 + sum(hdr[156:])
        if chksum != computed:
            raise SystemExit(f'{path}: bad header checksum at offset {pos}')
        typeflag = chr(hdr[156]) if hdr[156] else '0'
        size = number(hdr[124:136])
        body = data[pos + 512:pos + 512 + size]
        pos += 512 + (size + 511) // 512 * 512
        if typeflag == 'L':
            long_name = body.rstrip(b'\0').decode('utf-8', 'surrogateescape')
            yield dict(meta=True, typeflag='L', magic=hdr[257:265])
            continue
        if typeflag == 'K':
            long_link = body.rstrip(b'\0').decode('utf-8', 'surrogateescape')
            yield dict(meta=True, typeflag='K', magic=hdr[257:265])
            continue
        name = hdr[0:100].split(b'\0')[0]
        magic = hdr[257:265]
        if magic == b'ustar\x0000':
            prefix = hdr[345:500].split(b'\0')[0]
            if prefix:
                name = prefix + b'/' + name
        name = name.decode('utf-8', 'surrogateescape')
        link = hdr[157:257].split(b'\0')[0].decode('utf-8', 'surrogateescape')
        if long_name is not None:
            name, long_name = long_name, None
        if long_link is not None:
            link, long_link = long_link, None
        yield dict(meta=False, name=name, size=size, typeflag=typeflag, mode=octal(hdr[100:108]),
                   uid=number(hdr[108:116]), gid=number(hdr[116:124]), mtime=number(hdr[136:148]),
                   uname=hdr[265:297].split(b'\0')[0].decode(),
                   gname=hdr[297:329].split(b'\0')[0].decode(), linkname=link, magic=magic)
    if zero_blocks < 2:
        raise SystemExit(f'{path}: missing the two zero blocks that end a tar archive')

def tar_check(path, sde):
    problems, magics, seen = [], set(), []
    for e in tar_entries(path):
        magics.add(bytes(e['magic']))
        if e['typeflag'] in ('x', 'g', 'X'):
            problems.append(f'pax header (typeflag {e["typeflag"]})')
            continue
        if e['meta']:
            continue
        if e['typeflag'] not in ('0', '2', '5', '1'):
            problems.append(f'{e["name"]}: unexpected typeflag {e["typeflag"]!r}')
        if not e['name'].startswith('./'):
            problems.append(f'{e["name"]}: path does not start with ./')
        if e['uid'] != 0 or e['gid'] != 0:
            problems.append(f'{e["name"]}: owner {e["uid"]}:{e["gid"]}, not 0:0')
        if e['uname'] != 'root' or e['gname'] != 'root':
            problems.append(f'{e["name"]}: owner names {e["uname"]!r}/{e["gname"]!r}, not root/root')
        if sde is not None and e['mtime'] > sde:
            problems.append(f'{e["name"]}: mtime {e["mtime"]} after SOURCE_DATE_EPOCH {sde}')
        seen.append(e)
    for m in magics:
        if m not in (b'ustar  \x00', b'ustar\x0000'):
            problems.append(f'header magic {m!r} is neither GNU nor ustar')
    if not seen:
        problems.append('no entries')
    elif seen[0]['name'] != './' or seen[0]['typeflag'] != '5':
        problems.append(f'first entry is {seen[0]["name"]!r}, not the directory ./')
    dirs, children, names = set(), {}, set()
    for e in seen:
        name = e['name']
        bare = name.rstrip('/') if name != './' else '.'
        if bare in names:
            problems.append(f'{name}: duplicate entry')
        names.add(bare)
        if e['typeflag'] == '5':
            if not name.endswith('/'):
                problems.append(f'{name}: directory entry without a trailing /')
            dirs.add(bare)
        elif name.endswith('/'):
            problems.append(f'{name}: non-directory with a trailing /')
        if bare == '.':
            continue
        parent = os.path.dirname(bare)
        if parent not in dirs:
            problems.append(f'{name}: parent {parent}/ has no entry before it')
        children.setdefault(parent, []).append(os.path.basename(bare).encode('utf-8', 'surrogateescape'))
    for parent, kids in children.items():
        if kids != sorted(kids):
            problems.append(f'{parent}/: children not in byte order: {[k.decode() for k in kids]}')
    kinds = {b'ustar  \x00': 'GNU', b'ustar\x0000': 'ustar'}
    print('format: ' + ', '.join(sorted(kinds.get(m, repr(m)) for m in magics)))
    print(f'entries: {len(seen)}')
    for p in problems:
        print('problem: ' + p)
    return 1 if problems else 0

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == 'ar-check':
    data, members = ar_members(args[0])
    for m in members:
        print(f'{m["name"]}\tmode={m["mode"]}\tuid={m["uid"]}\tgid={m["gid"]}\tmtime={m["mtime"]}\tsize={m["size"]}')
elif cmd == 'ar-offset':
    data, members = ar_members(args[0])
    for m in members:
        if m['name'].rstrip('/') == args[1]:
            print(m['offset'], m['size'])
            break
    else:
        raise SystemExit(f'{args[0]}: no member {args[1]}')
elif cmd == 'trailing-zeros':
    data, members = ar_members(args[0])
    for m in members:
        if m['name'].rstrip('/') == args[1]:
            body = data[m['offset']:m['offset'] + m['size']]
            zeros = len(body) - len(body.rstrip(b'\0'))
            print(f'{args[1]}: {m["size"]} bytes, ends in {zeros} zero bytes')
            sys.exit(1 if zeros >= 16 else 0)
    raise SystemExit(f'{args[0]}: no member {args[1]}')
elif cmd == 'ar-splice':
    out, base, donor, member = args
    bdata, bmembers = ar_members(base)
    ddata, dmembers = ar_members(donor)
    def raw(data, m):
        end = m['offset'] + m['size'] + (m['size'] % 2)
        return data[m['offset'] - 60:end]
    blob = b'!<arch>\n' + b''.join(raw(bdata, m) for m in bmembers if m['name'].rstrip('/') != member)
    blob += b''.join(raw(ddata, m) for m in dmembers if m['name'].rstrip('/') == member)
    open(out, 'wb').write(blob)
elif cmd == 'flip-byte':
    path, offset = args[0], int(args[1])
    with open(path, 'r+b') as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xff]))
elif cmd == 'tar-check':
    sys.exit(tar_check(args[0], int(args[1]) if len(args) > 1 else None))
elif cmd == 'tar-list':
    for e in tar_entries(args[0]):
        if not e['meta']:
            print(f'{e["name"]}\t{e["mtime"]}\t{e["typeflag"]}')
else:
    raise SystemExit(f'deb_tool: unknown subcommand {cmd}')
PYEOF
}

# dpkg_root DIR: an empty dpkg database (DIR/admin) and install root
# (DIR/inst) for dpkg_install.
dpkg_root() {
  mkdir -p "$1/admin/info" "$1/admin/updates" "$1/admin/triggers" "$1/inst"
  : >"$1/admin/status"
  : >"$1/admin/available"
}

# dpkg_in DIR ARGS...: dpkg acting on the separate root made by dpkg_root.
# Maintainer scripts run outside a chroot with DPKG_ROOT set, since the root
# holds no shell; the log stays in DIR.
dpkg_in() {
  local root=$1
  shift
  local extra=()
  [ "$(id -u)" -eq 0 ] || extra+=(--force-not-root)
  dpkg --admindir="$root/admin" --instdir="$root/inst" --log="$root/dpkg.log" \
    --force-script-chrootless "${extra[@]}" "$@"
}

# dpkg_query_in DIR ARGS...: dpkg-query on the separate root made by dpkg_root.
dpkg_query_in() {
  local root=$1
  shift
  dpkg-query --admindir="$root/admin" "$@"
}
