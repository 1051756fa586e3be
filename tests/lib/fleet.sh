# shellcheck shell=bash
# Helpers of the fleet rollout suites (tests/e2e/test-fleet-rollout.sh) and
# of scripts/bench/fleet, on top of framework.sh, repo.sh and debroot.sh: a
# small web app that says which release and which host answered, hosts made
# of Debian roots that run it, HAProxy in front of them, and a load
# generator that records every request it sends through HAProxy.
#
# Source after framework.sh, repo.sh and debroot.sh.

# The app every helper here deals with, and the files its hosts use.
FLEET_APP=webapp
# Inside each root: the command that replaces `systemctl restart
# webapp.target` (no systemd in a chroot), and what it keeps.
FLEET_RESTART=/usr/local/sbin/restart-$FLEET_APP
FLEET_PIDFILE=/run/$FLEET_APP-web.pid
FLEET_WEBLOG=/var/log/$FLEET_APP-web.log

# ---------------------------------------------------------------- the app

# fleet_app_source DIR RELEASE VERSION [broken]: the source of one release of
# the app: a Procfile app (perl-base only, which every Debian system has)
# whose web process listens on $BIND:$PORT from /etc/webapp/env and answers
# every request with "webapp release RELEASE on $HOST_NAME". Each answer
# takes $WORK_MS (simulated work, one request at a time like a single
# worker): a restart in service then always catches requests in flight.
# "broken" makes a release that starts fine and answers 500 to everything,
# as a bad deploy would. VERSION is the base of the package version.
fleet_app_source() {
  local dir=$1 release=$2 version=$3 broken=${4:-}
  rm -rf "$dir"
  mkdir -p "$dir"
  printf 'web: perl server.pl\n' >"$dir/Procfile"
  printf '%s\n' "$release" >"$dir/RELEASE"
  [ "$broken" != broken ] || printf 'every answer is a 500\n' >"$dir/BROKEN"
  cat >"$dir/aptship.toml" <<EOF
[package]
version = "$version"
description = "Test web app of the fleet rollout suite"
[package.env]
BIND = "127.0.0.1"
HOST_NAME = "unknown"
WORK_MS = "10"
EOF
  cat >"$dir/server.pl" <<'EOF'
# The fleet rollout suite's web app: one request at a time; the answer
# names the release (the RELEASE file) and the host ($HOST_NAME).
use strict;
use warnings;
use IO::Socket::INET;

my $port = $ENV{PORT} or die "PORT is not set\n";
my $bind = $ENV{BIND} || '127.0.0.1';
my $host = $ENV{HOST_NAME} || 'unknown';
my $work = ($ENV{WORK_MS} || 0) / 1000;
open(my $fh, '<', 'RELEASE') or die "cannot read RELEASE: $!\n";
chomp(my $release = <$fh>);
close $fh;
my $status = -e 'BROKEN' ? '500 Internal Server Error' : '200 OK';
my $body = "webapp release $release on $host\n";

$SIG{PIPE} = 'IGNORE';
my $listener = IO::Socket::INET->new(
    LocalAddr => $bind,
    LocalPort => $port,
    Proto     => 'tcp',
    Listen    => 128,
    ReuseAddr => 1,
) or die "cannot listen on $bind:$port: $!\n";
$| = 1;
print "release $release listening on $bind:$port ($status)\n";

while (my $client = $listener->accept) {
    while (my $line = <$client>) {
        last if $line =~ /^\r?\n$/;
    }
    select(undef, undef, undef, $work) if $work > 0;
    print $client "HTTP/1.1 $status\r\n",
        "Content-Type: text/plain\r\n",
        "Content-Length: ", length($body), "\r\n",
        "Connection: close\r\n\r\n", $body;
    close $client;
}
EOF
}

# ---------------------------------------------------------------- hosts

# fleet_install_restart ROOT: writes the root's restart command. It takes a
# lock (concurrent restarts wait, as systemd queues jobs), stops the process
# group of the running web process (`webapp run web` keeps bash as the
# server's parent), starts a new one in a session of its own with its
# output in a log and without the lock's descriptor (which would hold the
# lock as long as the app runs), and returns once it listens on
# $BIND:$PORT, or fails if it exits first. `--slow SECONDS` first sleeps: an app slow to restart.
# It prints nothing on success: a run of fleet-upgrade killed meanwhile
# leaves it writing to a closed pipe.
fleet_install_restart() {
  local root=$1
  cat >"$root$FLEET_RESTART" <<EOF
#!/bin/bash
# Restarts $FLEET_APP's web process on this test host, in place of
# \`systemctl restart $FLEET_APP.target\` (tests/lib/fleet.sh).
set -eu
exec 9>/run/restart-$FLEET_APP.lock
flock 9
if [ "\${1:-}" = --slow ]; then
  sleep "\$2"
fi
if [ -s $FLEET_PIDFILE ]; then
  pgid=\$(cat $FLEET_PIDFILE)
  if kill -TERM -- "-\$pgid" 2>/dev/null; then
    for _ in \$(seq 100); do
      kill -0 -- "-\$pgid" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL -- "-\$pgid" 2>/dev/null || true
  fi
  rm -f $FLEET_PIDFILE
fi
bind=\$($FLEET_APP config:get BIND)
port=\$($FLEET_APP config:get PORT)
setsid /usr/bin/$FLEET_APP run web </dev/null >>$FLEET_WEBLOG 2>&1 9>&- &
pid=\$!
echo "\$pid" >$FLEET_PIDFILE
for _ in \$(seq 200); do
  if (exec 3<>"/dev/tcp/\$bind/\$port") 2>/dev/null; then
    exit 0
  fi
  if ! kill -0 "\$pid" 2>/dev/null; then
    echo "$FLEET_APP run web exited: \$(tail -n 3 $FLEET_WEBLOG)" >&2
    exit 1
  fi
  sleep 0.05
done
echo "$FLEET_APP run web does not listen on \$bind:\$port after 10 s" >&2
exit 1
EOF
  chmod 0755 "$root$FLEET_RESTART"
}

# fleet_installed ROOT: the app's version in ROOT's dpkg database ("" if none).
fleet_installed() {
  # shellcheck disable=SC2016 # a dpkg-query format
  debroot_exec "$1" dpkg-query -W -f='${Version}' "$FLEET_APP" 2>/dev/null || true
}

# ---------------------------------------------------------------- haproxy

# haproxy_write_config FILE SOCKET LISTEN BACKEND SERVER=ADDR:PORT...: the
# HAProxy configuration of the suites, as a production one would be: a
# frontend on LISTEN, health checks every 200 ms (2 failures take a server
# down, 2 passes bring it up), `retries 3` and `option redispatch` (a failed
# connection is retried, the last time on another server), no L7 retries
# (`retry-on` stays at its default, connection failures only: a request
# the server received is never replayed), and the runtime API at level
# admin on SOCKET. Only abnormal sessions are logged (dontlog-normal), to
# HAProxy's stdout.
haproxy_write_config() {
  local file=$1 socket=$2 listen=$3 backend=$4 server
  shift 4
  {
    cat <<EOF
global
    stats socket $socket mode 600 level admin
    stats timeout 30s
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    retries 3
    option redispatch

frontend web
    bind $listen
    default_backend $backend

backend $backend
    balance roundrobin
    option httpchk GET /
    http-check expect status 200
    default-server check inter 200ms fall 2 rise 2
EOF
    for server in "$@"; do
      printf '    server %s %s\n' "${server%%=*}" "${server#*=}"
    done
  } >"$file"
}

# haproxy_start CONFIG LOG: checks CONFIG, then runs HAProxy in the
# foreground (a child of the suite, stopped on exit); sets HAPROXY_PID.
haproxy_start() {
  local config=$1 log=$2
  haproxy -c -q -f "$config" || return 1
  haproxy -db -f "$config" >>"$log" 2>&1 &
  HAPROXY_PID=$!
  track_pid "$HAPROXY_PID"
}

# hactl SOCKET COMMAND...: the answer of HAProxy's runtime API to COMMAND.
hactl() {
  local socket=$1
  shift
  "$PYTHON" - "$socket" "$*" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
PYEOF
}

# haproxy_servers SOCKET BACKEND: "NAME STATUS" per server of BACKEND, in
# the configuration's order.
haproxy_servers() {
  hactl "$1" show stat | "$PYTHON" -c '
import csv, sys
rows = csv.DictReader(line.lstrip("# ") if i == 0 else line for i, line in enumerate(sys.stdin))
for row in rows:
    if row["pxname"] == sys.argv[1] and row["svname"] not in ("FRONTEND", "BACKEND"):
        print(row["svname"], row["status"])' "$2"
}

# haproxy_counters SOCKET BACKEND: the error counters of BACKEND, one
# "NAME VALUE" a line: 5xx answers, connection and response errors,
# retries and redispatches.
haproxy_counters() {
  hactl "$1" show stat | "$PYTHON" -c '
import csv, sys
rows = csv.DictReader(line.lstrip("# ") if i == 0 else line for i, line in enumerate(sys.stdin))
for row in rows:
    if row["pxname"] == sys.argv[1] and row["svname"] == "BACKEND":
        for key in ("hrsp_5xx", "econ", "eresp", "wretr", "wredis"):
            print(key, row[key] or 0)' "$2"
}

# haproxy_wait_all_up SOCKET BACKEND: every server of BACKEND is UP within 30 s.
haproxy_wait_all_up() {
  local _i
  for _i in $(seq 300); do
    if ! haproxy_servers "$1" "$2" | grep -qv ' UP$'; then
      return 0
    fi
    sleep 0.1
  done
  haproxy_servers "$1" "$2" >&2
  return 1
}

# ---------------------------------------------------------------- load

# load_start NAME URL: a load generator on URL until load_stop: four
# threads that keep their connection alive and four that open a new one
# per request (`Connection: close`), each sending GET / as soon as the
# previous answer is in. Every request is recorded: a failure is a status
# other than 200, an answer that is not the app's, a connection error or
# reset, or no answer within 10 s. load_mark marks the moment after which
# answers are counted apart. The result is $T/load-NAME.json.
load_start() {
  local name=$1 url=$2
  LOAD_DIR="$T/load-$name"
  rm -rf "$LOAD_DIR"
  mkdir -p "$LOAD_DIR"
  "$PYTHON" - "$url" "$LOAD_DIR" "$T/load-$name.json" >"$LOAD_DIR/log" 2>&1 <<'PYEOF' &
import http.client, json, os, re, sys, threading, time, urllib.parse

url, control, result = sys.argv[1], sys.argv[2], sys.argv[3]
parts = urllib.parse.urlsplit(url)
ANSWER = re.compile(r"^webapp release (\S+) on (\S+)\n$")
lock = threading.Lock()
stop = threading.Event()
marked = threading.Event()
stats = {"requests": 0, "failed": 0, "keepalive_requests": 0, "close_requests": 0,
         "connections": 0, "by_release": {}, "by_host": {}, "after_mark": {},
         "errors": {}, "examples": [], "first_release": None, "last_release": None,
         "seconds": 0.0}
start = time.monotonic()

def count(table, key):
    table[key] = table.get(key, 0) + 1

def record(kind, release=None, host=None, error=None):
    with lock:
        stats["requests"] += 1
        stats[kind + "_requests"] += 1
        if error is None:
            count(stats["by_release"], release)
            count(stats["by_host"], host)
            if stats["first_release"] is None:
                stats["first_release"] = release
            stats["last_release"] = release
            if marked.is_set():
                count(stats["after_mark"], release)
            return
        stats["failed"] += 1
        count(stats["errors"], error)
        if len(stats["examples"]) < 20:
            stats["examples"].append("%.3fs %s: %s" % (time.monotonic() - start, kind, error))

def worker(keep):
    kind = "keepalive" if keep else "close"
    headers = {} if keep else {"Connection": "close"}
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                with lock:
                    stats["connections"] += 1
            conn.request("GET", parts.path or "/", headers=headers)
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
            match = ANSWER.match(body)
            if response.status != 200:
                record(kind, error="status %d" % response.status)
            elif not match:
                record(kind, error="unexpected body %r" % body[:60])
            else:
                record(kind, release=match.group(1), host=match.group(2))
            if not keep or response.will_close:
                conn.close()
                conn = None
        except Exception as e:  # every way a request can fail counts
            record(kind, error="%s: %s" % (type(e).__name__, str(e)[:80]))
            if conn is not None:
                conn.close()
            conn = None

threads = [threading.Thread(target=worker, args=(i < 4,)) for i in range(8)]
for t in threads:
    t.start()
open(os.path.join(control, "started"), "w").close()
while not os.path.exists(os.path.join(control, "stop")):
    if not marked.is_set() and os.path.exists(os.path.join(control, "mark")):
        marked.set()
    time.sleep(0.02)
stop.set()
for t in threads:
    t.join()
stats["seconds"] = round(time.monotonic() - start, 1)
with open(result + ".new", "w") as f:
    json.dump(stats, f, indent=1, sort_keys=True)
os.rename(result + ".new", result)
PYEOF
  LOAD_PID=$!
  track_pid "$LOAD_PID"
  local _i
  for _i in $(seq 100); do
    [ ! -e "$LOAD_DIR/started" ] || return 0
    sleep 0.05
  done
  cat "$LOAD_DIR/log" >&2
  return 1
}

# load_mark: answers from now on are also counted in after_mark.
load_mark() { : >"$LOAD_DIR/mark"; }

# load_stop: stops the load generator of load_start and waits for its result.
load_stop() {
  : >"$LOAD_DIR/stop"
  wait_pid "$LOAD_PID" || {
    cat "$LOAD_DIR/log" >&2
    return 1
  }
}

# load_get NAME EXPR: EXPR (Python, over the dict `r` of the result of load
# NAME) printed; dicts as "key=value" words sorted by key.
load_get() {
  "$PYTHON" - "$T/load-$1.json" "$2" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
value = eval(sys.argv[2], {"r": r})
if isinstance(value, dict):
    print(" ".join("%s=%s" % (k, value[k]) for k in sorted(value)))
elif isinstance(value, list):
    print("\n".join(str(v) for v in value))
else:
    print(value)
PYEOF
}
