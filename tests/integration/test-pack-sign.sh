#!/bin/bash
# `aptship pack --sign` adds a debsigs _gpgorigin member that the real
# debsig-verify accepts under the policy `aptship key debsig-install`
# writes, for zstd, xz and gzip packages alike; tampered packages, borrowed
# signatures and other keys are rejected; dpkg still reads and installs
# signed packages.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016,SC2317 # single-quoted formats and programs; functions run via helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"

require_cmd debsig-verify gpg gpgv dpkg dpkg-deb dpkg-query ar "$PYTHON"
require_aptship

export SOURCE_DATE_EPOCH=1700000000
NAME=signed
DATA="$T/data"
ROOT="$T/root"
POLICIES="$ROOT/etc/debsig/policies"
KEYRINGS="$ROOT/usr/share/debsig/keyrings"
new_gnupg_home "$T/gpg"

msg "data dir and debsig-verify policy"
aptship_init "$DATA"
testsuccess aptship --data "$DATA" key fingerprint
FPR=$(tr -d '[:space:]' <"$OUT")
KEYID=${FPR: -16}
info "fingerprint $FPR, debsig key id $KEYID"
testtrue "fingerprint is 40 hex digits" test "${#FPR}" -eq 40
testsuccess aptship --data "$DATA" key debsig-install --root "$ROOT"
testfile "$POLICIES/$KEYID/aptship.pol"
testfile "$KEYRINGS/$KEYID/debsig.gpg"
testsuccess aptship --data "$DATA" key debsig-policy
cp "$OUT" "$T/policy"
testfilesame "$T/policy" "$POLICIES/$KEYID/aptship.pol"
testsuccess gpg --homedir "$T/gpg" --batch --with-colons --show-keys "$KEYRINGS/$KEYID/debsig.gpg"
cp "$OUT" "$T/keyring-keys"
testequal "$FPR" sh -c "grep '^fpr:' '$T/keyring-keys' | head -n 1 | cut -d: -f10"
testsuccess aptship --data "$DATA" key export -o "$T/key.gpg"

# verify DEB: debsig-verify with the policy installed under $ROOT.
verify() { debsig-verify --policies-dir "$POLICIES" --keyrings-dir "$KEYRINGS" "$1"; }

make_tree "$T/tree" "$NAME" 1.0
make_tree "$T/other-tree" "$NAME" 1.1
tree_listing "$T/tree" >"$T/expected-listing"

for compress in zstd xz gzip; do
  ext=$(compression_ext "$compress")
  deb="$T/${NAME}_$compress.deb"
  msg "--sign --compress $compress"
  testsuccess aptship --data "$DATA" pack "$T/tree" -o "$deb" --compress "$compress" --sign
  [ -f "$deb" ] || continue
  testequal "debian-binary
control.tar$ext
data.tar$ext
_gpgorigin" ar t "$deb"
  testtrue "ar structure is well formed" deb_tool ar-check "$deb"

  msg "debsig-verify accepts the $compress package"
  testsuccess verify "$deb"
  testsuccess debsig-verify --root "$ROOT" "$deb"
  # The signature covers debian-binary, control.tar and data.tar, in that
  # order, as plain bytes: check it with gpgv alone too.
  for member in debian-binary "control.tar$ext" "data.tar$ext"; do
    ar p "$deb" "$member"
  done >"$T/signed-bytes-$compress"
  ar p "$deb" _gpgorigin >"$T/sig-$compress"
  testsuccess gpgv --keyring "$T/key.gpg" "$T/sig-$compress" "$T/signed-bytes-$compress"
  testgrep "Good signature" "$ERR"
  testsuccess gpg --homedir "$T/gpg" --batch --list-packets "$T/sig-$compress"
  testgrep "^:signature packet: algo [0-9]+, keyid $KEYID$" "$OUT"
  testgrep "^[[:space:]]+version 4, created [0-9]+, md5len 0, sigclass 0x00$" "$OUT"
  testgrep "digest algo (8|9|10)," "$OUT" # SHA256, SHA384 or SHA512

  msg "signing changes nothing but the added member ($compress)"
  testsuccess aptship pack "$T/tree" -o "$T/unsigned-$compress.deb" --compress "$compress"
  for member in debian-binary "control.tar$ext" "data.tar$ext"; do
    ar p "$T/unsigned-$compress.deb" "$member"
  done >"$T/unsigned-bytes-$compress"
  testfilesame "$T/signed-bytes-$compress" "$T/unsigned-bytes-$compress"
  testfailure verify "$T/unsigned-$compress.deb"

  msg "dpkg reads and installs the signed $compress package"
  testequal "$NAME" dpkg-deb --field "$deb" Package
  testsuccess dpkg-deb --info "$deb"
  testsuccess dpkg-deb -x "$deb" "$T/x-$compress"
  testequal "$(cat "$T/expected-listing")" tree_listing "$T/x-$compress"
  dpkg_root "$T/dpkg-$compress"
  testsuccess dpkg_in "$T/dpkg-$compress" -i "$deb"
    testequal "install ok installed 1.0" dpkg_query_in "$T/dpkg-$compress" -W -f='${Status} ${Version}' "$NAME"

  msg "debsig-verify rejects tampered $compress packages"
  for member in "data.tar$ext" "control.tar$ext"; do
    bad="$T/flipped-$member.deb"
    cp "$deb" "$bad"
    read -r offset size < <(deb_tool ar-offset "$bad" "$member")
    deb_tool flip-byte "$bad" $((offset + size / 2))
    testfilediffer "$deb" "$bad"
    testfailure verify "$bad"
  done
  testsuccess aptship --data "$DATA" pack "$T/other-tree" -o "$T/other-$compress.deb" --compress "$compress" --sign
  testsuccess verify "$T/other-$compress.deb"
  deb_tool ar-splice "$T/borrowed-$compress.deb" "$T/other-$compress.deb" "$deb" _gpgorigin
  testequal "debian-binary
control.tar$ext
data.tar$ext
_gpgorigin" ar t "$T/borrowed-$compress.deb"
  testfailure verify "$T/borrowed-$compress.deb"
done

msg "a package signed by another key is rejected"
aptship_init "$T/other-data"
testsuccess aptship --data "$T/other-data" pack "$T/tree" -o "$T/other-key.deb" --compress xz --sign
testfailure verify "$T/other-key.deb"
# ...and accepted once that key's own policy is installed.
testsuccess aptship --data "$T/other-data" key debsig-install --root "$ROOT"
testsuccess verify "$T/other-key.deb"
testsuccess verify "$T/${NAME}_xz.deb"

msg "a policy without its keyring accepts nothing"
mkdir -p "$T/nokeys"
testfailure debsig-verify --policies-dir "$POLICIES" --keyrings-dir "$T/nokeys" "$T/${NAME}_xz.deb"

finish
