#!/bin/bash
# The published repository as the real apt-get sees it over HTTP from
# `aptship serve`, in an apt configuration isolated from the host's: update
# without a warning, with date checks on, for every index compression and
# with by-hash forced; two versions of a package side by side, downloaded
# byte for byte and chosen by the resolver; an `all` package in every
# architecture's index; promotion into a second suite (same bytes, same
# hashes); removal; and the served deb822 .sources file as the only source.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016,SC2317,SC2119 # single-quoted programs; functions run via helpers; optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/repo.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/repo.sh"

require_cmd apt-get apt-cache dpkg-deb curl gpg sha256sum "$PYTHON"
require_aptship

DATA="$T/data"
KEYRING="$T/aptship.gpg"

msg "packages and repository"
make_deb hello 1.0 all
make_deb hello 2.0 all
make_deb hello 3.0 all
make_deb tool 1.0 amd64
make_deb tool 1.0 arm64
make_deb needs-hello 1.0 all 'hello (>= 2.0)'
make_deb epoch 1:1.0-1 all
repo_init "$DATA" '[suites.stable]
architectures = ["amd64", "arm64"]
compressions = ["gz", "xz", "zst"]'
testsuccess aptship --data "$DATA" repo add "$(deb_file hello 1.0 all)"
# A second add: the suite grows incrementally.
testsuccess aptship --data "$DATA" repo add "$(deb_file hello 2.0 all)" \
  "$(deb_file tool 1.0 amd64)" "$(deb_file tool 1.0 arm64)" "$(deb_file needs-hello 1.0 all)" \
  "$(deb_file epoch 1:1.0-1 all)"
testsuccess aptship --data "$DATA" key export -o "$KEYRING"
testfile "$DATA/public/dists/stable/InRelease"
testfile "$DATA/public/pool/main/h/hello/hello_1.0_all.deb"
testfile "$DATA/public/pool/main/h/hello/hello_2.0_all.deb"
testtrue "dists/stable is a symlink into .gen" test -L "$DATA/public/dists/stable"
for arch in amd64 arm64; do
  testequal "1.0
2.0" packages_versions "$(packages_file "$DATA" stable $arch)" hello
done
testequal "1.0" packages_versions "$(packages_file "$DATA" stable amd64)" needs-hello
testequal "1.0" packages_versions "$(packages_file "$DATA" stable arm64)" tool

start_server "$DATA"

msg "apt-get update (amd64), two versions side by side"
apt_isolated "$T/apt" "$KEYRING" "$SERVER_URL" stable
testaptupdate
apt_cache madison hello >"$T/madison" 2>&1 || true
testequal "2.0
1.0" awk -F' *[|] *' '{ print $2 }' "$T/madison"
testinstallsim hello 2.0 hello
testinstallsim hello 1.0 hello=1.0
testinstallsim hello 2.0 hello=2.0
# The resolver follows Depends to the newer version.
testinstallsim hello 2.0 needs-hello
testgrep '^Inst needs-hello \(1\.0 ' "$OUT"
testinstallsim tool 1.0 tool
testfailure apt_get -s install hello=9.9

msg "apt-get download NAME=VERSION: the added bytes"
for v in 1.0 2.0; do
  testsuccess apt_download "$T/dl" "hello=$v"
  testfilesame "$(deb_file hello $v all)" "$T/dl/hello_${v}_all.deb"
done
testsuccess apt_download "$T/dl" tool
testfilesame "$(deb_file tool 1.0 amd64)" "$T/dl/tool_1.0_amd64.deb"
# An epoch: whatever the pool file is called, apt finds it.
testsuccess apt_download "$T/dl" epoch=1:1.0-1
testfilesame "$(deb_file epoch 1:1.0-1 all)" "$T/dl/epoch_1%3a1.0-1_all.deb"

msg "apt-get install --download-only"
testsuccess apt_get install --download-only hello=1.0
testfilesame "$(deb_file hello 1.0 all)" "$T/apt/var/cache/apt/archives/hello_1.0_all.deb"
testsuccess apt_get install --download-only needs-hello
testfilesame "$(deb_file hello 2.0 all)" "$T/apt/var/cache/apt/archives/hello_2.0_all.deb"
testfilesame "$(deb_file needs-hello 1.0 all)" \
  "$T/apt/var/cache/apt/archives/needs-hello_1.0_all.deb"

msg "every index compression"
# Each apt configuration prefers one compression and fetches by path (by
# default apt fetches by hash, as the Release allows); the server's log
# shows which Packages file it fetched.
for comp in gz xz zst uncompressed; do
  apt_isolated "$T/apt-$comp" "$KEYRING" "$SERVER_URL" stable
  before=$(wc -l <"$SERVER_LOG")
  # (apt takes "uncompressed" in the order only once it names a compressor.)
  testaptupdate -o "Acquire::CompressionTypes::Order::=$comp" -o Acquire::By-Hash=no \
    -o Acquire::CompressionTypes::uncompressed=.
  case $comp in
    uncompressed) pattern='binary-amd64/Packages( |$|\?)' ;;
    *) pattern="binary-amd64/Packages\\.$comp " ;;
  esac
  tail -n +"$((before + 1))" "$SERVER_LOG" >"$T/log-$comp"
  testgrep "GET /dists/stable/main/$pattern" "$T/log-$comp"
  testnogrep 'by-hash' "$T/log-$comp"
  testinstallsim hello 2.0 hello
done
# By default apt asks by hash: the file it gets is one of the index's.
apt_isolated "$T/apt-default" "$KEYRING" "$SERVER_URL" stable
before=$(wc -l <"$SERVER_LOG")
testaptupdate
tail -n +"$((before + 1))" "$SERVER_LOG" >"$T/log-default"
testgrep 'GET /dists/stable/main/binary-amd64/by-hash/SHA(256|512)/[0-9a-f]+ 200 ' "$T/log-default"

msg "by-hash forced"
apt_isolated "$T/apt-byhash" "$KEYRING" "$SERVER_URL" stable
before=$(wc -l <"$SERVER_LOG")
testaptupdate -o Acquire::By-Hash=force
tail -n +"$((before + 1))" "$SERVER_LOG" >"$T/log-byhash"
testgrep 'binary-amd64/by-hash/SHA(256|512)/[0-9a-f]{64}' "$T/log-byhash"
testnogrep 'binary-amd64/Packages' "$T/log-byhash"
testinstallsim hello 2.0 hello
testsuccess apt_download "$T/dl-byhash" hello=1.0
testfilesame "$(deb_file hello 1.0 all)" "$T/dl-byhash/hello_1.0_all.deb"

msg "an 'all' package in every architecture"
# amd64 native with arm64 added, as multiarch hosts configure it.
apt_isolated "$T/apt-multi" "$KEYRING" "$SERVER_URL" stable
testaptupdate -o 'APT::Architectures::=arm64'
testsuccess apt_download "$T/dl-multi" -o 'APT::Architectures::=arm64' tool:arm64
testfilesame "$(deb_file tool 1.0 arm64)" "$T/dl-multi/tool_1.0_arm64.deb"
testsuccess apt_download "$T/dl-multi" -o 'APT::Architectures::=arm64' hello=2.0
testfilesame "$(deb_file hello 2.0 all)" "$T/dl-multi/hello_2.0_all.deb"
# arm64 alone: only binary-arm64/Packages is fetched, and it lists hello.
apt_isolated "$T/apt-arm64" "$KEYRING" "$SERVER_URL" stable main arm64
before=$(wc -l <"$SERVER_LOG")
testaptupdate
tail -n +"$((before + 1))" "$SERVER_LOG" >"$T/log-arm64"
testnogrep 'binary-amd64' "$T/log-arm64"
testinstallsim hello 1.0 hello=1.0
testinstallsim tool 1.0 tool
testsuccess apt_download "$T/dl-arm64" hello=1.0 tool
testfilesame "$(deb_file hello 1.0 all)" "$T/dl-arm64/hello_1.0_all.deb"
testfilesame "$(deb_file tool 1.0 arm64)" "$T/dl-arm64/tool_1.0_arm64.deb"

msg "a new version, published while clients hold the old lists"
testsuccess aptship --data "$DATA" repo add "$(deb_file hello 3.0 all)"
APT_CONF="$T/apt/apt.conf" testaptupdate
APT_CONF="$T/apt/apt.conf" testinstallsim hello 3.0 hello
APT_CONF="$T/apt/apt.conf" testsuccess apt_download "$T/dl" hello=3.0
testfilesame "$(deb_file hello 3.0 all)" "$T/dl/hello_3.0_all.deb"
# The by-hash client updates again: the new indexes by hash, too.
APT_CONF="$T/apt-byhash/apt.conf" testaptupdate -o Acquire::By-Hash=force
APT_CONF="$T/apt-byhash/apt.conf" testinstallsim hello 3.0 hello

msg "two publishes within one second"
# A client that updated right after a publish must see the next publish,
# even when both fall in the same second (the resolution of
# Last-Modified and If-Modified-Since). Starting early in a second makes
# that likely; on a slow machine the second may turn and the check is
# merely easier.
make_deb fast1 1.0 all
make_deb fast2 1.0 all
apt_isolated "$T/apt-fast" "$KEYRING" "$SERVER_URL" stable
testaptupdate
for _ in $(seq 1 200); do
  [ "$(date +%N | cut -c1-2)" -lt 10 ] && break
  sleep 0.01
done
started=$(date +%s)
testsuccess aptship --data "$DATA" repo add "$(deb_file fast1 1.0 all)"
testaptupdate
testsuccess aptship --data "$DATA" repo add "$(deb_file fast2 1.0 all)"
info "both publishes in second $started: $([ "$(date +%s)" = "$started" ] && echo yes || echo no)"
testaptupdate
testinstallsim fast1 1.0 fast1
testinstallsim fast2 1.0 fast2

msg "promote into a second suite"
testsuccess aptship --data "$DATA" repo promote hello=1.0 --from stable --to testing
testfile "$DATA/public/dists/testing/InRelease"
apt_isolated "$T/apt-testing" "$KEYRING" "$SERVER_URL" testing
testaptupdate
testinstallsim hello 1.0 hello
testfailure apt_get -s install hello=2.0
testsuccess apt_download "$T/dl-testing" hello=1.0
testfilesame "$(deb_file hello 1.0 all)" "$T/dl-testing/hello_1.0_all.deb"
for field in Filename Size MD5sum SHA1 SHA256 SHA512; do
  testequal "$(stanza_field "$(packages_file "$DATA" stable amd64)" hello 1.0 all $field)" \
    stanza_field "$(packages_file "$DATA" testing amd64)" hello 1.0 all $field
done
testequal "$(sha256sum <"$(deb_file hello 1.0 all)" | cut -d' ' -f1)" \
  stanza_field "$(packages_file "$DATA" testing amd64)" hello 1.0 all SHA256
# The first suite still has every version.
APT_CONF="$T/apt/apt.conf" testaptupdate
APT_CONF="$T/apt/apt.conf" testinstallsim hello 1.0 hello=1.0

msg "remove one version"
testsuccess aptship --data "$DATA" repo remove --suite stable hello=1.0
# A new client: one that updated within the same second as the removal
# is the subject of "two publishes within one second" above.
apt_isolated "$T/apt-removed" "$KEYRING" "$SERVER_URL" stable
testaptupdate
testfailure apt_get -s install hello=1.0
testinstallsim hello 2.0 hello=2.0
# Still promoted in testing.
APT_CONF="$T/apt-testing/apt.conf" testaptupdate
APT_CONF="$T/apt-testing/apt.conf" testinstallsim hello 1.0 hello=1.0

msg "retention: the newest versions stay"
make_deb short 1.0 all
make_deb short 1.1 all
make_deb short 1.2 all
printf '\n[suites.short]\nretention = 2\n' >>"$DATA/aptship.toml"
testsuccess aptship --data "$DATA" repo add --suite short "$(deb_file short 1.0 all)" "$(deb_file short 1.1 all)"
testsuccess aptship --data "$DATA" repo add --suite short "$(deb_file short 1.2 all)"
testequal "1.1
1.2" packages_versions "$(packages_file "$DATA" short amd64)" short
apt_isolated "$T/apt-short" "$KEYRING" "$SERVER_URL" short
testaptupdate
testinstallsim short 1.2 short
testinstallsim short 1.1 short=1.1
testfailure apt_get -s install short=1.0

msg "gc keeps what a published generation names"
make_deb gone 1.0 all
testsuccess aptship --data "$DATA" repo add --suite short "$(deb_file gone 1.0 all)"
GONE="$DATA/public/pool/main/g/gone/gone_1.0_all.deb"
apt_isolated "$T/apt-gone" "$KEYRING" "$SERVER_URL" short
testaptupdate
testinstallsim gone 1.0 gone
testsuccess aptship --data "$DATA" repo remove --suite short gone
testsuccess aptship --data "$DATA" repo gc
testfile "$GONE"
# A client that has not updated since still downloads it.
testsuccess apt_download "$T/dl-gone" gone=1.0
testfilesame "$(deb_file gone 1.0 all)" "$T/dl-gone/gone_1.0_all.deb"
# Once no kept generation names it (by_hash_keep, default 3), gc removes it.
for _ in 1 2 3 4; do testsuccess aptship --data "$DATA" repo publish --suite short; done
testsuccess aptship --data "$DATA" repo gc
testgrep 'gone' "$OUT"
testnofile "$GONE"
testfile "$DATA/public/pool/main/s/short/short_1.2_all.deb"
apt_isolated "$T/apt-gone2" "$KEYRING" "$SERVER_URL" short
testaptupdate
testfailure apt_get -s install gone
testinstallsim short 1.2 short
# The other suites lost nothing.
apt_isolated "$T/apt-after-gc" "$KEYRING" "$SERVER_URL" stable
testaptupdate
testsuccess apt_download "$T/dl-after-gc" hello=2.0 hello=3.0 tool epoch
testfilesame "$(deb_file hello 3.0 all)" "$T/dl-after-gc/hello_3.0_all.deb"

msg "the served .sources file as the only source"
testequal 200 http_status "$SERVER_URL/aptship.sources"
curl --noproxy '*' -fsS "$SERVER_URL/aptship.sources" -o "$T/aptship.sources"
testgrep '^Types: deb$' "$T/aptship.sources"
testgrep "^URIs: $SERVER_URL/?\$" "$T/aptship.sources"
testgrep '^Suites: .*\bstable\b' "$T/aptship.sources"
testgrep '^Suites: .*\btesting\b' "$T/aptship.sources"
testgrep '^Suites: .*\bshort\b' "$T/aptship.sources"
testgrep '^Components: main$' "$T/aptship.sources"
testgrep '^Signed-By:' "$T/aptship.sources"
apt_isolated "$T/apt-sources" - "$SERVER_URL" stable
cp "$T/aptship.sources" "$T/apt-sources/etc/apt/sources.list.d/aptship.sources"
testaptupdate
testinstallsim hello 3.0 hello
testsuccess apt_download "$T/dl-sources" hello=2.0
testfilesame "$(deb_file hello 2.0 all)" "$T/dl-sources/hello_2.0_all.deb"
apt_cache policy hello >"$T/policy" 2>&1 || true
testgrep "$SERVER_URL/? (stable|testing)/main" "$T/policy"

finish
