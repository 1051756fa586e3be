# shellcheck shell=bash
# Clean Debian machines for end-to-end suites: writable chroots made in
# a moment from the cached minbase root of scripts/debroot, where the stock
# apt-get and dpkg install our packages as they would on a real server.
#
# Source after tests/lib/framework.sh, at the top level of the suite (not
# inside a function), then call debroot_require:
#
#   . "$SUITE_DIR/../lib/framework.sh"
#   . "$SUITE_DIR/../lib/debroot.sh"
#   debroot_require
#   root=$(debroot_new web1)
#   debroot_add_source "$root" myrepo "deb [signed-by=/etc/apt/keyrings/my.gpg] http://127.0.0.1:$port stable main" key.gpg
#   debroot_apt "$root" update
#   debroot_apt "$root" install hello
#   debroot_exec "$root" hello
#
# When run as root, sourcing this file re-runs the suite in a private mount
# namespace (unshare --mount): the mounts of its roots are invisible to the
# rest of the machine and vanish with the suite's last process, even after a
# kill -9. On a normal exit, a failure or a SIGTERM the suite's exit trap
# also stops the processes still running inside its roots and unmounts
# everything, before the framework removes $T.
#
# A root is $T/debroot/NAME/root: an overlay of the cache (a copy where
# overlayfs is unavailable) with /proc, a small /dev (null, zero, full,
# random, urandom, tty bound from the host), the host's resolv.conf, a
# policy-rc.d that forbids starting services, dpkg's force-unsafe-io (no
# fsync: a third faster, and a test root never survives a crash), and
# /var/cache/apt/archives layered over the shared download cache
# $DEBROOT_ARCHIVES. Packages fetched from the Debian mirror are added to
# that cache afterwards, so the next root installs them without
# downloading; packages from any other source (the ones under test) never
# enter it, and roots never contend for apt's archives lock.
#
# Source this file after framework.sh and repo.sh and before starting
# anything: its exit trap runs first and then calls the one it found, and
# the re-run in the namespace discards what the suite did before.
#
# The package lists in the cache are those of the day it was made: run
# `debroot_apt ROOT update` before installing from the Debian mirror.
#
# Environment:
#   APTSHIP_DEBROOT_CACHE     the cached root (scripts/debroot picks the default)
#   APTSHIP_DEBROOT_ARCHIVES  the shared download cache (default: apt-archives
#                             next to the cached root)

DEBROOT_SCRIPT="$APTSHIP_SOURCE_DIR/scripts/debroot"

# ------------------------------------------------------- mount namespace

if [ "$(id -u)" -eq 0 ] &&
  [ "${APTSHIP_DEBROOT_MNTNS:-}" != "$(readlink /proc/self/ns/mnt)" ] &&
  unshare --mount --propagation private true 2>/dev/null; then
  # Nothing of this run exists yet but the empty $T: drop it and start over
  # inside the namespace, which records its own id so the new run stays.
  rm -rf "$T"
  trap - EXIT ERR
  # shellcheck disable=SC2016 # expanded by the shell inside the namespace
  exec unshare --mount --propagation private -- "$BASH" -c \
    'APTSHIP_DEBROOT_MNTNS=$(readlink /proc/self/ns/mnt) && export APTSHIP_DEBROOT_MNTNS && exec "$BASH" "$@"' \
    debroot-namespace "$0" "$@"
fi

DEBROOT_CACHE=$("$DEBROOT_SCRIPT" --print-path 2>/dev/null || true)
DEBROOT_ARCHIVES=${APTSHIP_DEBROOT_ARCHIVES:-${DEBROOT_CACHE:+$(dirname "$DEBROOT_CACHE")/apt-archives}}
# The canonical path, as /proc/mounts and /proc/PID/root show it.
_DEBROOT_DIR="$(realpath -m "$T")/debroot"
_DEBROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ------------------------------------------------------- requirements

# debroot_require: skip the suite unless roots can be made here: root,
# debootstrap, a private mount namespace, and the cached root (created now
# by scripts/debroot if missing, which takes a minute or two).
debroot_require() {
  [ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, mounts)"
  require_cmd debootstrap chroot unshare mount umount flock dpkg-deb
  [ "${APTSHIP_DEBROOT_MNTNS:-}" = "$(readlink /proc/self/ns/mnt)" ] ||
    skip "cannot create a private mount namespace (unshare --mount failed)"
  [ -n "$DEBROOT_CACHE" ] || skip "scripts/debroot cannot tell which release this machine runs"
  if [ ! -f "$DEBROOT_CACHE.stamp" ]; then
    msg "creating the cached Debian root $DEBROOT_CACHE (once; a minute or two)"
    local rc=0
    "$DEBROOT_SCRIPT" || rc=$?
    [ "$rc" -eq 0 ] || skip "could not create the cached Debian root (scripts/debroot exited $rc)"
  fi
  mkdir -p "$DEBROOT_ARCHIVES/partial"
}

# ------------------------------------------------------- roots

# debroot_new NAME: prints the path of a fresh writable root named NAME
# (letters, digits, . _ -), unique in the suite. Its mounts and processes
# end with the suite (or with debroot_remove).
debroot_new() (
  set -e
  trap 'echo "debroot_new $1: failed: $BASH_COMMAND" >&2' ERR
  local name=$1
  [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || {
    echo "debroot_new: bad root name '$name'" >&2
    exit 1
  }
  [ -f "$DEBROOT_CACHE.stamp" ] || {
    echo "debroot_new: no cached root at $DEBROOT_CACHE (call debroot_require first)" >&2
    exit 1
  }
  local base="$_DEBROOT_DIR/$name"
  local root="$base/root"
  [ ! -e "$base" ] || {
    echo "debroot_new: a root named $name exists already" >&2
    exit 1
  }
  mkdir -p "$base/upper" "$base/work" "$root"
  # overlayfs takes ',' and ':' as separators in its options.
  if [[ $DEBROOT_CACHE$base == *[,:]* ]]; then
    echo "debroot_new $name: overlayfs cannot take the path $DEBROOT_CACHE or $base; copying the root" >&2
    cp -a "$DEBROOT_CACHE/." "$root/"
  elif ! mount -t overlay "debroot-$name" \
    -o "lowerdir=$DEBROOT_CACHE,upperdir=$base/upper,workdir=$base/work" "$root" 2>"$base/mount.err"; then
    echo "debroot_new $name: overlay mount failed ($(tr '\n' ' ' <"$base/mount.err")); copying the root" >&2
    cp -a "$DEBROOT_CACHE/." "$root/"
  fi
  # dpkg's fsync calls guard against power loss; a test root is thrown away.
  printf 'force-unsafe-io\n' >"$root/etc/dpkg/dpkg.cfg.d/aptship-tests-unsafe-io"

  # Maintainer scripts read /proc; some environments only allow a bind.
  mount -t proc proc "$root/proc" 2>/dev/null || mount --rbind /proc "$root/proc"

  # Only harmless device nodes, bound from the host rather than made with
  # mknod, which containers may forbid.
  mount -t tmpfs -o mode=0755,size=16m,nosuid "debroot-dev" "$root/dev"
  local node
  for node in null zero full random urandom tty; do
    : >"$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
  done
  ln -s /proc/self/fd "$root/dev/fd"
  ln -s /proc/self/fd/0 "$root/dev/stdin"
  ln -s /proc/self/fd/1 "$root/dev/stdout"
  ln -s /proc/self/fd/2 "$root/dev/stderr"
  mkdir -m 0755 "$root/dev/pts"
  mkdir -m 1777 "$root/dev/shm"

  # Downloads land in this root's layer; the shared cache below stays
  # read-only here, so roots never contend for apt's archives lock.
  local archives="$root/var/cache/apt/archives"
  mkdir -p "$base/archives-upper" "$base/archives-work"
  if [[ $DEBROOT_ARCHIVES$base != *[,:]* ]] &&
    mount -t overlay "debroot-archives-$name" \
      -o "lowerdir=$DEBROOT_ARCHIVES,upperdir=$base/archives-upper,workdir=$base/archives-work" \
      "$archives" 2>/dev/null; then
    :
  else
    cp -al "$DEBROOT_ARCHIVES"/*.deb "$archives/" 2>/dev/null || true
  fi

  rm -f "$root/etc/resolv.conf"
  if [ -e /etc/resolv.conf ]; then
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    chmod 0644 "$root/etc/resolv.conf"
  fi
  # invoke-rc.d asks policy-rc.d; 101 = "action forbidden": no service
  # starts in a root, whatever a maintainer script tries.
  printf '#!/bin/sh\n# aptship test root: services never start here.\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  printf '%s\n' "$root"
)

# debroot_exec ROOT [VAR=VALUE...] CMD ARGS...: CMD inside ROOT with a
# clean environment (PATH, HOME=/root, LC_ALL=C.UTF-8, TERM=dumb) plus the
# VAR=VALUE given; no variable of the suite leaks in.
debroot_exec() {
  local root=$1
  shift
  chroot "$root" /usr/bin/env -i PATH="$_DEBROOT_PATH" HOME=/root LC_ALL=C.UTF-8 TERM=dumb "$@"
}

# debroot_apt ROOT ARGS...: apt-get ARGS inside ROOT, non-interactive, with
# stdin closed; then the Debian packages it downloaded join the shared cache.
debroot_apt() {
  local root=$1 rc=0
  shift
  debroot_exec "$root" DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
    apt-get -y -q -o Dpkg::Use-Pty=0 -o APT::Color=0 -o DPkg::Lock::Timeout=60 "$@" </dev/null || rc=$?
  _debroot_harvest "$root" || true
  return "$rc"
}

# debroot_add_source ROOT NAME LINE [KEYFILE]: an apt source NAME in ROOT.
# LINE is a one-line entry ("deb [signed-by=/etc/apt/keyrings/x.gpg] URI
# SUITE COMP") written to sources.list.d/NAME.list, or a deb822 stanza
# (with "Types:") written to NAME.sources. KEYFILE is copied to the path its
# signed-by names inside ROOT.
debroot_add_source() {
  local root=$1 name=$2 line=$3 key=${4:-} ext keypath
  if [[ ! $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
    echo "debroot_add_source: bad source name '$name'" >&2
    return 1
  fi
  if [[ $line == *Types:* ]]; then
    ext=sources
    keypath=$(sed -n 's/^Signed-By:[[:space:]]*\(\/[^[:space:]]*\).*/\1/p' <<<"$line" | head -n 1)
  else
    ext=list
    keypath=$(grep -o 'signed-by=/[^] ]*' <<<"$line" | head -n 1 || true)
    keypath=${keypath#signed-by=}
  fi
  if [ -n "$key" ]; then
    if [ -z "$keypath" ]; then
      echo "debroot_add_source: '$line' names no signed-by file for $key" >&2
      return 1
    fi
    install -D -m 0644 "$key" "$root$keypath"
  fi
  printf '%s\n' "$line" >"$root/etc/apt/sources.list.d/$name.$ext"
}

# debroot_remove ROOT: stops what runs in ROOT, unmounts and deletes it.
debroot_remove() {
  local root=$1
  local base=${root%/root}
  _debroot_harvest "$root" || true
  _debroot_kill_inside "$base"
  _debroot_umount_under "$base"
  rm -rf --one-file-system -- "$base"
}

# debroot_cleanup_all: debroot_remove for every root of the suite. Runs from
# the exit trap; safe to call more than once, and from a subshell.
debroot_cleanup_all() {
  [ -d "$_DEBROOT_DIR" ] || return 0
  local base
  for base in "$_DEBROOT_DIR"/*/; do
    [ -d "${base}root" ] && { _debroot_harvest "${base}root" || true; }
  done
  _debroot_kill_inside "$_DEBROOT_DIR"
  _debroot_umount_under "$_DEBROOT_DIR"
  rm -rf --one-file-system -- "$_DEBROOT_DIR"
}

# debroot_mounts: the mount points under the suite's roots, one a line.
debroot_mounts() {
  _debroot_mounts_under "$_DEBROOT_DIR"
}

# ------------------------------------------------------- internals

# Mount points below DIR in mount order, from /proc/mounts.
_debroot_mounts_under() {
  local dir=$1 mp
  while read -r _ mp _; do
    mp=${mp//\\040/ }
    mp=${mp//\\011/$'\t'}
    mp=${mp//\\012/$'\n'}
    mp=${mp//\\134/\\}
    case $mp in "$dir" | "$dir"/*) printf '%s\n' "$mp" ;; esac
  done </proc/mounts
}

# Unmounts everything below DIR, newest first; a busy mount is detached
# lazily, so nothing below DIR is a mount point when this returns.
_debroot_umount_under() {
  local dir=$1 i
  local mounts=()
  mapfile -t mounts < <(_debroot_mounts_under "$dir")
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -- "${mounts[i]}" 2>/dev/null || umount -l -- "${mounts[i]}" 2>/dev/null ||
      echo "debroot: cannot unmount ${mounts[i]}" >&2
  done
}

# The processes whose root directory is below DIR (a zombie has none).
_debroot_pids_inside() {
  local dir=$1 p link
  for p in /proc/[0-9]*; do
    link=$(readlink "$p/root" 2>/dev/null) || continue
    case $link in "$dir"/*) printf '%s\n' "${p#/proc/}" ;; esac
  done
}

# Stops the processes running inside the roots below DIR: TERM, then KILL
# after five seconds. Only this suite can have started them.
_debroot_kill_inside() {
  local dir=$1 tries
  local pids=()
  mapfile -t pids < <(_debroot_pids_inside "$dir")
  [ "${#pids[@]}" -gt 0 ] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null
  for ((tries = 0; tries < 50; tries++)); do
    mapfile -t pids < <(_debroot_pids_inside "$dir")
    [ "${#pids[@]}" -gt 0 ] || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null
  return 0
}

# Copies into the shared cache the .debs in ROOT's archives that came from
# the Debian mirror the cache was made from (apt-cache madison names the
# mirror for exactly that version). Copy to a temp file, then rename: a
# reader never sees half a .deb.
_debroot_harvest() {
  local root=$1 f mirror
  local archives="$root/var/cache/apt/archives"
  [ -d "$archives" ] && [ -d "$DEBROOT_ARCHIVES" ] || return 0
  mirror=$(sed -n 's/^mirror=//p' "$DEBROOT_CACHE.stamp" 2>/dev/null)
  [ -n "$mirror" ] || return 0
  local -A file_of=()
  local pkg ver
  for f in "$archives"/*.deb; do
    if [ ! -f "$f" ] || [ -e "$DEBROOT_ARCHIVES/${f##*/}" ]; then
      continue
    fi
    # shellcheck disable=SC2016 # a dpkg-deb format
    read -r pkg ver < <(dpkg-deb -W --showformat='${Package} ${Version}\n' "$f" 2>/dev/null) || continue
    file_of["$pkg $ver"]=$f
  done
  [ "${#file_of[@]}" -gt 0 ] || return 0
  local names=()
  for f in "${!file_of[@]}"; do names+=("${f%% *}"); done
  local p v src
  while IFS='|' read -r p v src; do
    p=${p// /} v=${v// /} src=${src# }
    f=${file_of["$p $v"]:-}
    if [ -z "$f" ] || [[ $src != "${mirror%/}"[/\ ]* ]]; then
      continue
    fi
    cp -- "$f" "$DEBROOT_ARCHIVES/.${f##*/}.$$" &&
      mv -f -- "$DEBROOT_ARCHIVES/.${f##*/}.$$" "$DEBROOT_ARCHIVES/${f##*/}"
  done < <(debroot_exec "$root" apt-cache madison "${names[@]}" 2>/dev/null)
  return 0
}

# Removes every root before the framework's own exit trap deletes $T (whose
# rm -rf must never walk into a mounted /proc, /dev or the shared cache).
_DEBROOT_PREV_EXIT=''
if _debroot_trap=$(trap -p EXIT) && [ -n "$_debroot_trap" ]; then
  eval "_debroot_trap=(${_debroot_trap})"
  _DEBROOT_PREV_EXIT=${_debroot_trap[2]}
fi
unset _debroot_trap
_debroot_on_exit() {
  local rc=$?
  set +e
  debroot_cleanup_all
  if [ -n "$_DEBROOT_PREV_EXIT" ]; then
    (exit "$rc")
    eval "$_DEBROOT_PREV_EXIT"
  fi
  exit "$rc"
}
trap _debroot_on_exit EXIT
