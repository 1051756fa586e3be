#include <catch2/catch.hpp>

#include "aptrepo/serve/response.hpp"

using aptship::serve::append_head;
using aptship::serve::KeepAlive;
using aptship::serve::Response;

TEST_CASE("append_head writes the status line and the set fields", "[serve][response]") {
  Response response;
  response.status = 206;
  response.content_type = "application/gzip";
  response.content_length = 10;
  response.etag = "\"1-2-3\"";
  response.last_modified = "Sun, 06 Nov 1994 08:49:37 GMT";
  response.accept_ranges = true;
  response.content_range = "bytes 0-9/100";
  std::string head;
  append_head(response, KeepAlive::yes, 11, head);
  CHECK(head.rfind("HTTP/1.1 206 Partial Content\r\nServer: aptship\r\nDate: ", 0) == 0);
  CHECK(head.find("\r\nContent-Type: application/gzip\r\n") != std::string::npos);
  CHECK(head.find("\r\nContent-Length: 10\r\n") != std::string::npos);
  CHECK(head.find("\r\nETag: \"1-2-3\"\r\n") != std::string::npos);
  CHECK(head.find("\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n") != std::string::npos);
  CHECK(head.find("\r\nAccept-Ranges: bytes\r\n") != std::string::npos);
  CHECK(head.find("\r\nContent-Range: bytes 0-9/100\r\n") != std::string::npos);
  CHECK(head.find("Connection") == std::string::npos);
  CHECK(head.find("Location") == std::string::npos);
  CHECK(head.size() >= 4);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
}

TEST_CASE("append_head says how the connection continues", "[serve][response]") {
  Response response = aptship::serve::error_response(404);
  std::string closing;
  append_head(response, KeepAlive::no, 11, closing);
  CHECK(closing.find("\r\nConnection: close\r\n") != std::string::npos);
  std::string old_keep;
  append_head(response, KeepAlive::yes, 10, old_keep);
  CHECK(old_keep.find("\r\nConnection: keep-alive\r\n") != std::string::npos);
}

TEST_CASE("append_head leaves Content-Length out of 304", "[serve][response]") {
  Response response;
  response.status = 304;
  std::string head;
  append_head(response, KeepAlive::yes, 11, head);
  CHECK(head.rfind("HTTP/1.1 304 Not Modified\r\n", 0) == 0);
  CHECK(head.find("Content-Length") == std::string::npos);
}

TEST_CASE("error_response has a short text body", "[serve][response]") {
  Response response = aptship::serve::error_response(405);
  CHECK(response.status == 405);
  CHECK(response.body == "405 Method Not Allowed\n");
  CHECK(response.content_length == response.body.size());
  CHECK(aptship::serve::reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(aptship::serve::reason_phrase(299) == "Unknown");
}
