#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "aptrepo/serve/http_fields.hpp"

using aptship::serve::parse_range;
using aptship::serve::ProxyLine;
using aptship::serve::RangeRequest;
using Kind = RangeRequest::Kind;

TEST_CASE("parse_range accepts the three single-range forms", "[serve][http_fields]") {
  auto closed = parse_range("bytes=0-9", 100);
  CHECK(closed.kind == Kind::single);
  CHECK(closed.first == 0);
  CHECK(closed.last == 9);
  auto open = parse_range("bytes=90-", 100);
  CHECK(open.kind == Kind::single);
  CHECK(open.first == 90);
  CHECK(open.last == 99);
  auto suffix = parse_range("bytes=-5", 100);
  CHECK(suffix.kind == Kind::single);
  CHECK(suffix.first == 95);
  CHECK(suffix.last == 99);
  auto spaced = parse_range(" Bytes = 1-2 ", 100);
  CHECK(spaced.kind == Kind::single);
}

TEST_CASE("parse_range clamps ends past the body", "[serve][http_fields]") {
  auto clamped = parse_range("bytes=50-1000", 100);
  CHECK(clamped.kind == Kind::single);
  CHECK(clamped.last == 99);
  auto whole = parse_range("bytes=-1000", 100);
  CHECK(whole.first == 0);
  CHECK(whole.last == 99);
  auto huge = parse_range("bytes=0-99999999999999999999999", 100);
  CHECK(huge.kind == Kind::single);
  CHECK(huge.last == 99);
}

TEST_CASE("parse_range reports ranges that select nothing", "[serve][http_fields]") {
  CHECK(parse_range("bytes=100-", 100).kind == Kind::unsatisfiable);
  CHECK(parse_range("bytes=100-200", 100).kind == Kind::unsatisfiable);
  CHECK(parse_range("bytes=-0", 100).kind == Kind::unsatisfiable);
  CHECK(parse_range("bytes=0-", 0).kind == Kind::unsatisfiable);
  CHECK(parse_range("bytes=-5", 0).kind == Kind::unsatisfiable);
  CHECK(parse_range("bytes=99999999999999999999999-", 100).kind == Kind::unsatisfiable);
}

TEST_CASE("parse_range ignores malformed values and several ranges", "[serve][http_fields]") {
  for (std::string_view value :
       {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "items=0-1", "bytes=0-1,3-4",
        "bytes=1", "bytes=--1", "bytes=0x1-2", "bytes=+1-2"}) {
    INFO(value);
    CHECK(parse_range(value, 100).kind == Kind::none);
  }
  CHECK(parse_range("bytes=0-1,", 100).kind == Kind::single); // empty list elements
}

TEST_CASE("HTTP dates are written as IMF-fixdate and read in all three forms",
          "[serve][http_fields]") {
  CHECK(aptship::serve::format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(aptship::serve::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK(aptship::serve::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
  CHECK(aptship::serve::parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
  CHECK(aptship::serve::parse_http_date(" Thu, 01 Jan 1970 00:00:00 GMT ") == 0);
  for (std::string_view bad : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37",
                               "Sun, 6 Nov 1994 "
                               "08:49:37 GMT",
                               "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT",
                               "Sun, 06 Nov 1994 25:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMTX"}) {
    INFO(bad);
    CHECK_FALSE(aptship::serve::parse_http_date(bad));
  }
}

TEST_CASE("make_etag changes with inode, time and size", "[serve][http_fields]") {
  struct stat st {};
  st.st_ino = 0x10;
  st.st_mtim.tv_sec = 1;
  st.st_mtim.tv_nsec = 5;
  st.st_size = 0x20;
  std::string tag = aptship::serve::make_etag(st);
  CHECK(tag == "\"10-3b9aca05-20\"");
  st.st_ino = 0x11;
  CHECK(aptship::serve::make_etag(st) != tag);
}

TEST_CASE("etag_list_matches uses the weak comparison", "[serve][http_fields]") {
  using aptship::serve::etag_list_matches;
  CHECK(etag_list_matches("\"a-1\"", "\"a-1\""));
  CHECK(etag_list_matches("W/\"a-1\"", "\"a-1\""));
  CHECK(etag_list_matches("\"x\", \"a-1\"", "\"a-1\""));
  CHECK(etag_list_matches(" * ", "\"a-1\""));
  CHECK(etag_list_matches("\"a,b\",\"c\"", "\"c\""));
  CHECK_FALSE(etag_list_matches("\"a-2\"", "\"a-1\""));
  CHECK_FALSE(etag_list_matches("a-1", "\"a-1\""));
  CHECK_FALSE(etag_list_matches("\"a-1", "\"a-1\""));
  CHECK_FALSE(etag_list_matches("", "\"a-1\""));
}

TEST_CASE("content_type_for knows the repository's file kinds", "[serve][http_fields]") {
  using aptship::serve::content_type_for;
  CHECK(content_type_for("hello_1.0_amd64.deb") == "application/vnd.debian.binary-package");
  CHECK(content_type_for("Packages.gz") == "application/gzip");
  CHECK(content_type_for("Packages.xz") == "application/x-xz");
  CHECK(content_type_for("Packages.zst") == "application/zstd");
  CHECK(content_type_for("Release.gpg") == "application/pgp-signature");
  CHECK(content_type_for("InRelease") == "text/plain; charset=utf-8");
  CHECK(content_type_for("Release") == "text/plain; charset=utf-8");
  CHECK(content_type_for("Packages") == "text/plain; charset=utf-8");
  CHECK(content_type_for("suites.json") == "application/json");
  CHECK(content_type_for("aptship.sources") == "text/plain; charset=utf-8");
  CHECK(content_type_for("index.HTML") == "text/html; charset=utf-8");
  CHECK(content_type_for("0123abcd") == "application/octet-stream");
  CHECK(content_type_for("file.unknown") == "application/octet-stream");
}

TEST_CASE("last_forwarded_for takes the last valid address", "[serve][http_fields]") {
  using aptship::serve::last_forwarded_for;
  CHECK(last_forwarded_for("203.0.113.9") == "203.0.113.9");
  CHECK(last_forwarded_for("10.0.0.1, 198.51.100.4 ") == "198.51.100.4");
  CHECK(last_forwarded_for("10.0.0.1,2001:db8::1") == "2001:db8::1");
  CHECK(last_forwarded_for("[2001:db8::2]") == "2001:db8::2");
  CHECK_FALSE(last_forwarded_for("10.0.0.1, evil\nline"));
  CHECK_FALSE(last_forwarded_for("unknown"));
  CHECK_FALSE(last_forwarded_for(""));
}

TEST_CASE("parse_proxy_line reads PROXY protocol v1", "[serve][http_fields]") {
  using aptship::serve::parse_proxy_line;
  auto v4 = parse_proxy_line("PROXY TCP4 192.0.2.1 192.0.2.2 51000 80\r\nGET / HTTP/1.1\r\n");
  CHECK(v4.kind == ProxyLine::Kind::complete);
  CHECK(v4.source == "192.0.2.1");
  CHECK(v4.length == 41);
  auto v6 = parse_proxy_line("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n");
  CHECK(v6.kind == ProxyLine::Kind::complete);
  CHECK(v6.source == "2001:db8::1");
  auto unknown = parse_proxy_line("PROXY UNKNOWN whatever\r\n");
  CHECK(unknown.kind == ProxyLine::Kind::complete);
  CHECK(unknown.source.empty());
  CHECK(parse_proxy_line("GET / HTTP/1.1\r\n").kind == ProxyLine::Kind::absent);
  CHECK(parse_proxy_line("PRO").kind == ProxyLine::Kind::partial);
  CHECK(parse_proxy_line("PROXY TCP4 192.0.2.1").kind == ProxyLine::Kind::partial);
  for (std::string_view bad :
       {"PROXY TCP4 192.0.2.1 192.0.2.2 51000\r\n", "PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n",
        "PROXY TCP4 192.0.2.1 192.0.2.2 70000 80\r\n", "PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n",
        "PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n"}) {
    INFO(bad);
    CHECK(parse_proxy_line(bad).kind == ProxyLine::Kind::invalid);
  }
  CHECK(parse_proxy_line("PROXY " + std::string(200, 'x')).kind == ProxyLine::Kind::invalid);
}

TEST_CASE("is_ip_address accepts IPv4 and IPv6 literals only", "[serve][http_fields]") {
  CHECK(aptship::serve::is_ip_address("127.0.0.1"));
  CHECK(aptship::serve::is_ip_address("::1"));
  CHECK_FALSE(aptship::serve::is_ip_address("localhost"));
  CHECK_FALSE(aptship::serve::is_ip_address("1.2.3.4.5"));
}
