#!/bin/bash
# `aptship serve` seen by curl: GET and HEAD with the right Content-Length,
# Range (206, 416), Last-Modified / If-Modified-Since and ETag /
# If-None-Match (304), keep-alive, methods it refuses, no way out of the
# published tree (.., %2e%2e, encoded slashes, NUL, symlinks to /etc), a
# request head over the size limit, many clients at once, the JSON API
# (/api/v1/suites, /api/v1/packages?suite=S) checked with jq, and 404 for
# what it does not know. One access log line per request.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016,SC2317,SC2119 # single-quoted programs; functions run via helpers; optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/repo.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/repo.sh"

require_cmd curl jq dpkg-deb "$PYTHON"
require_aptship

DATA="$T/data"
CURL=(curl --noproxy '*' -sS --max-time 20)

# header NAME FILE: the value of header NAME in a curl -D dump (last response).
header() {
  tr -d '\r' <"$2" | awk -v name="$1" '
    /^HTTP\// { value = "" }
    { split($0, kv, ": "); if (tolower(kv[1]) == tolower(name)) value = substr($0, length(kv[1]) + 3) }
    END { print value }'
}

# fetch NAME CURL-ARGS... URL: runs curl, keeping the body in $T/NAME.body,
# the headers in $T/NAME.head; prints the status code.
fetch() {
  local name=$1
  shift
  "${CURL[@]}" -D "$T/$name.head" -o "$T/$name.body" -w '%{http_code}' "$@" || true
}

# testrefused DESCRIPTION CURL-ARGS... URL: the server answers 400, 403 or
# 404, and the body is none of /etc's.
testrefused() {
  local what=$1 status
  shift
  status=$(fetch refused --path-as-is "$@")
  if [[ $status =~ ^(400|403|404)$ ]] && ! grep -q 'root:' "$T/refused.body"; then
    _pass "$what: refused with $status"
  else
    _fail "$what: refused" "status $status for curl $*"
    _show body "$T/refused.body"
  fi
}

# raw_http REQUEST: sends REQUEST (printf escapes) on one connection to the
# server and prints every byte received until the server closes it.
raw_http() {
  "$PYTHON" - "$SERVER_PORT" "$1" <<'PYEOF'
import socket, sys
request = sys.argv[2].encode().decode('unicode_escape').encode('latin-1')
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20)
s.sendall(request)
out = b''
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.buffer.write(out)
PYEOF
}

msg "repository and server"
repo_init "$DATA"
make_deb hello 1.0 all
make_deb hello 2.0 all
make_deb tool 1.0 amd64
# A package of 3 MB that does not compress.
mkdir -p "$T/bigtree/DEBIAN" "$T/bigtree/usr/share/big"
printf 'Package: big\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: big\n' \
  >"$T/bigtree/DEBIAN/control"
head -c 3000000 /dev/urandom >"$T/bigtree/usr/share/big/random"
dpkg-deb --root-owner-group -Znone --build "$T/bigtree" "$DEBS/big_1.0_all.deb" >/dev/null
testsuccess aptship --data "$DATA" repo add "$(deb_file hello 1.0 all)" "$(deb_file hello 2.0 all)" \
  "$DEBS/big_1.0_all.deb"
testsuccess aptship --data "$DATA" repo add --suite testing "$(deb_file tool 1.0 amd64)"
start_server "$DATA"
DEB="$DATA/public/pool/main/h/hello/hello_2.0_all.deb"
DEB_URL="$SERVER_URL/pool/main/h/hello/hello_2.0_all.deb"
SIZE=$(stat -c %s "$DEB")
BIG_DEB="$DATA/public/pool/main/b/big/big_1.0_all.deb"
BIG_URL="$SERVER_URL/pool/main/b/big/big_1.0_all.deb"

msg "GET and HEAD"
testequal 200 fetch get "$DEB_URL"
testfilesame "$DEB" "$T/get.body"
testequal "$SIZE" header Content-Length "$T/get.head"
testtrue "Content-Type is set" test -n "$(header Content-Type "$T/get.head")"
testtrue "Last-Modified is set" test -n "$(header Last-Modified "$T/get.head")"
testtrue "ETag is set" test -n "$(header ETag "$T/get.head")"
testequal 200 fetch head -I "$DEB_URL"
testequal "$SIZE" header Content-Length "$T/head.head"
testequal "$(header ETag "$T/get.head")" header ETag "$T/head.head"
# On the wire: HEAD then GET on one connection; the HEAD answer has no
# body, so the GET's status line follows its blank line directly.
raw_http "HEAD /pool/main/h/hello/hello_2.0_all.deb HTTP/1.1\r\nHost: x\r\n\r\nGET /pool/main/h/hello/hello_2.0_all.deb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" >"$T/raw"
testequal "HTTP/1.1 200 OK
HTTP/1.1 200 OK" sh -c "grep -a '^HTTP/' \"\$1\" | tr -d '\\r'" - "$T/raw"
testequal "$SIZE" "$PYTHON" -c '
import sys
data = open(sys.argv[1], "rb").read()
head_end = data.index(b"\r\n\r\n") + 4
if not data[head_end:].startswith(b"HTTP/1.1 200"):
    sys.exit("bytes after the HEAD answer: %r" % data[head_end:head_end + 40])
second = data[head_end:]
print(len(second) - (second.index(b"\r\n\r\n") + 4))' "$T/raw"
# Through the dists symlink, as apt asks.
testequal 200 fetch inrelease "$SERVER_URL/dists/stable/InRelease"
testfilesame "$DATA/public/dists/stable/InRelease" "$T/inrelease.body"
testequal 200 fetch packages "$SERVER_URL/dists/stable/main/binary-amd64/Packages"
testfilesame "$(packages_file "$DATA" stable amd64)" "$T/packages.body"
testequal 404 fetch missing "$SERVER_URL/pool/main/h/hello/hello_9.9_all.deb"
testequal 404 fetch missing "$SERVER_URL/dists/nosuch/InRelease"

msg "Range"
testequal 206 fetch range -H 'Range: bytes=0-99' "$DEB_URL"
testequal 100 header Content-Length "$T/range.head"
testequal "bytes 0-99/$SIZE" header Content-Range "$T/range.head"
testtrue "the first 100 bytes" cmp -n 100 "$DEB" "$T/range.body"
testequal 206 fetch range -H "Range: bytes=100-" "$DEB_URL"
testequal "bytes 100-$((SIZE - 1))/$SIZE" header Content-Range "$T/range.head"
tail -c +101 "$DEB" >"$T/range.expected"
testfilesame "$T/range.expected" "$T/range.body"
testequal 206 fetch range -H 'Range: bytes=-10' "$DEB_URL"
tail -c 10 "$DEB" >"$T/range.expected"
testfilesame "$T/range.expected" "$T/range.body"
testequal 416 fetch range -H "Range: bytes=$SIZE-" "$DEB_URL"
testequal "bytes */$SIZE" header Content-Range "$T/range.head"
# curl's own resume, as apt's http method does for a partial file.
head -c 100 "$DEB" >"$T/resumed.deb"
testsuccess "${CURL[@]}" -f -C - -o "$T/resumed.deb" "$DEB_URL"
testfilesame "$DEB" "$T/resumed.deb"
# A large file, whole and from the middle.
testequal 200 fetch big "$BIG_URL"
testfilesame "$BIG_DEB" "$T/big.body"
testequal 206 fetch bigrange -H 'Range: bytes=1000000-1999999' "$BIG_URL"
dd if="$BIG_DEB" of="$T/bigrange.expected" bs=1000000 skip=1 count=1 status=none
testfilesame "$T/bigrange.expected" "$T/bigrange.body"

msg "conditional requests"
LM=$(header Last-Modified "$T/get.head")
ETAG=$(header ETag "$T/get.head")
testequal 304 fetch cond -H "If-Modified-Since: $LM" "$DEB_URL"
testtrue "304 has no body" test ! -s "$T/cond.body"
testequal 200 fetch cond -H 'If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT' "$DEB_URL"
testfilesame "$DEB" "$T/cond.body"
testequal 304 fetch cond -H "If-None-Match: $ETAG" "$DEB_URL"
testequal 304 fetch cond -H "If-None-Match: \"other\", $ETAG" "$DEB_URL"
testequal 200 fetch cond -H 'If-None-Match: "other"' "$DEB_URL"
# If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
testequal 200 fetch cond -H 'If-None-Match: "other"' -H "If-Modified-Since: $LM" "$DEB_URL"
# A different file has a different ETag.
fetch other "$SERVER_URL/pool/main/h/hello/hello_1.0_all.deb" >/dev/null
testtrue "two files, two ETags" test "$(header ETag "$T/other.head")" != "$ETAG"

msg "keep-alive"
testsuccess "${CURL[@]}" -v -o /dev/null -o /dev/null "$DEB_URL" "$SERVER_URL/dists/stable/InRelease"
testgrep 'Re-using existing connection|Reusing existing connection' "$ERR"

msg "methods"
testequal 405 fetch post -X POST -d x "$DEB_URL"
testequal 405 fetch put -X PUT -d x "$DEB_URL"
testequal 405 fetch delete -X DELETE "$DEB_URL"
testfile "$DEB"

msg "no way out of the tree"
testrefused "/../../etc/passwd" "$SERVER_URL/../../etc/passwd"
testrefused "/dists/../../../etc/passwd" "$SERVER_URL/dists/../../../etc/passwd"
testrefused "/%2e%2e/%2e%2e/etc/passwd" "$SERVER_URL/%2e%2e/%2e%2e/etc/passwd"
testrefused "/%2E%2E/etc/passwd" "$SERVER_URL/%2E%2E/etc/passwd"
testrefused "/..%2f..%2fetc%2fpasswd" "$SERVER_URL/..%2f..%2fetc%2fpasswd"
testrefused "/pool/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/passwd" \
  "$SERVER_URL/pool/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/passwd"
testrefused "/..\\..\\etc\\passwd" "$SERVER_URL/..%5c..%5cetc%5cpasswd"
testrefused "NUL in the path" "$SERVER_URL/dists/stable/InRelease%00"
testrefused "NUL before a suffix" "$SERVER_URL/pool/main/h/hello/hello_2.0_all.deb%00.txt"
testrefused "overlong UTF-8 dot" "$SERVER_URL/%c0%ae%c0%ae/etc/passwd"
testrefused "absolute-form target elsewhere" --request-target 'http://127.0.0.1/../../etc/passwd' "$SERVER_URL/"
testrefused "the data dir's key" "$SERVER_URL/../gnupg/pubring.kbx"
# Symlinks inside the tree that lead out of it.
ln -s /etc "$DATA/public/etc-link"
ln -s /etc/passwd "$DATA/public/passwd-link"
ln -s ../../../../../../../../etc/passwd "$DATA/public/pool/relative-link"
ln -s .. "$DATA/public/up-link"
testrefused "a symlink to /etc" "$SERVER_URL/etc-link/passwd"
testrefused "a symlink to /etc/passwd" "$SERVER_URL/passwd-link"
testrefused "a relative symlink out of the tree" "$SERVER_URL/pool/relative-link"
testrefused "a symlink to the parent" "$SERVER_URL/up-link/aptship.toml"
# A hidden file of the tree is not served either.
testrefused "hidden .gen" "$SERVER_URL/.gen/"
# The server is still fine.
testequal 200 fetch after "$DEB_URL"

msg "limits"
# A 64 KiB header: refused (431 or 400) without harm.
BIG=$(head -c 65536 /dev/zero | tr '\0' a)
status=$(fetch big -H "X-Big: $BIG" "$DEB_URL")
testtrue "a 64 KiB header is refused (status $status)" test "$status" = 431 -o "$status" = 400
# 40 clients at once, every answer complete.
clients=()
for i in $(seq 1 40); do
  "${CURL[@]}" -f -o "$T/many-$i.deb" "$DEB_URL" &
  clients+=($!)
done
for pid in "${clients[@]}"; do wait "$pid" || true; done
incomplete=()
for i in $(seq 1 40); do cmp -s "$DEB" "$T/many-$i.deb" || incomplete+=("$i"); done
testtrue "40 clients at once got the whole file (incomplete: ${incomplete[*]:-none})" \
  test -z "${incomplete[*]}"
testequal 200 fetch after "$DEB_URL"

msg "directories"
status=$(fetch dir "$SERVER_URL/dists/")
testtrue "a directory: listed or refused, never an error (status $status)" \
  test "$status" = 200 -o "$status" = 301 -o "$status" = 403 -o "$status" = 404
if [ "$status" = 200 ]; then
  testgrep 'stable' "$T/dir.body"
  testnogrep '\.gen' "$T/dir.body"
fi

msg "JSON API"
testequal 200 fetch suites "$SERVER_URL/api/v1/suites"
header Content-Type "$T/suites.head" >"$T/suites.type"
testgrep '^application/json' "$T/suites.type"
testsuccess jq -e . "$T/suites.body"
testequal "stable
testing" jq -r '[.. | objects | (.suite // .name // empty)] | map(select(type == "string")) | unique | .[]' "$T/suites.body"
testequal 200 fetch packages "$SERVER_URL/api/v1/packages?suite=stable"
header Content-Type "$T/packages.head" >"$T/packages.type"
testgrep '^application/json' "$T/packages.type"
testsuccess jq -e . "$T/packages.body"
testequal "big 1.0 all
hello 1.0 all
hello 2.0 all" jq -r '[.. | objects | select(has("name") and has("version")) | "\(.name) \(.version) \(.architecture)"] | sort | .[]' "$T/packages.body"
testequal 200 fetch packages2 "$SERVER_URL/api/v1/packages?suite=testing"
testequal "tool 1.0 amd64" jq -r '[.. | objects | select(has("name") and has("version")) | "\(.name) \(.version) \(.architecture)"] | sort | .[]' "$T/packages2.body"
status=$(fetch nosuite "$SERVER_URL/api/v1/packages?suite=nosuch")
testtrue "an unknown suite: 404 (status $status)" test "$status" = 404
testsuccess jq -e . "$T/nosuite.body"
status=$(fetch nosuite "$SERVER_URL/api/v1/packages")
testtrue "no suite parameter: 400 (status $status)" test "$status" = 400
testequal 404 fetch unknown "$SERVER_URL/api/v1/nosuch"
testequal 404 fetch unknown "$SERVER_URL/api/v2/suites"
testequal 404 fetch unknown "$SERVER_URL/api/"
testequal 405 fetch apipost -X POST -d '{}' "$SERVER_URL/api/v1/suites"
# The API follows the repository: a new package shows up.
testsuccess aptship --data "$DATA" repo add "$(deb_file tool 1.0 amd64)"
testequal 200 fetch packages "$SERVER_URL/api/v1/packages?suite=stable"
testequal "big 1.0 all
hello 1.0 all
hello 2.0 all
tool 1.0 amd64" jq -r '[.. | objects | select(has("name") and has("version")) | "\(.name) \(.version) \(.architecture)"] | sort | .[]' "$T/packages.body"

msg "access log"
testgrep '127\.0\.0\.1.*GET /pool/main/h/hello/hello_2\.0_all\.deb' "$SERVER_LOG"
testgrep '127\.0\.0\.1.*/api/v1/suites' "$SERVER_LOG"
# One line per request: the 64 KiB header and the NUL stay out of the log.
testnogrep "a{1000}" "$SERVER_LOG"
# X-Forwarded-For counts only from a trusted proxy.
testequal 200 fetch xff -H 'X-Forwarded-For: 203.0.113.9' "$SERVER_URL/dists/stable/Release"
testnogrep '203\.0\.113\.9' "$SERVER_LOG"
stop_server "$SERVER_PID"
sed -i 's/^listen = .*/&\ntrusted_proxies = ["127.0.0.1"]/' "$DATA/aptship.toml"
testgrep '^trusted_proxies' "$DATA/aptship.toml"
start_server "$DATA"
testequal 200 fetch xff -H 'X-Forwarded-For: 203.0.113.9' "$SERVER_URL/dists/stable/Release"
testgrep '203\.0\.113\.9 .*GET /dists/stable/Release' "$SERVER_LOG"

finish
