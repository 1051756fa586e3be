#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "aptrepo/serve/http_fields.hpp"
#include "aptrepo/serve/responder.hpp"
#include "testutil.hpp"

namespace fs = std::filesystem;
using aptship::serve::AppRequest;
using aptship::serve::AppResponse;
using aptship::serve::FileTree;
using aptship::serve::Method;
using aptship::serve::RequestInfo;
using aptship::serve::Responder;
using aptship::serve::Response;
using aptship::serve::ServeOptions;

namespace {

// A tree with one 26-byte file, served by a Responder.
struct Fixture {
  aptship::test::ScopedTempDir tmp;
  ServeOptions options;
  std::optional<FileTree> tree;
  std::optional<Responder> responder;

  Fixture() {
    aptship::test::write("root/dists/stable/Release", "abcdefghijklmnopqrstuvwxyz");
    aptship::test::write("root/.gen/secret", "s");
    options.root = "root";
    auto opened = FileTree::open("root");
    REQUIRE(opened);
    tree.emplace(std::move(*opened));
    responder.emplace(*tree, options);
  }

  Response get(std::string_view target, Method method = Method::get) {
    RequestInfo request;
    request.method = method;
    request.target = target;
    return responder->respond(request);
  }
  Response get(RequestInfo request) { return responder->respond(request); }
};

std::string file_body(const Response& response) {
  std::string out(response.content_length, '\0');
  REQUIRE(response.file);
  REQUIRE(pread(response.file.get(), out.data(), out.size(),
                static_cast<off_t>(response.file_offset)) == static_cast<ssize_t>(out.size()));
  return out;
}

} // namespace

TEST_CASE("Responder serves a file with its validators", "[serve][responder]") {
  Fixture f;
  Response response = f.get("/dists/stable/Release");
  CHECK(response.status == 200);
  CHECK(response.content_type == "text/plain; charset=utf-8");
  CHECK(response.content_length == 26);
  CHECK(response.accept_ranges);
  CHECK(response.etag.front() == '"');
  CHECK_FALSE(response.last_modified.empty());
  CHECK(response.send_body);
  CHECK(file_body(response) == "abcdefghijklmnopqrstuvwxyz");
}

TEST_CASE("Responder answers HEAD with the GET head and no body", "[serve][responder]") {
  Fixture f;
  Response response = f.get("/dists/stable/Release", Method::head);
  CHECK(response.status == 200);
  CHECK(response.content_length == 26);
  CHECK_FALSE(response.send_body);
  CHECK_FALSE(response.file);
}

TEST_CASE("Responder refuses other methods and request bodies", "[serve][responder]") {
  Fixture f;
  Response post = f.get("/dists/stable/Release", Method::other);
  CHECK(post.status == 405);
  CHECK(post.allow);
  CHECK_FALSE(post.close);
  RequestInfo with_body;
  with_body.method = Method::other;
  with_body.target = "/";
  with_body.has_body = true;
  CHECK(f.get(with_body).close);
  with_body.method = Method::get;
  Response get_body = f.get(with_body);
  CHECK(get_body.status == 400);
  CHECK(get_body.close);
}

TEST_CASE("Responder maps bad and hidden targets to 400 and 404", "[serve][responder]") {
  Fixture f;
  CHECK(f.get("/../etc/passwd").status == 400);
  CHECK(f.get("/a%2fb").status == 400);
  CHECK(f.get("/.gen/secret").status == 404);
  CHECK(f.get("/missing").status == 404);
  CHECK(f.get("/dists/stable/Release/").status == 404);
}

TEST_CASE("Responder redirects a directory without slash and lists it with one",
          "[serve][responder]") {
  Fixture f;
  Response redirect = f.get("/dists/stable");
  CHECK(redirect.status == 301);
  CHECK(redirect.location == "/dists/stable/");
  Response listing = f.get("/dists/stable/");
  CHECK(listing.status == 200);
  CHECK(listing.content_type == "text/html; charset=utf-8");
  CHECK(listing.body.find("Release") != std::string::npos);
  Response root = f.get("/");
  CHECK(root.status == 200);
  CHECK(root.body.find(".gen") == std::string::npos);
}

TEST_CASE("Responder answers 304 for matching validators", "[serve][responder]") {
  Fixture f;
  Response full = f.get("/dists/stable/Release");
  RequestInfo request;
  request.target = "/dists/stable/Release";
  request.if_none_match = full.etag;
  Response by_tag = f.get(request);
  CHECK(by_tag.status == 304);
  CHECK_FALSE(by_tag.send_body);
  CHECK(by_tag.etag == full.etag);

  request.if_none_match = {};
  request.if_modified_since = full.last_modified;
  CHECK(f.get(request).status == 304);
  request.if_modified_since = "Thu, 01 Jan 1970 00:00:00 GMT";
  CHECK(f.get(request).status == 200);
  request.if_modified_since = "not a date";
  CHECK(f.get(request).status == 200);

  // If-None-Match decides alone when both are sent.
  request.if_modified_since = full.last_modified;
  request.if_none_match = "\"other\"";
  CHECK(f.get(request).status == 200);
}

TEST_CASE("Responder answers ranges with 206 and 416", "[serve][responder]") {
  Fixture f;
  RequestInfo request;
  request.target = "/dists/stable/Release";
  request.range = "bytes=2-4";
  Response part = f.get(request);
  CHECK(part.status == 206);
  CHECK(part.content_range == "bytes 2-4/26");
  CHECK(part.content_length == 3);
  CHECK(file_body(part) == "cde");

  request.range = "bytes=-3";
  CHECK(file_body(f.get(request)) == "xyz");

  request.range = "bytes=26-";
  Response refused = f.get(request);
  CHECK(refused.status == 416);
  CHECK(refused.content_range == "bytes */26");

  request.range = "bytes=0-1,4-5";
  CHECK(f.get(request).status == 200);
}

TEST_CASE("Responder honours If-Range", "[serve][responder]") {
  Fixture f;
  Response full = f.get("/dists/stable/Release");
  RequestInfo request;
  request.target = "/dists/stable/Release";
  request.range = "bytes=0-0";
  request.if_range = full.etag;
  CHECK(f.get(request).status == 206);
  request.if_range = full.last_modified;
  CHECK(f.get(request).status == 206);
  request.if_range = "\"stale\"";
  CHECK(f.get(request).status == 200);
  std::string weak = "W/" + full.etag;
  request.if_range = weak; // weak tags never select a range
  CHECK(f.get(request).status == 200);
  request.if_range = "Thu, 01 Jan 1970 00:00:00 GMT";
  CHECK(f.get(request).status == 200);
}

TEST_CASE("Responder hands application paths to the handler", "[serve][responder]") {
  Fixture f;
  std::vector<AppRequest> seen;
  f.options.app = [&](const AppRequest& request) -> std::optional<AppResponse> {
    seen.push_back(request);
    if (request.path == "/api/v1/suites") {
      return AppResponse{200, "application/json", "[\"stable\"]"};
    }
    if (request.path == "/api/v1/boom") {
      throw std::runtime_error("boom");
    }
    if (request.path == "/api/v1/bad") {
      return AppResponse{200, "text/plain\r\nX-Injected: 1", "x"};
    }
    return std::nullopt;
  };
  RequestInfo request;
  request.target = "/api/v1/suites?suite=a%20b&x=1+2";
  request.host = "repo.example";
  Response suites = f.get(request);
  CHECK(suites.status == 200);
  CHECK(suites.content_type == "application/json");
  CHECK(suites.body == "[\"stable\"]");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].path == "/api/v1/suites");
  CHECK(seen[0].query.at("suite") == "a b");
  CHECK(seen[0].query.at("x") == "1 2");
  CHECK(seen[0].host == "repo.example");

  CHECK(f.get("/api/v1/nothing").status == 404);
  CHECK(f.get("/api/v1/boom").status == 500);
  CHECK(f.get("/api/v1/bad").status == 500);
  CHECK(f.get("/aptship.sources").status == 404); // exact path, handler said nothing
  CHECK(f.get("/aptship.sources/x").status == 404);
  CHECK(seen.size() == 5);
  Response head = f.get("/api/v1/suites", Method::head);
  CHECK(head.content_length == suites.body.size());
  CHECK(head.body.empty());
  CHECK(f.get("/api/v1/suites", Method::other).status == 405);
}

TEST_CASE("Responder answers 404 for application paths without a handler", "[serve][responder]") {
  Fixture f;
  aptship::test::write("root/api/v1/suites", "a file that must not be served");
  CHECK(f.get("/api/v1/suites").status == 404);
}
