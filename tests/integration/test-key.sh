#!/bin/bash
# `aptship init` and `aptship key ...`: the data dir's signing key, checked
# with the real gpg and gpgv: fingerprint, exports (binary keyring usable by
# gpgv, armored block), the debsig-verify policy and its installation, and
# clear one-line errors when there is no key.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016,SC2317 # single-quoted formats and programs; functions run via helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"

require_cmd gpg gpgv ar "$PYTHON"
require_aptship

export SOURCE_DATE_EPOCH=1700000000
new_gnupg_home "$T/gpg"

# fingerprints FILE: the fingerprint of each primary key in the key file FILE.
fingerprints() {
  gpg --homedir "$T/gpg" --batch --with-colons --show-keys "$1" |
    awk -F: '$1 == "pub" { want = 1 } $1 == "fpr" && want { print $10; want = 0 }'
}

# testonelineerror DESCRIPTION ERE CMD...: CMD exits 1 with exactly one line
# "aptship: error: ..." on stderr matching ERE (case-insensitive).
testonelineerror() {
  local what=$1 pattern=$2 rc=0
  shift 2
  "$@" >"$OUT" 2>"$ERR" || rc=$?
  local problems=() lines
  [ "$rc" -eq 1 ] || problems+=("exit code $rc, expected 1")
  lines=$(wc -l <"$ERR")
  [ "$lines" -eq 1 ] || problems+=("stderr has $lines lines, expected exactly 1")
  grep -q '^aptship: error: ' "$ERR" || problems+=("stderr does not start with 'aptship: error: '")
  grep -qiE -- "$pattern" "$ERR" || problems+=("stderr does not match /$pattern/")
  if [ "${#problems[@]}" -eq 0 ]; then
    _pass "$what -- $(head -n 1 "$ERR")"
  else
    _fail "$what" "$(_quote_cmd "$@")" "${problems[@]}"
    _show stderr "$ERR"
  fi
}

msg "no key yet: clear errors, nothing created"
mkdir -p "$T/empty"
testonelineerror "key fingerprint on an empty data dir" "init|no .*key|key" \
  aptship --data "$T/empty" key fingerprint
testonelineerror "key export on an empty data dir" "init|no .*key|key" \
  aptship --data "$T/empty" key export -o "$T/empty-export.gpg"
testnofile "$T/empty-export.gpg"
testonelineerror "key debsig-policy on an empty data dir" "init|no .*key|key" \
  aptship --data "$T/empty" key debsig-policy
testonelineerror "key debsig-install on an empty data dir" "init|no .*key|key" \
  aptship --data "$T/empty" key debsig-install --root "$T/empty-root"
testtrue "debsig-install wrote no policy or keyring" \
  test -z "$(find "$T/empty-root" -type f 2>/dev/null)"
testonelineerror "key fingerprint on a missing data dir" "init|no .*key|key|$T/missing" \
  aptship --data "$T/missing" key fingerprint
testnofile "$T/missing"

msg "init"
DATA="$T/data"
mkdir -p "$T/home"
# The user's GnuPG home is never read or written.
testsuccess env HOME="$T/home" GNUPGHOME="$T/user-gnupg" "$APTSHIP" --data "$DATA" init
GNUPG_HOMES+=("$DATA/gnupg")
testfile "$DATA"
testequal 700 stat -c %a "$DATA/gnupg"
testnofile "$T/home/.gnupg"
testnofile "$T/user-gnupg"
testsuccess aptship --data "$DATA" key fingerprint
FPR=$(tr -d '[:space:]' <"$OUT")
testtrue "fingerprint '$FPR' is 40 upper-case hex digits" \
  sh -c "printf '%s' '$FPR' | grep -qxE '[0-9A-F]{40}'"
KEYID=${FPR: -16}

msg "--data anywhere, APTSHIP_DATA, ./aptship-data"
testequal "$FPR" aptship key fingerprint --data "$DATA"
testequal "$FPR" env APTSHIP_DATA="$DATA" "$APTSHIP" key fingerprint
mkdir -p "$T/cwd"
testsuccess sh -c "cd '$T/cwd' && '$APTSHIP' init"
GNUPG_HOMES+=("$T/cwd/aptship-data/gnupg")
testfile "$T/cwd/aptship-data/gnupg"
testsuccess sh -c "cd '$T/cwd' && '$APTSHIP' key fingerprint"
testtrue "a second data dir has its own key" test "$(tr -d '[:space:]' <"$OUT")" != "$FPR"

msg "init twice keeps the key"
rc=0
"$APTSHIP" --data "$DATA" init >"$OUT" 2>"$ERR" || rc=$?
if [ "$rc" -eq 0 ]; then
  _pass "a second init succeeds"
elif [ "$rc" -eq 1 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q '^aptship: error: ' "$ERR"; then
  _pass "a second init refuses in one line: $(cat "$ERR")"
else
  _fail "a second init succeeds or refuses in one line" "exit code $rc"
  _show stderr "$ERR"
fi
testequal "$FPR" aptship --data "$DATA" key fingerprint
testequal 1 sh -c "gpg --homedir '$DATA/gnupg' --batch --with-colons --list-secret-keys | grep -c '^sec:'"

msg "key export (binary)"
testsuccess aptship --data "$DATA" key export -o "$T/key.gpg"
testequal "$FPR" fingerprints "$T/key.gpg"
testsuccess aptship --data "$DATA" key export
cp "$OUT" "$T/key-stdout.gpg"
testfilesame "$T/key.gpg" "$T/key-stdout.gpg"
testtrue "binary export is an OpenPGP packet, not armor" \
  "$PYTHON" -c "import sys; sys.exit(0 if open('$T/key.gpg','rb').read(1)[0] & 0x80 else 1)"
gpg --homedir "$T/gpg" --batch --with-colons --show-keys "$T/key.gpg" >"$T/key.colons"
testnogrep '^sec:' "$T/key.colons"
# ed25519 (algo 22), or RSA (1) of at least 3072 bits; able to sign.
testtrue "the key is ed25519 or RSA >= 3072 and can sign" awk -F: '
  $1 == "pub" { n++; if (!(($4 == 22) || ($4 == 1 && $3 >= 3072)) || $12 !~ /[sS]/) bad = 1 }
  END { exit (n == 1 && !bad) ? 0 : 1 }' "$T/key.colons"
testtrue "the key does not expire" awk -F: '$1 == "pub" && $7 != "" { bad = 1 } END { exit bad }' "$T/key.colons"

msg "key export --armor"
testsuccess aptship --data "$DATA" key export --armor -o "$T/key.asc"
testequal "-----BEGIN PGP PUBLIC KEY BLOCK-----" head -n 1 "$T/key.asc"
testgrep '^-----END PGP PUBLIC KEY BLOCK-----$' "$T/key.asc"
testequal "$FPR" fingerprints "$T/key.asc"
testsuccess aptship --data "$DATA" key export --armor
cp "$OUT" "$T/key-stdout.asc"
testequal "-----BEGIN PGP PUBLIC KEY BLOCK-----" head -n 1 "$T/key-stdout.asc"

msg "the binary export is a gpgv keyring"
make_tree "$T/tree" keytest 1.0
testsuccess aptship --data "$DATA" pack "$T/tree" -o "$T/signed.deb" --compress gzip --sign
for member in debian-binary control.tar.gz data.tar.gz; do ar p "$T/signed.deb" "$member"; done >"$T/signed-bytes"
ar p "$T/signed.deb" _gpgorigin >"$T/sig"
testsuccess gpgv --keyring "$T/key.gpg" "$T/sig" "$T/signed-bytes"
testgrep "Good signature" "$ERR"
testgrep "$FPR" "$ERR"
# Proof the keyring matters: another data dir's key does not verify it.
testsuccess sh -c "cd '$T/cwd' && '$APTSHIP' key export -o '$T/other.gpg'"
testfailure gpgv --keyring "$T/other.gpg" "$T/sig" "$T/signed-bytes"
printf 'x' >>"$T/signed-bytes"
testfailure gpgv --keyring "$T/key.gpg" "$T/sig" "$T/signed-bytes"

msg "debsig-verify policy"
testsuccess aptship --data "$DATA" key debsig-policy
cp "$OUT" "$T/policy.pol"
testtrue "the policy names key $KEYID in Origin, Selection and Verification" "$PYTHON" - "$T/policy.pol" "$KEYID" <<'EOF'
import sys, xml.etree.ElementTree as ET
ns = '{https://www.debian.org/debsig/1.0/}'
root = ET.parse(sys.argv[1]).getroot()
keyid = sys.argv[2]
assert root.tag == ns + 'Policy', root.tag
origin = root.find(ns + 'Origin')
assert origin is not None and origin.get('id') == keyid, 'Origin id'
for block in ('Selection', 'Verification'):
    el = root.find(ns + block)
    assert el is not None, block
    req = el.findall(ns + 'Required')
    assert any(r.get('Type') == 'origin' and r.get('id') == keyid for r in req), block
EOF
testsuccess aptship --data "$DATA" key debsig-install --root "$T/root"
testfilesame "$T/policy.pol" "$T/root/etc/debsig/policies/$KEYID/aptship.pol"
testequal "$FPR" fingerprints "$T/root/usr/share/debsig/keyrings/$KEYID/debsig.gpg"
testequal "etc/debsig/policies/$KEYID/aptship.pol
usr/share/debsig/keyrings/$KEYID/debsig.gpg" sh -c "cd '$T/root' && find . -type f -printf '%P\n' | sort"
testequal "644 644" sh -c "stat -c %a '$T/root/etc/debsig/policies/$KEYID/aptship.pol' \
  '$T/root/usr/share/debsig/keyrings/$KEYID/debsig.gpg' | xargs"
testsuccess aptship --data "$DATA" key debsig-install --root "$T/root"
testfilesame "$T/policy.pol" "$T/root/etc/debsig/policies/$KEYID/aptship.pol"

finish
