# shellcheck shell=bash
# Helpers of the repository suites (tests/integration/test-repo-*.sh,
# test-serve-*.sh), on top of framework.sh: small .deb files built by the
# real dpkg-deb, `aptship serve` on a free loopback port, and an apt
# configuration isolated from the host's, driven by the real apt-get.
#
# A suite sources framework.sh, then this file.

# Where make_deb writes its packages.
DEBS="$T/debs"
# Servers started by start_server, stopped on exit.
SERVER_PIDS=()
# Background processes a suite registers with track_pid, killed on exit.
TRACKED_PIDS=()

_repo_status() { return "$1"; }

_repo_on_exit() {
  local rc=$? pid
  set +e
  for pid in "${TRACKED_PIDS[@]}" "${SERVER_PIDS[@]}"; do
    stop_pid "$pid"
  done
  _repo_status "$rc"
  _on_exit
}
trap _repo_on_exit EXIT

# track_pid PID: kill PID (a child of the suite) when the suite exits.
track_pid() { TRACKED_PIDS+=("$1"); }

# wait_pid PID: waits for PID (a tracked child) and returns its exit code.
wait_pid() {
  local pid=$1 rc=0 p keep=()
  wait "$pid" || rc=$?
  for p in "${TRACKED_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  TRACKED_PIDS=("${keep[@]}")
  return "$rc"
}

# stop_pid PID: sends SIGTERM to PID (a child of the suite), SIGKILL if it
# is still there 10 s later, and reaps it; its exit code does not matter.
# Each PID is stopped once.
stop_pid() {
  local pid=$1 p _i keep=()
  kill "$pid" 2>/dev/null || true
  for _i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${TRACKED_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  TRACKED_PIDS=("${keep[@]}")
  keep=()
  for p in "${SERVER_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  SERVER_PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------- packages

# deb_file NAME VERSION ARCH: the path make_deb writes (dpkg's file name:
# no epoch).
deb_file() { printf '%s/%s_%s_%s.deb' "$DEBS" "$1" "${2#*:}" "$3"; }

# make_deb NAME VERSION ARCH [DEPENDS]: builds $(deb_file NAME VERSION ARCH)
# with dpkg-deb: a control file with Depends (if given), Section, Priority,
# a multi-line Description, and a file whose content names the package, so
# that two packages never share bytes. Same arguments, same bytes.
make_deb() {
  local name=$1 version=$2 arch=$3 depends=${4:-}
  local dir="$T/.deb-tree/${name}_${version#*:}_$arch"
  rm -rf "$dir"
  mkdir -p "$dir/DEBIAN" "$dir/usr/share/$name" "$dir/usr/share/doc/$name" "$DEBS"
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\n' "$name" "$version" "$arch"
    printf 'Maintainer: aptship tests <tests@example.org>\n'
    [ -z "$depends" ] || printf 'Depends: %s\n' "$depends"
    printf 'Section: misc\nPriority: optional\nHomepage: https://example.org/%s\n' "$name"
    printf 'Description: %s, a package of the repository suites\n' "$name"
    printf ' Built by tests/lib/repo.sh for %s %s on %s.\n .\n A second paragraph.\n' \
      "$name" "$version" "$arch"
  } >"$dir/DEBIAN/control"
  printf '%s %s %s\n' "$name" "$version" "$arch" >"$dir/usr/share/$name/version.txt"
  printf 'Copyright: aptship tests\nLicense: MIT\n' >"$dir/usr/share/doc/$name/copyright"
  find "$dir" -type d -exec chmod 0755 {} +
  find "$dir" -type f -exec chmod 0644 {} +
  SOURCE_DATE_EPOCH=1700000000 dpkg-deb --root-owner-group -Zgzip --build "$dir" \
    "$(deb_file "$name" "$version" "$arch")" >/dev/null
}

# control_field DEB FIELD: FIELD of DEB's control file, as dpkg-deb reads it.
control_field() { dpkg-deb --field "$1" "$2"; }

# ---------------------------------------------------------------- data dir

# repo_init DATA [TOML]: `aptship init` on DATA, then TOML (suite tables)
# appended to DATA/aptship.toml.
repo_init() {
  local data=$1 toml=${2:-}
  aptship_init "$data"
  [ -f "$data/aptship.toml" ] || _fail "aptship init wrote $data/aptship.toml"
  [ -z "$toml" ] || printf '\n%s\n' "$toml" >>"$data/aptship.toml"
}

# suite_dir DATA SUITE: the published dists/SUITE folder (the generation the
# symlink names).
suite_dir() { readlink -f "$1/public/dists/$2"; }

# packages_file DATA SUITE ARCH [COMP]: the plain Packages file of an index.
packages_file() { printf '%s/%s/binary-%s/Packages' "$(suite_dir "$1" "$2")" "${4:-main}" "$3"; }

# packages_versions FILE NAME: the versions FILE (a Packages file) lists for
# NAME, one a line, sorted.
packages_versions() {
  awk -v name="$2" '
    /^Package: / { pkg = $2 }
    /^Version: / { if (pkg == name) print $2 }
    /^$/ { pkg = "" }' "$1" | LC_ALL=C sort
}

# stanza_field FILE NAME VERSION ARCH FIELD: FIELD of the stanza of FILE (a
# Packages file) for NAME VERSION ARCH.
stanza_field() {
  awk -v name="$2" -v version="$3" -v arch="$4" -v field="$5" '
    function flush() { if (p == name && v == version && a == arch && found) print value }
    /^$/ { flush(); p = v = a = ""; found = 0; next }
    /^Package: / { p = $2 }
    /^Version: / { v = $2 }
    /^Architecture: / { a = $2 }
    index($0, field ": ") == 1 { value = substr($0, length(field) + 3); found = 1 }
    END { flush() }' "$1"
}

# ---------------------------------------------------------------- server

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# http_status URL [CURL ARGS...]: the status code of a GET (000 if no answer).
http_status() {
  local url=$1
  shift
  curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url" || true
}

# start_server DATA [ARGS...]: `aptship --data DATA serve` on a free port of
# 127.0.0.1 (ARGS added to its command line), in the background, stopped on
# exit. Waits until it answers HTTP. Sets SERVER_PORT, SERVER_URL (no
# trailing slash), SERVER_PID and SERVER_LOG (its stderr and stdout).
start_server() {
  local data=$1 _attempt _i
  shift
  for _attempt in 1 2 3; do
    SERVER_PORT=$(free_port)
    SERVER_URL="http://127.0.0.1:$SERVER_PORT"
    SERVER_LOG="$T/server-$SERVER_PORT.log"
    "$APTSHIP" --data "$data" serve --listen "127.0.0.1:$SERVER_PORT" "$@" >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    # Generous: the server only has to bind; it answers long before.
    for _i in $(seq 1 300); do
      if [ "$(http_status "$SERVER_URL/")" != 000 ]; then
        _pass "aptship serve answers on $SERVER_URL (pid $SERVER_PID)"
        return 0
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    stop_pid "$SERVER_PID"
    # A port taken between free_port and the bind: try another one.
    grep -qi 'in use' "$SERVER_LOG" || break
  done
  _fail "aptship serve answers on $SERVER_URL" "it did not answer; its log:"
  _show log "$SERVER_LOG"
  return 1
}

# stop_server PID: stops a server started by start_server.
stop_server() { stop_pid "$1"; }

# ---------------------------------------------------------------- apt

# apt_isolated ROOT KEYRING URI SUITE [COMP] [ARCHS]: an apt configuration
# under ROOT that reads nothing of the host's (no apt.conf.d, no
# sources.list.d, no trusted keys, an empty dpkg status) with one source,
# `deb [signed-by=KEYRING] URI SUITE COMP`. ARCHS (space-separated, default
# amd64): the first is the native architecture. Sets APT_CONF, which apt_get
# uses. KEYRING "-" writes no source line (the caller adds a sources file
# to ROOT/etc/apt/sources.list.d).
apt_isolated() {
  local root=$1 keyring=$2 uri=$3 suite=$4 comp=${5:-main} archs=${6:-amd64} a
  mkdir -p "$root/etc/apt/apt.conf.d" "$root/etc/apt/sources.list.d" \
    "$root/etc/apt/preferences.d" "$root/etc/apt/trusted.gpg.d" \
    "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial" \
    "$root/var/lib/dpkg" "$root/var/log/apt"
  : >"$root/var/lib/dpkg/status"
  if [ "$keyring" = - ]; then
    : >"$root/etc/apt/sources.list"
  else
    printf 'deb [signed-by=%s] %s %s %s\n' "$keyring" "$uri" "$suite" "$comp" \
      >"$root/etc/apt/sources.list"
  fi
  APT_CONF="$root/apt.conf"
  {
    # Read first through APT_CONFIG, so that the host's apt.conf.d (which
    # here turns the date checks off) is never read.
    printf 'Dir::Etc "%s/etc/apt";\n' "$root"
    printf 'Dir::Etc::main "apt.conf";\nDir::Etc::parts "apt.conf.d";\n'
    printf 'Dir::Etc::sourcelist "sources.list";\nDir::Etc::sourceparts "sources.list.d";\n'
    printf 'Dir::Etc::trusted "trusted.gpg";\nDir::Etc::trustedparts "trusted.gpg.d";\n'
    printf 'Dir::Etc::preferences "preferences";\nDir::Etc::preferencesparts "preferences.d";\n'
    printf 'Dir::State "%s/var/lib/apt";\n' "$root"
    printf 'Dir::State::status "%s/var/lib/dpkg/status";\n' "$root"
    printf 'Dir::Cache "%s/var/cache/apt";\n' "$root"
    printf 'Dir::Log "%s/var/log/apt";\n' "$root"
    printf 'APT::Architecture "%s";\n' "${archs%% *}"
    printf 'APT::Architectures { '
    for a in $archs; do printf '"%s"; ' "$a"; done
    printf '};\n'
    # Run as root, apt would download as _apt, who cannot write to the
    # suite's private temp dir (a W: line); as another user this is a no-op.
    printf 'APT::Sandbox::User "root";\n'
    printf 'Debug::NoLocking "true";\n'
    printf 'Acquire::Languages "none";\n'
    printf 'Acquire::Retries "0";\n'
    printf 'Acquire::http::Proxy "DIRECT";\n'
    printf 'Acquire::Check-Valid-Until "true";\nAcquire::Check-Date "true";\n'
    printf 'APT::Get::Assume-Yes "true";\n'
  } >"$APT_CONF"
}

# apt_get ARGS...: apt-get with the configuration of the last apt_isolated
# (or of $APT_CONF), date checks always on.
# APT_FAKETIME=OFFSET (e.g. +8d) runs it under faketime, its clock shifted.
apt_get() {
  local clock=()
  # NO_FAKE_STAT: the lists' mtimes stay true, or apt's If-Modified-Since
  # would be shifted too.
  [ -z "${APT_FAKETIME:-}" ] || clock=(env NO_FAKE_STAT=1 faketime -f "$APT_FAKETIME")
  "${clock[@]}" env APT_CONFIG="$APT_CONF" apt-get -o Acquire::Check-Valid-Until=true \
    -o Acquire::Check-Date=true "$@"
}

# apt_cache ARGS...: apt-cache with the same configuration.
apt_cache() { APT_CONFIG="$APT_CONF" apt-cache "$@"; }

# apt_download DIR ARGS...: `apt_get download ARGS` with DIR as the working
# directory, where apt-get download writes.
apt_download() {
  local dir=$1
  shift
  mkdir -p "$dir"
  (cd "$dir" && apt_get download "$@")
}

# testaptupdate [ARGS...]: `apt_get update ARGS` exits 0 and prints no
# warning, error or failed download (W:, E:, Err:).
testaptupdate() {
  local rc=0
  apt_get update "$@" >"$OUT" 2>"$ERR" || rc=$?
  local what
  what="apt-get update $(_quote_cmd "$@") [$(basename "$(dirname "$APT_CONF")")]"
  if [ "$rc" -ne 0 ]; then
    _fail "$what" "exit code $rc"
  elif grep -qE '^(W|E|Err):' "$OUT" "$ERR"; then
    _fail "$what" "exit 0, but with warnings or errors"
  else
    _pass "$what"
    return 0
  fi
  _show stdout "$OUT"
  _show stderr "$ERR"
}

# testaptupdatefails ERE [ARGS...]: `apt_get update ARGS` reports a problem
# matching ERE (an E: or W: line, in stdout or stderr) and exits non-zero.
testaptupdatefails() {
  local pattern=$1 rc=0
  shift
  apt_get update "$@" >"$OUT" 2>"$ERR" || rc=$?
  local what
  what="apt-get update $(_quote_cmd "$@") [$(basename "$(dirname "$APT_CONF")")] fails with /$pattern/"
  if [ "$rc" -eq 0 ]; then
    _fail "$what" "it exited 0"
  elif ! grep -qE -- "$pattern" "$OUT" "$ERR"; then
    _fail "$what" "it failed (exit $rc) but no line matches"
  else
    _pass "$what -- $(grep -hE -m 1 -- "$pattern" "$OUT" "$ERR" | head -n 1 | cut -c1-160)"
    return 0
  fi
  _show stdout "$OUT"
  _show stderr "$ERR"
}

# testinstallsim NAME VERSION ARGS...: `apt_get -s install ARGS` would install
# NAME at exactly VERSION.
testinstallsim() {
  local name=$1 version=$2 rc=0
  shift 2
  apt_get -s install "$@" >"$OUT" 2>"$ERR" || rc=$?
  local what="apt-get -s install $* installs $name $version"
  if [ "$rc" -ne 0 ]; then
    _fail "$what" "exit code $rc"
  elif ! grep -qE "^Inst $name(:[a-z0-9]+)? \(${version//./\\.} " "$OUT"; then
    _fail "$what" "no 'Inst $name ($version ...' line"
  else
    _pass "$what"
    return 0
  fi
  _show stdout "$OUT"
  _show stderr "$ERR"
}

# ---------------------------------------------------------------- tampering

# tamper_indexes DIR: changes one letter of the first Description of every
# index file below DIR (Packages, its compressed variants, by-hash files),
# recompressing with the same codec and writing in place. A plain file
# keeps its size; each inode is changed once.
tamper_indexes() {
  "$PYTHON" - "$1" <<'PYEOF'
import gzip, lzma, os, subprocess, sys

def codec(data):
    if data[:2] == b'\x1f\x8b':
        return 'gz'
    if data[:6] == b'\xfd7zXZ\x00':
        return 'xz'
    if data[:4] == b'\x28\xb5\x2f\xfd':
        return 'zst'
    return 'plain'

def decode(kind, data):
    if kind == 'gz':
        return gzip.decompress(data)
    if kind == 'xz':
        return lzma.decompress(data)
    if kind == 'zst':
        return subprocess.run(['zstd', '-dcq'], input=data, check=True, capture_output=True).stdout
    return data

def encode(kind, data):
    if kind == 'gz':
        return gzip.compress(data, mtime=0)
    if kind == 'xz':
        return lzma.compress(data)
    if kind == 'zst':
        return subprocess.run(['zstd', '-cq'], input=data, check=True, capture_output=True).stdout
    return data

seen, changed = set(), 0
for dirpath, dirnames, filenames in os.walk(sys.argv[1]):
    for name in filenames:
        path = os.path.join(dirpath, name)
        st = os.lstat(path)
        if (st.st_dev, st.st_ino) in seen or not os.path.isfile(path) or os.path.islink(path):
            continue
        seen.add((st.st_dev, st.st_ino))
        raw = open(path, 'rb').read()
        kind = codec(raw)
        text = decode(kind, raw)
        at = text.find(b'\nDescription: ')
        if at < 0:
            continue
        at += len(b'\nDescription: ')
        text = text[:at] + bytes([text[at] ^ 0x20]) + text[at + 1:]
        with open(path, 'r+b') as f:
            f.write(encode(kind, text))
            f.truncate()
        changed += 1
print(f'{changed} index files changed')
if changed == 0:
    sys.exit('no index file found below ' + sys.argv[1])
PYEOF
}

# release_field FILE FIELD: FIELD of a Release or InRelease file.
release_field() { sed -n "s/^$2: //p" "$1" | head -n 1; }
