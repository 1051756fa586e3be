#!/bin/bash
# fleet-upgrade against real hosts, under load, with zero failed requests.
#
# Three releases of a small web app (tests/lib/fleet.sh: each answer names
# the release and the host) are pushed with git, built by the hook and published to
# suite staging of a served, signed repository. Three hosts are clean Debian
# roots (tests/lib/debroot.sh) that trust the repository by signed-by and
# install release 1 with the stock apt-get; each runs the app on its own
# loopback address (127.0.1.N), same port, both read from /etc/webapp/env.
# fleet-upgrade reaches them through the exec transport (chroot); with no
# systemd in a chroot, the fleet file's [restart].command is a small script
# in each root that restarts the app's process group.
#
# Debian's HAProxy balances the three hosts, as a production configuration
# would (haproxy_write_config: health checks every 200 ms, retries 3,
# option redispatch, no L7 retries), with its runtime API at level admin.
# Most runs reach that API as a load balancer on another machine is reached:
# socat run on the LB's host through the fleet's transport.
# A load generator sends requests through HAProxy for the whole of each
# rollout, over kept-alive connections and over a new connection per
# request, and records every answer: a failure is any status but 200, a
# reset, a connection error or a timeout. Each phase prints
# `failed requests: F of N`.
#
#   dry run      prints the plan; versions, HAProxy states and journal unchanged
#   upgrade      1 -> 2: every host on 2, responses switch from 1 to 2, zero failures,
#                and HAProxy never had to retry or redispatch a request
#   rollback     back to 1, zero failures
#   kill -9      a rollout to 2 killed while its canary is in maint (slow restart):
#                the journal says so, --resume reports the host and finishes, zero failures
#   broken 3     release 3 answers 500: the canary fails its health gate, goes
#                back to 2 and into service, the others are untouched, exit 1, zero failures
#   no drain     the same rollout with `[rollout] drain = false`: the load
#                generator DOES see failed requests, which proves it can
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2317 # functions run through the test helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/repo.sh
. "$APTSHIP_SOURCE_DIR/tests/lib/repo.sh"
# shellcheck source=../lib/debroot.sh
. "$APTSHIP_SOURCE_DIR/tests/lib/debroot.sh"
# shellcheck source=../lib/fleet.sh
. "$APTSHIP_SOURCE_DIR/tests/lib/fleet.sh"

require_cmd haproxy socat curl "$PYTHON"
require_aptship
debroot_require

DATA="$T/data"
# The fleet-upgrade tool next to aptship, else `aptship fleet-upgrade`.
FLEET_UPGRADE=${FLEET_UPGRADE:-$(dirname "$APTSHIP")/fleet-upgrade}
if [ -x "$FLEET_UPGRADE" ]; then
  FLEET_CMD=("$FLEET_UPGRADE" --data "$DATA")
else
  FLEET_CMD=("$APTSHIP" --data "$DATA" fleet-upgrade)
fi
fleet_upgrade() { "${FLEET_CMD[@]}" "$@"; }
export APTSHIP_BUILDPACKS="${APTSHIP_BUILDPACKS:-$APTSHIP_SOURCE_DIR/buildpacks}"

SUITE_START=$(date +%s%N)
# Builds run as an unprivileged user when root runs them: it must reach $T.
chmod 0711 "$T"

# elapsed START: seconds since START (a `date +%s%N`), one decimal.
elapsed() { awk -v s="$1" -v e="$(date +%s%N)" 'BEGIN { printf "%.1f", (e - s) / 1e9 }'; }

# testcontains TEXT FILE: FILE contains the fixed string TEXT.
testcontains() {
  if grep -qF -- "$1" "$2"; then
    _pass "$2 contains '$1'"
  else
    _fail "$2 contains '$1'" "it does not"
    _show "$2" "$2"
  fi
}

# ---------------------------------------------------------------- releases

msg "three releases of the app, each pushed with git and published to suite staging"
aptship_init "$DATA"
testsuccess aptship --data "$DATA" apps create "$FLEET_APP"
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=tests GIT_AUTHOR_EMAIL=tests@example.org
export GIT_COMMITTER_NAME=tests GIT_COMMITTER_EMAIL=tests@example.org
git init -q -b main "$T/work"
declare -A VERSION=()
for release in 1 2 3; do
  src="$T/src/$release/$FLEET_APP"
  if [ "$release" = 3 ]; then
    fleet_app_source "$src" "$release" "$release.0.0" broken
  else
    fleet_app_source "$src" "$release" "$release.0.0"
  fi
  # The work tree becomes this release's source, committed and pushed.
  find "$T/work" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
  cp -a "$src/." "$T/work/"
  git -C "$T/work" add -A
  git -C "$T/work" commit -q -m "release $release"
  testsuccess git -C "$T/work" push "$DATA/git/$FLEET_APP.git" main
  VERSION[$release]=$(sed -n "s/^remote: *Install with: apt-get install $FLEET_APP=\([^ ]*\).*/\1/p" "$ERR")
  testtrue "release $release was published as ${VERSION[$release]:-?}" test -n "${VERSION[$release]}"
done
V1=${VERSION[1]} V2=${VERSION[2]} V3=${VERSION[3]}
start_server "$DATA"
testsuccess aptship --data "$DATA" key export
cp "$OUT" "$T/aptship.gpg"

# ---------------------------------------------------------------- hosts

msg "three hosts: clean Debian roots with release 1 from the repository"
APP_PORT=$(free_port)
HOSTS=(web1 web2 web3)
declare -A ROOT=() ADDRESS=()
for i in 1 2 3; do
  host=web$i
  ADDRESS[$host]=127.0.1.$i
  ROOT[$host]=$(debroot_new "$host")
  root=${ROOT[$host]}
  # Only the app's repository: each rollout's `apt-get update` must not
  # depend on the Debian mirror (the app needs nothing minbase lacks).
  : >"$root/etc/apt/sources.list"
  testsuccess debroot_add_source "$root" aptship \
    "deb [signed-by=/etc/apt/keyrings/aptship.gpg] $SERVER_URL staging main" "$T/aptship.gpg"
  testsuccess debroot_apt "$root" update
  testsuccess debroot_apt "$root" install "$FLEET_APP=$V1"
  testsuccess debroot_exec "$root" "$FLEET_APP" config:set "PORT=$APP_PORT" \
    "BIND=${ADDRESS[$host]}" "HOST_NAME=$host"
  fleet_install_restart "$root"
  testsuccess debroot_exec "$root" "$FLEET_RESTART"
  testequal "$FLEET_APP release 1 on $host" curl --noproxy '*' -sf --max-time 10 \
    "http://${ADDRESS[$host]}:$APP_PORT/"
done

msg "HAProxy in front of the three hosts"
LB_PORT=$(free_port)
LB_URL="http://127.0.0.1:$LB_PORT/"
SOCK="$T/haproxy.sock"
haproxy_write_config "$T/haproxy.cfg" "$SOCK" "127.0.0.1:$LB_PORT" "$FLEET_APP" \
  "web1=127.0.1.1:$APP_PORT" "web2=127.0.1.2:$APP_PORT" "web3=127.0.1.3:$APP_PORT"
info "HAProxy configuration:"
sed 's/^/      | /' "$T/haproxy.cfg"
testsuccess haproxy_start "$T/haproxy.cfg" "$T/haproxy.log"
testtrue "every server of the backend is UP" haproxy_wait_all_up "$SOCK" "$FLEET_APP"
testgrep "^$FLEET_APP release 1 on web[123]\$" <(curl --noproxy '*' -sf --max-time 10 "$LB_URL")

# write_fleet FILE [RESTART_ARG...] [-- ROLLOUT_LINE...]: the fleet file of
# the three hosts, restart command arguments and extra [rollout] lines;
# LB_HOST_LINE, when set, is added to the load balancer's table.
write_fleet() {
  local file=$1 restart='' rollout='' host
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    restart+=", \"$1\""
    shift
  done
  [ $# -eq 0 ] || shift
  for line in "$@"; do rollout+="$line"$'\n'; done
  {
    cat <<EOF
app = "$FLEET_APP"

[transport]
kind = "exec"
command = ["chroot", "{root}", "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME=/root", "LC_ALL=C.UTF-8"]

[restart]
command = ["$FLEET_RESTART"$restart]

[health]
url = "http://{address}:{port}/"
expect_status = 200
expect_body = "$FLEET_APP release"
rise = 3
interval = "200ms"
timeout = "5s"

[rollout]
batches = [1, "100%"]
max_failed_hosts = 0
drain_timeout = "20s"
min_healthy = 2
$rollout
[[load_balancers]]
kind = "haproxy"
socket = "$SOCK"
backend = "$FLEET_APP"
${LB_HOST_LINE:-}
EOF
    for host in "${HOSTS[@]}"; do
      printf '\n[[hosts]]\nname = "%s"\naddress = "%s"\nport = %s\nroot = "%s"\n' \
        "$host" "${ADDRESS[$host]}" "$APP_PORT" "${ROOT[$host]}"
    done
  } >"$file"
}
# The main fleet file reaches HAProxy's socket the way a remote load balancer
# is reached: socat run on the LB's "host" (this machine, chroot /) through the
# fleet's transport. The slow and no-drain files below use the socket directly.
FLEET="$T/fleet.toml"
LB_HOST_LINE='host = { name = "lb", address = "127.0.0.1", root = "/" }' write_fleet "$FLEET"
LB_DESC="haproxy $SOCK on lb"

# ---------------------------------------------------------------- helpers

# versions: "HOST VERSION" for every host, from each root's dpkg database.
versions() {
  local host
  for host in "${HOSTS[@]}"; do
    printf '%s %s\n' "$host" "$(fleet_installed "${ROOT[$host]}")"
  done
}

# all_on VERSION: the expected output of versions when every host has VERSION.
all_on() {
  local host
  for host in "${HOSTS[@]}"; do printf '%s %s\n' "$host" "$1"; done
}

# answers: "HOST: BODY" for every host, asked directly (not through HAProxy).
answers() {
  local host
  for host in "${HOSTS[@]}"; do
    printf '%s: %s\n' "$host" "$(curl --noproxy '*' -s --max-time 10 "http://${ADDRESS[$host]}:$APP_PORT/")"
  done
}

# all_answer RELEASE: the expected output of answers when every host runs RELEASE.
all_answer() {
  local host
  for host in "${HOSTS[@]}"; do printf '%s: %s release %s on %s\n' "$host" "$FLEET_APP" "$1" "$host"; done
}

# all_up: the expected output of haproxy_servers when every server is UP.
all_up() {
  local host
  for host in "${HOSTS[@]}"; do printf '%s UP\n' "$host"; done
}

# journal_state HOST: the last state the journal records for HOST in the
# last rollout (its first run and the runs that resumed it); "" if none.
journal_state() {
  "$PYTHON" - "$DATA/fleet/$FLEET_APP.journal" "$1" <<'PYEOF'
import json, sys
state = ""
for line in open(sys.argv[1]):
    entry = json.loads(line)
    if entry.get("event") == "start" and not entry.get("resume"):
        state = ""
    if entry.get("event") == "step" and entry.get("host") == sys.argv[2]:
        state = entry["state"]
print(state)
PYEOF
}

# server_state HOST: "HOST STATUS" as HAProxy's show stat says.
server_state() { haproxy_servers "$SOCK" "$FLEET_APP" | grep "^$1 "; }

# ere TEXT: TEXT quoted for an extended regex.
ere() { printf '%s' "$1" | sed 's/[][\\.*^$+?(){}|/]/\\&/g'; }

# counters_diff BEFORE AFTER: "NAME DELTA" for each HAProxy counter.
counters_diff() {
  join <(sort <<<"$1") <(sort <<<"$2") | awk '{ print $1, $3 - $2 }' | sort
}

declare -A PHASE_FAILED=() PHASE_REQUESTS=() PHASE_SECONDS=()
# phase_start PHASE: HAProxy's counters are noted and the load starts.
phase_start() {
  PHASE=$1
  PHASE_COUNTERS=$(haproxy_counters "$SOCK" "$FLEET_APP")
  PHASE_LOG_LINES=$(wc -l <"$T/haproxy.log")
  PHASE_T0=$(date +%s%N)
  load_start "$PHASE" "$LB_URL"
}

# phase_end: the load goes on for a moment after the rollout (answers counted
# apart: after_mark), then stops; prints the phase's figures, which
# PHASE_COUNTERS_DIFF, PHASE_FAILED, PHASE_REQUESTS and PHASE_SESSIONS keep
# (the last: the sessions HAProxy logged as abnormal, in $T/PHASE.sessions).
phase_end() {
  load_mark
  sleep 1
  load_stop
  PHASE_COUNTERS_DIFF=$(counters_diff "$PHASE_COUNTERS" "$(haproxy_counters "$SOCK" "$FLEET_APP")")
  PHASE_FAILED[$PHASE]=$(load_get "$PHASE" 'r["failed"]')
  PHASE_REQUESTS[$PHASE]=$(load_get "$PHASE" 'r["requests"]')
  PHASE_SECONDS[$PHASE]=$(elapsed "$PHASE_T0")
  tail -n +$((PHASE_LOG_LINES + 1)) "$T/haproxy.log" | grep -F " web $FLEET_APP/" >"$T/$PHASE.sessions" || true
  PHASE_SESSIONS=$(grep -c . "$T/$PHASE.sessions" || true)
  info "failed requests: ${PHASE_FAILED[$PHASE]} of ${PHASE_REQUESTS[$PHASE]} ($PHASE, ${PHASE_SECONDS[$PHASE]} s)"
  info "  answers by release: $(load_get "$PHASE" 'r["by_release"]'); after the rollout: $(load_get "$PHASE" 'r["after_mark"]')"
  info "  by host: $(load_get "$PHASE" 'r["by_host"]'); kept-alive $(load_get "$PHASE" 'r["keepalive_requests"]'), one per connection $(load_get "$PHASE" 'r["close_requests"]')"
  info "  HAProxy backend counters during the phase: $(tr '\n' ' ' <<<"$PHASE_COUNTERS_DIFF")"
  info "  sessions HAProxy logged as abnormal (retried, redispatched or failed): $PHASE_SESSIONS"
  if [ "${PHASE_FAILED[$PHASE]}" != 0 ]; then
    info "  errors: $(load_get "$PHASE" 'r["errors"]')"
    load_get "$PHASE" 'r["examples"]' | sed 's/^/      | /'
  fi
}

# testnofailures: the phase's load saw no failed request among a fair
# number, over both kinds of connection, and HAProxy neither answered an
# error nor had to retry or redispatch a request to hide one: its counters
# and its log of abnormal sessions say so too.
testnofailures() {
  testtrue "$PHASE: failed requests: ${PHASE_FAILED[$PHASE]} of ${PHASE_REQUESTS[$PHASE]}" \
    test "${PHASE_FAILED[$PHASE]}" = 0
  testtrue "$PHASE: the load sent at least 200 requests (${PHASE_REQUESTS[$PHASE]})" \
    test "${PHASE_REQUESTS[$PHASE]}" -ge 200
  testtrue "$PHASE: both kept-alive and one-per-connection requests" \
    test "$(load_get "$PHASE" 'min(r["keepalive_requests"], r["close_requests"])')" -gt 0
  testequal "econ 0
eresp 0
hrsp_5xx 0
wredis 0
wretr 0" echo "$PHASE_COUNTERS_DIFF"
  testfileequal "$T/$PHASE.sessions" ""
}

# show_run FILE: the output of a fleet-upgrade run, in the log.
show_run() { sed 's/^/      | /' "$1"; }

# ---------------------------------------------------------------- dry run

msg "--dry-run prints the whole plan and changes nothing"
states_before=$(haproxy_servers "$SOCK" "$FLEET_APP")
testsuccess fleet_upgrade "$FLEET_APP" "$V2" --fleet "$FLEET" --dry-run
cp "$OUT" "$T/dry-run.out"
show_run "$T/dry-run.out"
for host in "${HOSTS[@]}"; do
  testcontains "$host: would go $V1 -> $V2" "$T/dry-run.out"
  for state in drain maint ready; do
    testcontains "$host:   $LB_DESC: set server $FLEET_APP/$host state $state" "$T/dry-run.out"
  done
  testcontains "$host:   run: chroot ${ROOT[$host]} /usr/bin/env -i" "$T/dry-run.out"
  testcontains "apt-get install -y -q --allow-downgrades -o DPkg::Lock::Timeout=60 -o Dpkg::Options::=--force-confold $FLEET_APP=$V2" "$T/dry-run.out"
  testcontains "$host:   run: chroot ${ROOT[$host]} /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 $FLEET_RESTART" "$T/dry-run.out"
done
testcontains "plan: upgrade to $FLEET_APP $V2 on 3 of 3 hosts in 2 batches [1, 2], at most 1 at a time (min_healthy 2)" "$T/dry-run.out"
testcontains "dry run: nothing was changed" "$T/dry-run.out"
testgrep "$(ere "$LB_DESC"): each command is sent with: chroot / /usr/bin/env -i .* sh -c .*socat.* COMMAND UNIX-CONNECT:$(ere "$SOCK") 10\$" "$T/dry-run.out"
testequal "$(all_on "$V1")" versions
testequal "$states_before" haproxy_servers "$SOCK" "$FLEET_APP"
testnofile "$DATA/fleet/$FLEET_APP.journal"

# ---------------------------------------------------------------- upgrade

msg "fleet-upgrade $FLEET_APP $V2 under load: zero failed requests"
phase_start upgrade
testsuccess fleet_upgrade "$FLEET_APP" "$V2" --fleet "$FLEET"
cp "$OUT" "$T/upgrade.out"
phase_end
show_run "$T/upgrade.out"
testnofailures
testequal "$(all_on "$V2")" versions
testequal "$(all_answer 2)" answers
testequal "$(all_up)" haproxy_servers "$SOCK" "$FLEET_APP"
testgrep '^HOST +OLD +NEW +TIME +RESULT$' "$T/upgrade.out"
for host in "${HOSTS[@]}"; do
  testgrep "^$host +$(ere "$V1") +$(ere "$V2") +[0-9.]+m?s +upgraded\$" "$T/upgrade.out"
  testcontains "$host: drained: 0 sessions after" "$T/upgrade.out"
  testcontains "$host: UP on every load balancer after" "$T/upgrade.out"
done
testcontains "$LB_DESC: backend $FLEET_APP has 3 servers, 3 UP" "$T/upgrade.out"
testequal 1 load_get upgrade 'r["first_release"]'
testequal 2 load_get upgrade 'r["last_release"]'
testtrue "both releases answered during the upgrade" \
  test "$(load_get upgrade '" ".join(sorted(r["by_release"]))')" = "1 2"
testtrue "only release 2 answered after it" \
  test "$(load_get upgrade '" ".join(sorted(r["after_mark"]))')" = 2
testtrue "every host answered through HAProxy" \
  test "$(load_get upgrade '" ".join(sorted(r["by_host"]))')" = "web1 web2 web3"

# ---------------------------------------------------------------- rollback

msg "fleet-upgrade --rollback under load: back to $V1, zero failed requests"
phase_start rollback
testsuccess fleet_upgrade "$FLEET_APP" --fleet "$FLEET" --rollback
cp "$OUT" "$T/rollback.out"
phase_end
show_run "$T/rollback.out"
testnofailures
testequal "$(all_on "$V1")" versions
testequal "$(all_answer 1)" answers
testequal "$(all_up)" haproxy_servers "$SOCK" "$FLEET_APP"
for host in "${HOSTS[@]}"; do
  testgrep "^$host +$(ere "$V2") +$(ere "$V1") +.* rolled back\$" "$T/rollback.out"
done
testequal 2 load_get rollback 'r["first_release"]'
testequal 1 load_get rollback 'r["last_release"]'
testtrue "only release 1 answered after the rollback" \
  test "$(load_get rollback '" ".join(sorted(r["after_mark"]))')" = 1

# ---------------------------------------------------------------- kill -9

msg "a rollout killed (kill -9) while its canary is in maint; --resume finishes it"
write_fleet "$T/fleet-slow.toml" --slow 3
phase_start killed
# Started directly, not through a function: $! is fleet-upgrade itself.
"${FLEET_CMD[@]}" "$FLEET_APP" "$V2" --fleet "$T/fleet-slow.toml" >"$T/killed.out" 2>"$T/killed.err" &
killed_pid=$!
track_pid "$killed_pid"
# The restart line is printed before the (slow) restart command runs.
for _i in $(seq 1200); do
  grep -qE '^\[ *[0-9.]+s\] web[0-9]: restart: ' "$T/killed.out" && break
  kill -0 "$killed_pid" 2>/dev/null || break
  sleep 0.1
done
canary=$(sed -nE 's/^\[ *[0-9.]+s\] (web[0-9]): restart: .*/\1/p' "$T/killed.out" | head -n 1)
testtrue "the rollout reached the restart of a host (${canary:-none})" test -n "$canary"
kill -KILL "$killed_pid" 2>/dev/null || true
rc=0
wait_pid "$killed_pid" || rc=$?
testequal 137 echo "$rc"
show_run "$T/killed.out"
canary=${canary:-web1}
testequal maint journal_state "$canary"
testequal "$canary MAINT" server_state "$canary"
testequal "$V2" fleet_installed "${ROOT[$canary]}" # installed before the restart began
testnogrep "HOST +OLD" "$T/killed.out"

msg "a dry run names the host the killed run left in maint and changes nothing"
cp "$DATA/fleet/$FLEET_APP.journal" "$T/journal-after-kill"
testsuccess fleet_upgrade "$FLEET_APP" "$V2" --fleet "$FLEET" --dry-run
cp "$OUT" "$T/dry-after-kill.out"
testgrep "warning: rollout [^ ]+ of $FLEET_APP did not finish; hosts it left out of service: $canary \\(maint\\) \\(--resume continues it\\)\$" "$T/dry-after-kill.out"
testfilesame "$T/journal-after-kill" "$DATA/fleet/$FLEET_APP.journal"
testequal "$canary MAINT" server_state "$canary"

msg "--resume reports the host left in maint and finishes the rollout"
testsuccess fleet_upgrade "$FLEET_APP" --fleet "$FLEET" --resume
cp "$OUT" "$T/resumed.out"
phase_end
show_run "$T/resumed.out"
testgrep "resuming rollout [^ ]+ of $FLEET_APP; hosts it left out of service: $canary \\(maint\\)\$" "$T/resumed.out"
testcontains "warning: a previous rollout" "$T/resumed.out"
testnofailures
testequal "$(all_on "$V2")" versions
testequal "$(all_answer 2)" answers
testequal "$(all_up)" haproxy_servers "$SOCK" "$FLEET_APP"
testequal "done" journal_state "$canary"

# ---------------------------------------------------------------- broken

msg "release 3 fails its health gate on the canary: back on $V2 and in service"
phase_start broken
rc=0
fleet_upgrade "$FLEET_APP" "$V3" --fleet "$FLEET" >"$T/broken.out" 2>"$T/broken.err" || rc=$?
phase_end
show_run "$T/broken.out"
testequal 1 echo "$rc"
testfileequal "$T/broken.err" "fleet-upgrade: error: 1 host failed; the rollout stopped"
testnofailures
canary=$(sed -nE 's/^\[ *[0-9.]+s\] batch 1\/2: (web[0-9])$/\1/p' "$T/broken.out")
testtrue "the first batch is one canary host (${canary:-none})" test -n "$canary"
canary=${canary:-web1}
testequal "$(all_on "$V2")" versions
testequal "$(all_answer 2)" answers
testequal "$(all_up)" haproxy_servers "$SOCK" "$FLEET_APP"
testcontains "$canary: FAILED: " "$T/broken.out"
testcontains "$canary: back in service on $V2" "$T/broken.out"
testgrep "^$canary +$(ere "$V2") +$(ere "$V3") +.* failed, restored $(ere "$V2")\$" "$T/broken.out"
testtrue "the rollout stopped after the canary" grep -qE "batch 1/2 stopped: 1 of 3 hosts processed, 1 failed" "$T/broken.out"
for host in "${HOSTS[@]}"; do
  [ "$host" != "$canary" ] || continue
  testgrep "^$host +$(ere "$V2") +$(ere "$V3") +.* not reached\$" "$T/broken.out"
  testnogrep "$host: (install|restart|haproxy)" "$T/broken.out"
  testequal "" journal_state "$host"
done
testequal restored journal_state "$canary"
testtrue "release 3 never answered through HAProxy" \
  test "$(load_get broken '" ".join(sorted(r["by_release"]))')" = 2

# ---------------------------------------------------------------- no drain

msg "the proof: without draining, the same load generator sees failed requests"
write_fleet "$T/fleet-nodrain.toml" -- "drain = false"
phase_start nodrain
testsuccess fleet_upgrade "$FLEET_APP" "$V1" --fleet "$T/fleet-nodrain.toml"
cp "$OUT" "$T/nodrain.out"
phase_end
show_run "$T/nodrain.out"
testequal "$(all_on "$V1")" versions
testequal "$(all_up)" haproxy_servers "$SOCK" "$FLEET_APP"
testnogrep "state (drain|maint|ready)" "$T/nodrain.out"
testcontains "rollout.drain = false: changed in service" "$T/nodrain.out"
testtrue "without draining the load generator saw failed requests (${PHASE_FAILED[nodrain]} of ${PHASE_REQUESTS[nodrain]})" \
  test "${PHASE_FAILED[nodrain]}" -gt 0
# The requests each restart cut: a 502, or on a kept-alive connection that
# had served earlier requests, the connection closed without an answer
# (what HAProxy does there, so that a client may replay the request; this
# load generator, like wrk, counts it as failed). The connections refused
# until the new process listened were redispatched to another server.
info "of which: $(load_get nodrain 'r["errors"]')"
info "HAProxy redispatched $(sed -n 's/^wredis //p' <<<"$PHASE_COUNTERS_DIFF") requests refused during the restarts; it logged these failures:"
grep -vE '\] web [^ ]+ [^ ]+ 200 ' "$T/nodrain.sessions" | head -n 10 | sed 's/^/      | /' || true

# ---------------------------------------------------------------- summary

msg "summary"
for phase in upgrade rollback killed broken nodrain; do
  info "$(printf '%-9s failed requests: %s of %s in %s s' "$phase" "${PHASE_FAILED[$phase]:-?}" \
    "${PHASE_REQUESTS[$phase]:-?}" "${PHASE_SECONDS[$phase]:-?}")"
done
info "suite: $(elapsed "$SUITE_START") s"

finish
