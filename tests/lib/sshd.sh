# shellcheck shell=bash
# A real OpenSSH server for the push suites: /usr/sbin/sshd on a free
# loopback port with its own host key and configuration, reading the
# authorized_keys file that `aptship keys add` writes, with the stock
# StrictModes checks on. Clients connect as the current user (root: sshd
# needs root to log anyone in, and PermitRootLogin forced-commands-only
# admits only keys that carry a forced command, as aptship's keys do).
#
# A suite sources framework.sh, then this file, then calls sshd_require.
#
#   sshd_require               skip the suite unless sshd can run here
#   sshd_start                 start it; sets SSHD_PORT, SSHD_USER and
#                              SSHD_AUTHORIZED_KEYS (the file to give aptship)
#   sshd_ssh KEY ARGS...       ssh to it with private key KEY
#   sshd_git KEY GIT-ARGS...   git with its ssh going there with KEY
#   sshd_url APP               ssh://USER@127.0.0.1:PORT/APP.git
#
# The server is stopped and its directory removed when the suite exits.

SSHD=${SSHD:-/usr/sbin/sshd}
SSHD_DIR=''
SSHD_PID=''
SSHD_PORT=''
SSHD_USER=''
SSHD_AUTHORIZED_KEYS=''
SSHD_CLIENT=()
SSHD_LOG="$T/sshd.log"

# sshd_require: skip the suite unless we are root and sshd, ssh and
# ssh-keygen exist.
sshd_require() {
  [ "$(id -u)" -eq 0 ] || skip "needs root to run sshd"
  [ -x "$SSHD" ] || skip "sshd not found at $SSHD (package openssh-server)"
  require_cmd ssh ssh-keygen
}

# StrictModes refuses an authorized_keys file below a directory others may
# write, such as /tmp: the server's files live in a root-only directory.
_sshd_make_dir() {
  local base
  for base in /run /var/lib; do
    if [ -d "$base" ] && [ "$(stat -c '%u' "$base")" = 0 ] &&
      [ $(($(stat -c '0%a' "$base") & 022)) -eq 0 ]; then
      SSHD_DIR=$(mktemp -d "$base/aptship-test-sshd.XXXXXX")
      chmod 0755 "$SSHD_DIR"
      return 0
    fi
  done
  skip "no root-owned directory for sshd's StrictModes (tried /run and /var/lib)"
}

# A port nobody listens on now; sshd_start retries if it is taken meanwhile.
_sshd_free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# sshd_start: starts the server and waits until it accepts connections.
sshd_start() {
  _sshd_make_dir
  SSHD_USER=$(id -un)
  SSHD_AUTHORIZED_KEYS="$SSHD_DIR/authorized_keys"
  ssh-keygen -q -t ed25519 -N '' -C aptship-test-host -f "$SSHD_DIR/host_ed25519"
  # Privilege separation needs this directory; the sshd package's service
  # creates it at boot, which a container may never have done.
  [ -d /run/sshd ] || install -d -m 0755 /run/sshd
  local attempt
  for attempt in 1 2 3 4 5; do
    SSHD_PORT=$(_sshd_free_port)
    cat >"$SSHD_DIR/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $SSHD_DIR/host_ed25519
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_AUTHORIZED_KEYS
AllowUsers $SSHD_USER
PermitRootLogin forced-commands-only
StrictModes yes
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitUserEnvironment no
PrintMotd no
LogLevel VERBOSE
EOF
    "$SSHD" -t -f "$SSHD_DIR/sshd_config"
    "$SSHD" -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_LOG" 2>&1 &
    SSHD_PID=$!
    local _i
    for _i in $(seq 1 100); do
      if ! kill -0 "$SSHD_PID" 2>/dev/null; then
        break # exited: most likely the port was taken meanwhile
      fi
      if (exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null; then
        info "sshd (pid $SSHD_PID) on 127.0.0.1:$SSHD_PORT, authorized keys $SSHD_AUTHORIZED_KEYS"
        return 0
      fi
      sleep 0.1
    done
    _sshd_stop
    info "sshd attempt $attempt on port $SSHD_PORT failed; log:"
    tail -n 5 "$SSHD_LOG" | sed 's/^/      | /'
  done
  printf 'sshd_start: sshd did not start (log: %s)\n' "$SSHD_LOG" >&2
  return 1
}

_sshd_stop() {
  if [ -n "$SSHD_PID" ]; then
    kill "$SSHD_PID" 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
    SSHD_PID=''
  fi
}

# _sshd_client KEY: sets SSHD_CLIENT to the ssh command line of the
# clients: key KEY only, no user configuration, agent or known_hosts, never
# a prompt.
_sshd_client() {
  SSHD_CLIENT=(ssh -F /dev/null -i "$1" -o IdentitiesOnly=yes -o IdentityAgent=none
    -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o LogLevel=ERROR)
}

# sshd_ssh KEY ARGS...: ssh USER@127.0.0.1 with private key KEY.
sshd_ssh() {
  local key=$1
  shift
  _sshd_client "$key"
  "${SSHD_CLIENT[@]}" -p "$SSHD_PORT" "$SSHD_USER@127.0.0.1" "$@"
}

# sshd_git KEY GIT-ARGS...: git whose ssh transport uses private key KEY.
sshd_git() {
  local key=$1
  shift
  _sshd_client "$key"
  # git hands GIT_SSH_COMMAND to the shell: quote each word for it.
  GIT_SSH_COMMAND="$(printf '%q ' "${SSHD_CLIENT[@]}")" git "$@"
}

# sshd_url APP: the ssh URL of APP's repository.
sshd_url() { printf 'ssh://%s@127.0.0.1:%s/%s.git' "$SSHD_USER" "$SSHD_PORT" "$1"; }

_sshd_cleanup() {
  _sshd_stop
  if [ -n "$SSHD_DIR" ] && [ -d "$SSHD_DIR" ]; then
    rm -rf -- "$SSHD_DIR"
  fi
}

# Stops the server before the framework's own exit trap runs.
_SSHD_PREV_EXIT=''
if _sshd_trap=$(trap -p EXIT) && [ -n "$_sshd_trap" ]; then
  eval "_sshd_trap=(${_sshd_trap})"
  _SSHD_PREV_EXIT=${_sshd_trap[2]}
fi
unset _sshd_trap
_sshd_on_exit() {
  local rc=$?
  set +e
  _sshd_cleanup
  if [ -n "$_SSHD_PREV_EXIT" ]; then
    (exit "$rc")
    eval "$_SSHD_PREV_EXIT"
  fi
  exit "$rc"
}
trap _sshd_on_exit EXIT
