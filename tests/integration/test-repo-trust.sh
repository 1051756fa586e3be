#!/bin/bash
# What the real apt-get must refuse in a repository published by aptship:
# a tampered Packages file (by path and by hash), a Release signed by
# another key, an InRelease changed after signing, a keyring that is not
# the repository's, and an expired Valid-Until (clocks shifted with
# faketime), which `aptship repo publish` refreshes. Each refusal has a
# control: the same apt configuration succeeds on the intact repository.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016,SC2317,SC2119 # single-quoted programs; functions run via helpers; optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/repo.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/repo.sh"

require_cmd apt-get dpkg-deb curl gpg faketime zstd "$PYTHON"
require_aptship

DATA="$T/data"
KEYRING="$T/aptship.gpg"
N=0

# fresh_apt [SUITE] [KEYRING]: a new isolated apt configuration (no lists
# downloaded yet) for the server.
fresh_apt() {
  N=$((N + 1))
  apt_isolated "$T/apt-$N" "${2:-$KEYRING}" "$SERVER_URL" "${1:-stable}"
}

# restore_public: puts back the copy of the published tree taken before
# tampering with it (the folder itself stays: the server may hold it open).
restore_public() {
  find "$DATA/public" -mindepth 1 -delete
  cp -a "$T/public.orig/." "$DATA/public/"
}

# epoch_of DATE: a Release date (RFC 1123) as Unix time.
epoch_of() { date -u -d "$1" +%s; }

msg "repository"
make_deb hello 1.0 all
make_deb hello 2.0 all
repo_init "$DATA" '[suites.daily]
valid_days = 1'
testsuccess aptship --data "$DATA" repo add "$(deb_file hello 1.0 all)" "$(deb_file hello 2.0 all)"
testsuccess aptship --data "$DATA" repo add --suite daily "$(deb_file hello 1.0 all)"
testsuccess aptship --data "$DATA" key export -o "$KEYRING"
start_server "$DATA"
fresh_apt
testaptupdate
testinstallsim hello 2.0 hello
cp -a "$DATA/public" "$T/public.orig"

msg "a tampered Packages file"
GEN=$(suite_dir "$DATA" stable)
testsuccess tamper_indexes "$GEN/main"
fresh_apt
testaptupdatefails 'Hash Sum mismatch|unexpected size'
fresh_apt
testaptupdatefails 'Hash Sum mismatch|unexpected size' -o Acquire::By-Hash=force
fresh_apt
testaptupdatefails 'Hash Sum mismatch|unexpected size' -o 'Acquire::CompressionTypes::Order::=uncompressed' \
  -o Acquire::CompressionTypes::uncompressed=.
restore_public
fresh_apt
testaptupdate

msg "a Release signed by another key"
new_gnupg_home "$T/other-gpg"
testsuccess gpg --homedir "$T/other-gpg" --batch --passphrase '' \
  --quick-generate-key 'Someone Else <else@example.org>' ed25519 sign never
gpg --homedir "$T/other-gpg" --batch --export >"$T/other.gpg"
GEN=$(suite_dir "$DATA" stable)
rm -f "$GEN/InRelease" "$GEN/Release.gpg"
testsuccess gpg --homedir "$T/other-gpg" --batch --digest-algo SHA512 --clearsign \
  -o "$GEN/InRelease" "$GEN/Release"
testsuccess gpg --homedir "$T/other-gpg" --batch --digest-algo SHA512 --detach-sign \
  -o "$GEN/Release.gpg" "$GEN/Release"
fresh_apt
testaptupdatefails 'NO_PUBKEY|not signed|could(n.t| not) be verified'
# Control: with the other key as signed-by, the same files pass; so the
# failure above is the key, not the re-signing.
fresh_apt stable "$T/other.gpg"
testaptupdate
restore_public

msg "another repository's keyring as signed-by"
aptship_init "$T/data2"
testsuccess aptship --data "$T/data2" key export -o "$T/data2.gpg"
testfilediffer "$KEYRING" "$T/data2.gpg"
fresh_apt stable "$T/data2.gpg"
testaptupdatefails 'NO_PUBKEY|not signed|could(n.t| not) be verified'

msg "an InRelease changed after signing"
GEN=$(suite_dir "$DATA" stable)
# One letter of the Label inside the signed text.
sed -i 's/^Label: \(.\)/Label: X\1/' "$GEN/InRelease"
testgrep '^Label: X' "$GEN/InRelease"
fresh_apt
testaptupdatefails 'BADSIG|invalid|not signed|could(n.t| not) be verified'
restore_public
fresh_apt
testaptupdate

msg "Valid-Until: default 7 days, per suite valid_days"
REL="$(suite_dir "$DATA" stable)/InRelease"
DATE=$(epoch_of "$(release_field "$REL" Date)")
UNTIL=$(epoch_of "$(release_field "$REL" Valid-Until)")
testequal $((7 * 86400)) echo $((UNTIL - DATE))
REL="$(suite_dir "$DATA" daily)/InRelease"
DATE=$(epoch_of "$(release_field "$REL" Date)")
UNTIL=$(epoch_of "$(release_field "$REL" Valid-Until)")
testequal 86400 echo $((UNTIL - DATE))

msg "Valid-Until passed: apt refuses"
fresh_apt
APT_FAKETIME=+8d testaptupdatefails 'is expired'
fresh_apt daily
APT_FAKETIME=+2d testaptupdatefails 'is expired'
fresh_apt daily
APT_FAKETIME=+12h testaptupdate
# A client that updated before the expiry does not take the old lists
# as current either.
APT_CONF="$T/apt-1/apt.conf" APT_FAKETIME=+8d testaptupdatefails 'is expired'

msg "repo publish refreshes Valid-Until"
testsuccess faketime -f +8d "$APTSHIP" --data "$DATA" repo publish
fresh_apt
APT_FAKETIME=+8d testaptupdate
APT_FAKETIME=+8d testinstallsim hello 2.0 hello
fresh_apt daily
APT_FAKETIME=+8d testaptupdate
APT_CONF="$T/apt-1/apt.conf" APT_FAKETIME=+8d testaptupdate
# Check-Date is on in these configurations: seen from today, a Release
# dated 8 days ahead is refused.
fresh_apt
testaptupdatefails 'not valid yet|in the future'

msg "a repository last published 10 days ago"
OLD="$T/old"
testsuccess faketime -f -10d "$APTSHIP" --data "$OLD" init
GNUPG_HOMES+=("$OLD/gnupg")
testsuccess faketime -f -10d "$APTSHIP" --data "$OLD" repo add "$(deb_file hello 1.0 all)"
# The files too carry the time they were published (faketime does not
# change what the kernel stamps).
find "$OLD/public" -exec touch -h -d "@$(($(date +%s) - 10 * 86400))" {} +
testsuccess aptship --data "$OLD" key export -o "$T/old.gpg"
stop_server "$SERVER_PID"
start_server "$OLD"
fresh_apt stable "$T/old.gpg"
testaptupdatefails 'is expired'
testsuccess aptship --data "$OLD" repo publish
testaptupdate
testinstallsim hello 1.0 hello

finish
