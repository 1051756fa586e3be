# shellcheck shell=bash
# Shared helpers for the benchmarks in scripts/bench/ (sourced, not run).
# Each benchmark measures aptship against its anchor tool in the same run and
# prints ratios; nothing here asserts a timing.

set -euo pipefail

# The checkout this file belongs to, wherever it was cloned.
bench_repo_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
}

# The folder with the shared benchmark generators: ../shared beside the
# checkout, or $APTSHIP_SHARED.
bench_shared_dir() {
  if [[ -n "${APTSHIP_SHARED:-}" ]]; then
    printf '%s\n' "$APTSHIP_SHARED"
  else
    printf '%s\n' "$(bench_repo_root)/../shared"
  fi
}

bench_die() {
  printf '%s: error: %s\n' "${0##*/}" "$*" >&2
  exit 1
}

# Progress goes to stderr so that stdout holds only the results.
bench_note() {
  printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# Fails early with the Debian package to install rather than midway through a run.
bench_require() {
  local spec cmd pkg
  for spec in "$@"; do
    cmd=${spec%%:*}
    pkg=${spec#*:}
    if ! command -v "$cmd" >/dev/null 2>&1; then
      bench_die "$cmd not found; install the Debian package '$pkg' (apt-get install $pkg)"
    fi
  done
}

# Prints the path of an aptship binary: $APTSHIP_BIN if set, else a Release
# build in build-bench/ (configured on first use, brought up to date each run,
# so a Debug tree elsewhere never skews the figures).
bench_aptship() {
  if [[ -n "${APTSHIP_BIN:-}" ]]; then
    [[ -x "$APTSHIP_BIN" ]] || bench_die "APTSHIP_BIN=$APTSHIP_BIN is not executable"
    printf '%s\n' "$APTSHIP_BIN"
    return
  fi
  bench_require cmake:cmake ninja:ninja-build
  local root build log
  root=$(bench_repo_root)
  build="$root/build-bench"
  log=$(mktemp)
  if ! grep -qs '^CMAKE_BUILD_TYPE:STRING=Release$' "$build/CMakeCache.txt"; then
    bench_note "configuring a Release build in $build"
    if ! cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      bench_die "cmake failed"
    fi
  fi
  if ! ninja -C "$build" aptship >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    bench_die "building aptship failed"
  fi
  rm -f "$log"
  printf '%s\n' "$build/aptship"
}

# Runs CMD under GNU time, appending "wall_s peak_rss_kib user_s sys_s" to RECORD and
# CMD's output to RECORD.log. The RSS is that of the largest single process
# among CMD and the children it waited for, not the sum of concurrent ones.
# usage: bench_time RECORD CMD...
bench_time() {
  local record=$1 tf
  shift
  tf=$(mktemp)
  if ! /usr/bin/time -f '%e %M %U %S' -o "$tf" "$@" >>"$record.log" 2>&1; then
    tail -n 20 "$record.log" >&2
    rm -f "$tf"
    bench_die "failed: $*"
  fi
  tail -n 1 "$tf" >>"$record"
  rm -f "$tf"
}

# Median of the numbers on stdin (mean of the middle two for an even count).
bench_median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { exit 1 }
    if (NR % 2) { printf "%.2f\n", v[(NR + 1) / 2] }
    else { printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }
  }'
}

# Reads every file under DIR once so that the timed runs start from a warm
# page cache and compare CPU and write cost, not the disk.
bench_warm() {
  # cat, not tar: GNU tar skips reading file data when its output is /dev/null.
  find "$1" -type f -print0 | xargs -0 -r cat >/dev/null
}

# Flushes the previous command's output to disk so that its writeback does not
# slow down the next timed run.
bench_settle() {
  sync
}
