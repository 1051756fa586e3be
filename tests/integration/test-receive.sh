#!/bin/bash
# Receiving pushes: `aptship apps create`, local pushes through the
# pre-receive hook (deploy branches build, other refs pass, a failed build
# rejects the push and the branch stays), `aptship keys` and its
# authorized_keys file, and pushes and clones through a real sshd whose
# only way in is `aptship receive`.
#
# The build a push runs is the real pipeline (the procfile buildpack, as
# the work trees hold only a Procfile); a Procfile line that is not
# "name: command" makes it fail.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2317 # functions run through the test helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/sshd.sh
. "$APTSHIP_SOURCE_DIR/tests/lib/sshd.sh"

require_cmd git ssh-keygen "$PYTHON"
require_aptship
sshd_require

# git reads neither the user's nor the system's configuration.
mkdir -p "$T/home"
export HOME="$T/home" GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=tests GIT_AUTHOR_EMAIL=tests@example.org
export GIT_COMMITTER_NAME=tests GIT_COMMITTER_EMAIL=tests@example.org

DATA="$T/data"
# Builds run as an unprivileged user when root runs them: it must reach the
# data dir's cache below $T.
chmod 0711 "$T"

# testcontains TEXT FILE: FILE contains the fixed string TEXT.
testcontains() {
  if grep -qF -- "$1" "$2"; then
    _pass "$2 contains '$1'"
  else
    _fail "$2 contains '$1'" "it does not"
    _show "$2" "$2"
  fi
}

# new_work DIR: a work tree on branch main with one commit (a Procfile).
new_work() {
  git init -q -b main "$1"
  commit_file "$1" Procfile 'web: ./run'
}

# commit_file DIR FILE CONTENT: writes FILE and commits everything.
commit_file() {
  mkdir -p "$(dirname "$1/$2")"
  printf '%s\n' "$3" >"$1/$2"
  git -C "$1" add -A
  git -C "$1" commit -q -m "$2"
}

# server_rev APP REF: what REF is in APP's repository (empty if missing).
server_rev() { git --git-dir "$DATA/git/$1.git" rev-parse -q --verify "$2" 2>/dev/null || true; }

# local_push DIR ARGS...: git push from DIR with no aptship on PATH and no
# environment beyond what git needs: the hook must find aptship alone.
local_push() {
  local dir=$1
  shift
  env -i PATH=/usr/bin:/bin HOME="$HOME" GIT_CONFIG_NOSYSTEM=1 git -C "$dir" push "$@"
}

# ---------------------------------------------------------------------------
msg "apps create"
aptship_init "$DATA"
testsuccess aptship --data "$DATA" apps create hello
cp "$OUT" "$T/create.out"
testcontains "git push $DATA/git/hello.git main" "$T/create.out"
testcontains "$(id -un)@$(hostname):hello.git" "$T/create.out"
testequal "refs/heads/main" git --git-dir "$DATA/git/hello.git" symbolic-ref HEAD
testequal true git --git-dir "$DATA/git/hello.git" rev-parse --is-bare-repository
testequal 755 stat -c %a "$DATA/git/hello.git/hooks/pre-receive"
testcontains "exec '$APTSHIP' --data '$DATA' hook pre-receive 'hello'" \
  "$DATA/git/hello.git/hooks/pre-receive"
testsuccess aptship --data "$DATA" apps create hello
testcontains "hooks rewritten" "$OUT"
testfailuremsg "at least 2 characters" aptship --data "$DATA" apps create h
testfailuremsg "must start with" aptship --data "$DATA" apps create ../evil
testfailuremsg "lower-case" aptship --data "$DATA" apps create Hello
testnofile "$T/evil.git"
testfailuremsg "aptship init" aptship --data "$T/nowhere" apps create hello
testnofile "$T/nowhere"
testequal "hello" aptship --data "$DATA" apps list

msg "local push of main: built inside the hook, without aptship on PATH"
new_work "$T/w"
testsuccess local_push "$T/w" "$DATA/git/hello.git" main
FIRST=$(git -C "$T/w" rev-parse HEAD)
testcontains "-----> Building hello (build #1, commit ${FIRST:0:7}) for suite staging" "$ERR"
testcontains "pushed by local:$(id -un)" "$ERR"
testcontains "-----> Published to suite staging" "$ERR"
testcontains "Install with: apt-get install hello=0.1.0+b1.g${FIRST:0:7}" "$ERR"
testequal "$FIRST" server_rev hello main

msg "other branches and tags are accepted without a build"
git -C "$T/w" checkout -q -b feature
commit_file "$T/w" feature.txt 'feature work'
testsuccess local_push "$T/w" "$DATA/git/hello.git" feature
testcontains "branch feature is not a deploy branch (main, master): accepted without a build" "$ERR"
testnogrep "Building" "$ERR"
testequal "$(git -C "$T/w" rev-parse HEAD)" server_rev hello feature
git -C "$T/w" tag -a v1 -m v1
testsuccess local_push "$T/w" "$DATA/git/hello.git" v1
testcontains "tag v1: accepted without a build" "$ERR"
testequal "$(git -C "$T/w" rev-parse v1)" server_rev hello v1
git -C "$T/w" checkout -q main

msg "a failed build rejects the push and main stays where it was"
commit_file "$T/w" Procfile 'not a process line'
BAD=$(git -C "$T/w" rev-parse HEAD)
testfailuremsg "push of branch main rejected: buildpack procfile: bin/compile exited with status 1" \
  local_push "$T/w" "$DATA/git/hello.git" main
testcontains "procfile: the Procfile declares no process" "$ERR"
testcontains "pre-receive hook declined" "$ERR"
testequal "$FIRST" server_rev hello main
testtrue "the rejected commit is not in the repository" \
  sh -c "! git --git-dir '$DATA/git/hello.git' cat-file -e '$BAD' 2>/dev/null"
commit_file "$T/w" Procfile 'web: ./run'
testsuccess local_push "$T/w" "$DATA/git/hello.git" main
testequal "$(git -C "$T/w" rev-parse HEAD)" server_rev hello main
SECOND=$(git -C "$T/w" rev-parse HEAD)

msg "master deploys too; deleting it builds nothing"
testsuccess local_push "$T/w" "$DATA/git/hello.git" main:master
testcontains "for suite staging" "$ERR"
testsuccess local_push "$T/w" "$DATA/git/hello.git" :master
testcontains "branch master deleted: nothing to build" "$ERR"
testequal "" server_rev hello master

msg "an unavailable submodule rejects the push with its name"
git -C "$T/w" update-index --add --cacheinfo "160000,0123456789abcdef0123456789abcdef01234567,vendor/x"
git -C "$T/w" commit -q -m "submodule"
testfailuremsg "submodule vendor/x is not available: aptship does not fetch submodules; vendor it or remove it" \
  local_push "$T/w" "$DATA/git/hello.git" main
testequal "$SECOND" server_rev hello main
git -C "$T/w" reset -q --hard "$SECOND"

# ---------------------------------------------------------------------------
msg "keys add, list, allow, deny, remove"
for k in admin dev webdev stranger; do
  ssh-keygen -q -t ed25519 -N '' -C "$k@tests" -f "$T/$k"
done
ssh-keygen -q -t rsa -b 1024 -N '' -f "$T/weak"
AK="$T/ak/authorized_keys"
mkdir -p "$T/ak"
printf '# the admin'"'"'s own line\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOwnManually me@laptop\n' >"$AK"
testsuccess aptship --data "$DATA" keys add admin "$T/admin.pub" --admin --authorized-keys "$AK"
testcontains "authorized_keys: $AK" "$OUT"
testsuccess aptship --data "$DATA" keys add dev "$T/dev.pub" --app hello
testequal 600 stat -c %a "$AK"
mkdir "$T/data2"
testsuccess aptship --data "$T/data2" keys add other "$T/stranger.pub" \
  --authorized-keys "$T/home2/.ssh/authorized_keys"
testequal "700 700 600" sh -c "stat -c %a '$T/home2' '$T/home2/.ssh' '$T/home2/.ssh/authorized_keys' | xargs"
testequal "# the admin's own line
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOwnManually me@laptop
command=\"$APTSHIP --data $DATA receive --key admin\",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty,no-user-rc $(cut -d' ' -f1,2 "$T/admin.pub") admin
command=\"$APTSHIP --data $DATA receive --key dev\",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty,no-user-rc $(cut -d' ' -f1,2 "$T/dev.pub") dev" cat "$AK"
testfailuremsg "already exists" aptship --data "$DATA" keys add dev "$T/webdev.pub"
testfailuremsg "already registered as dev" aptship --data "$DATA" keys add dev2 "$T/dev.pub"
testfailuremsg "private key" aptship --data "$DATA" keys add dev3 "$T/dev"
testfailuremsg "2048" aptship --data "$DATA" keys add weak "$T/weak.pub"
testfailuremsg "key name" aptship --data "$DATA" keys add 'bad name' "$T/webdev.pub"
testfailuremsg "app name" aptship --data "$DATA" keys add webdev "$T/webdev.pub" --app ../x
testsuccess sh -c "'$APTSHIP' --data '$DATA' keys add webdev - --app web <'$T/webdev.pub'"
DEV_FPR=$(ssh-keygen -l -f "$T/dev.pub" | cut -d' ' -f2)
testsuccess aptship --data "$DATA" keys list
cp "$OUT" "$T/list.out"
testgrep "^admin +SHA256:[^ ]+ +admin \(all apps\)$" "$T/list.out"
testcontains "dev     $DEV_FPR  apps: hello" "$T/list.out"
testgrep "^webdev +SHA256:[^ ]+ +apps: web$" "$T/list.out"
testtrue "keys list --json names every key" sh -c "'$APTSHIP' --data '$DATA' keys list --json |
  '$PYTHON' -c 'import json, sys; k = json.load(sys.stdin); assert [x[\"name\"] for x in k] == [\"admin\", \"dev\", \"webdev\"]; assert k[1][\"apps\"] == [\"hello\"] and k[0][\"admin\"] and k[1][\"fingerprint\"] == \"$DEV_FPR\"'"
testsuccess aptship --data "$DATA" keys allow webdev planned
testcontains "apps: planned, web" "$OUT"
testfailuremsg "no access to app nope" aptship --data "$DATA" keys deny webdev nope
testfailuremsg "no key named ghost" aptship --data "$DATA" keys remove ghost
testcontains "# the admin's own line" "$AK"

# ---------------------------------------------------------------------------
msg "a real sshd with the authorized_keys aptship wrote"
sshd_start
# The file aptship maintains moves to where sshd reads it; the old one
# keeps only its own lines.
testsuccess aptship --data "$DATA" keys sync --authorized-keys "$SSHD_AUTHORIZED_KEYS"
testequal 3 grep -c "receive --key" "$SSHD_AUTHORIZED_KEYS"
testequal 600 stat -c %a "$SSHD_AUTHORIZED_KEYS"
testequal "# the admin's own line
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOwnManually me@laptop" cat "$AK"
# Later commands use the recorded file.
testsuccess aptship --data "$DATA" keys list

msg "push over ssh with a key allowed for the app"
commit_file "$T/w" ssh.txt 'pushed over ssh'
THIRD=$(git -C "$T/w" rev-parse HEAD)
testsuccess sshd_git "$T/dev" -C "$T/w" push "$(sshd_url hello)" main
testcontains "remote: -----> Building hello (build #" "$ERR"
testcontains "commit ${THIRD:0:7}) for suite staging" "$ERR"
testcontains "pushed by dev" "$ERR"
testequal "$THIRD" server_rev hello main
# The scp-like form that git sends as 'hello.git'.
commit_file "$T/w" scp.txt 'scp-like url'
_sshd_client "$T/dev"
testsuccess env GIT_SSH_COMMAND="$(printf '%q ' "${SSHD_CLIENT[@]}") -p $SSHD_PORT" \
  git -C "$T/w" push "$SSHD_USER@127.0.0.1:hello.git" main
testequal "$(git -C "$T/w" rev-parse HEAD)" server_rev hello main

msg "clone and fetch over ssh (git-upload-pack)"
testsuccess sshd_git "$T/dev" clone -q "$(sshd_url hello)" "$T/clone"
testequal "$(git -C "$T/w" rev-parse HEAD)" git -C "$T/clone" rev-parse HEAD
testfileequal "$T/clone/ssh.txt" "pushed over ssh"
testsuccess sshd_git "$T/dev" -C "$T/clone" fetch -q origin
testfailuremsg "key webdev may not fetch from app hello" \
  sshd_git "$T/webdev" clone -q "$(sshd_url hello)" "$T/clone-refused"
testfailuremsg "app planned does not exist yet" \
  sshd_git "$T/admin" clone -q "$(sshd_url planned)" "$T/clone-missing"

msg "a key not allowed for the app is refused"
commit_file "$T/w" refused.txt 'never lands'
BEFORE=$(server_rev hello main)
testfailuremsg "key webdev may not push to app hello: ask an admin to run 'aptship keys allow webdev hello'" \
  sshd_git "$T/webdev" -C "$T/w" push "$(sshd_url hello)" main
testequal "$BEFORE" server_rev hello main
testfailure sshd_git "$T/stranger" -C "$T/w" push "$(sshd_url hello)" main
testcontains "Permission denied (publickey)" "$ERR"
testequal "$BEFORE" server_rev hello main

msg "a failed build over ssh rejects the push, streaming the build's lines"
commit_file "$T/w" Procfile 'fail over ssh'
testfailuremsg "remote: aptship: error: push of branch main rejected: buildpack procfile: bin/compile exited with status 1" \
  sshd_git "$T/dev" -C "$T/w" push "$(sshd_url hello)" main
testcontains "remote:  !     procfile: the Procfile declares no process" "$ERR"
testequal "$BEFORE" server_rev hello main
git -C "$T/w" reset -q --hard HEAD~1

msg "bad app names, shell commands and logins are refused"
testfailuremsg "bad repository path" sshd_git "$T/admin" -C "$T/w" push "$(sshd_url Bad_Name)" main
testfailuremsg "bad repository path" \
  sshd_git "$T/admin" -C "$T/w" push "ssh://$SSHD_USER@127.0.0.1:$SSHD_PORT/../../etc/x.git" main
testnofile "$DATA/git/Bad_Name.git"
testfailuremsg "this key may only push with git (got: rm -rf /)" sshd_ssh "$T/admin" 'rm -rf /'
testfailuremsg "this key may only push with git (got: touch $T/owned)" sshd_ssh "$T/dev" "touch $T/owned"
testnofile "$T/owned"
testfailuremsg "bad repository path" sshd_ssh "$T/dev" "git-receive-pack 'hello.git'; touch $T/owned"
testfailuremsg "bad repository path" sshd_ssh "$T/dev" "git-upload-pack '\$(touch $T/owned)'"
testnofile "$T/owned"
testfailuremsg "this key may only push with git (got: an interactive login)" \
  sshd_ssh "$T/dev" </dev/null
testfailure sshd_ssh "$T/dev" -W "127.0.0.1:$SSHD_PORT" </dev/null
testnogrep "SSH-2.0" "$OUT"

msg "a push to a new app creates it, for an admin key or a key listing it"
git init -q -b main "$T/new"
commit_file "$T/new" Procfile 'web: ./run'
testsuccess sshd_git "$T/admin" -C "$T/new" push "$(sshd_url fresh)" main
testcontains "Building fresh" "$ERR"
testequal "$(git -C "$T/new" rev-parse HEAD)" server_rev fresh main
testcontains "hook pre-receive 'fresh'" "$DATA/git/fresh.git/hooks/pre-receive"
testsuccess sshd_git "$T/webdev" -C "$T/new" push "$(sshd_url planned)" main
testequal "$(git -C "$T/new" rev-parse HEAD)" server_rev planned main
testfailuremsg "key dev may not push to app other" \
  sshd_git "$T/dev" -C "$T/new" push "$(sshd_url other)" main
testnofile "$DATA/git/other.git"
testequal "fresh
hello
planned" sh -c "'$APTSHIP' --data '$DATA' apps list | sort"

msg "allow, deny and remove take effect at once"
testsuccess aptship --data "$DATA" keys allow webdev hello
testsuccess sshd_git "$T/webdev" -C "$T/w" push "$(sshd_url hello)" main
testsuccess aptship --data "$DATA" keys deny webdev hello
testfailuremsg "may not push to app hello" sshd_git "$T/webdev" -C "$T/w" push "$(sshd_url hello)" main
testsuccess aptship --data "$DATA" keys remove dev
testnogrep "receive --key dev" "$SSHD_AUTHORIZED_KEYS"
testfailure sshd_git "$T/dev" -C "$T/w" push "$(sshd_url hello)" main
testcontains "Permission denied (publickey)" "$ERR"

msg "apps destroy"
testfailuremsg "--force" aptship --data "$DATA" apps destroy fresh
testfile "$DATA/git/fresh.git"
testsuccess aptship --data "$DATA" apps destroy fresh --force
testnofile "$DATA/git/fresh.git"

msg "root working on a data dir another user owns acts as that user"
if [ "$(id -u)" -eq 0 ]; then
  OWNED="$T/owned-data"
  mkdir -p "$OWNED"
  chown 65534:65534 "$OWNED"
  testsuccess setpriv --reuid=65534 --regid=65534 --clear-groups \
    env HOME="$OWNED" "$APTSHIP" --data "$OWNED" init
  ssh-keygen -q -t ed25519 -N '' -C owned@test -f "$T/owned-key"
  testsuccess aptship --data "$OWNED" keys add owner - --admin \
    --authorized-keys "$OWNED/authorized_keys" <"$T/owned-key.pub"
  testsuccess aptship --data "$OWNED" apps create owned
  for owned in keys.toml authorized_keys git/owned.git/HEAD git/owned.git/hooks/pre-receive; do
    testequal "65534" stat -c %u "$OWNED/$owned"
  done

  msg "a build by that user still sees its tree at /opt/APP (a user namespace)"
  rm -rf "/opt/owned"
  mkdir "$T/owned-out"
  chown 65534:65534 "$T/owned-out"
  testsuccess aptship --data "$OWNED" build "$APTSHIP_SOURCE_DIR/tests/apps/python" --app owned \
    -o "$T/owned-out"
  OWNED_DEB=$(ls "$T"/owned-out/owned_*.deb)
  dpkg-deb --fsys-tarfile "$OWNED_DEB" | tar -xO ./opt/owned/.venv/bin/activate >"$T/owned-activate"
  testgrep '^VIRTUAL_ENV=/opt/owned/\.venv$' "$T/owned-activate"
  testnofile /opt/owned
fi

finish
