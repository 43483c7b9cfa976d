#include "gateway/http_parser.hpp"

#include <doctest/doctest.h>

#include <string>

#include "common/ascii.hpp"

using namespace sovgw::http;

namespace {

struct parsed {
  parse_error error;
  message_head head;
};

parsed parse(const std::string& raw, limits lim = {}) {
  head_scanner scanner(lim, true);
  parsed out{parse_error::none, {}};
  auto st = scanner.scan(raw);
  if (st == head_scanner::state::error) {
    out.error = scanner.error();
    return out;
  }
  REQUIRE(st == head_scanner::state::complete);
  out.error = parse_request_head(raw.substr(0, scanner.head_size()), lim, out.head);
  return out;
}

}  // namespace

TEST_CASE("a plain request parses with its framing") {
  auto p = parse(
      "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: gw.example:8443\r\nContent-Length: 12\r\n"
      "Connection: X-Hop\r\nX-Hop: 1\r\n\r\n");
  REQUIRE(p.error == parse_error::none);
  CHECK(p.head.method == "POST");
  CHECK(p.head.target == "/v1/chat/completions?x=1");
  CHECK(p.head.host == "gw.example:8443");
  CHECK(p.head.framing == body_framing::content_length);
  CHECK(p.head.content_length == 12);
  CHECK(p.head.keep_alive);
  CHECK(is_hop_by_hop(p.head, "x-hop"));
  CHECK(is_hop_by_hop(p.head, "Proxy-Authorization"));
  CHECK(is_hop_by_hop(p.head, "Keep-Alive"));
  CHECK_FALSE(is_hop_by_hop(p.head, "Authorization"));
}

TEST_CASE("field names are recognised once, in any letter case, prefixes included") {
  CHECK(identify_field("content-length") == field_id::content_length);
  CHECK(identify_field("CONTENT-LENGTH") == field_id::content_length);
  CHECK(identify_field("Content-Lengthx") == field_id::unlisted);
  CHECK(identify_field("Content-Lengt") == field_id::unlisted);
  CHECK(identify_field("tE") == field_id::te);
  CHECK(identify_field("X-Forwarded-For") == field_id::x_forwarded_for);
  CHECK(identify_field("Sovereign-Data-Class") == field_id::sovereign_data_class);
  CHECK(identify_field("SOVEREIGN-Client-Country") == field_id::sovereign_other);
  CHECK(identify_field("Sovereign-") == field_id::sovereign_other);
  CHECK(identify_field("Sovereign") == field_id::unlisted);
  CHECK(identify_field("Proxy-Authorization") == field_id::proxy_authorization);
  CHECK(identify_field("proxy-anything") == field_id::proxy_other);
  CHECK(identify_field("proxy-") == field_id::unlisted);
  CHECK(identify_field("") == field_id::unlisted);
  CHECK(identify_field(std::string(300, 'x')) == field_id::unlisted);
  // Only the end-to-end fields are `other` (forwarded); what no list names is `unlisted`.
  CHECK(identify_field("Accept") == field_id::other);
  CHECK(identify_field("X-Stainless-Retry-Count") == field_id::other);
  CHECK(identify_field("TRACEPARENT") == field_id::other);
  CHECK(identify_field("X-Portkey-Custom-Host") == field_id::unlisted);
  CHECK(identify_field("CF-IPCountry") == field_id::unlisted);
  const auto p = parse("GET / HTTP/1.1\r\nhOsT: a\r\nX-API-KEY: k\r\nAccept: */*\r\n\r\n");
  REQUIRE(p.error == parse_error::none);
  REQUIRE(p.head.fields.size() == 3);
  CHECK(p.head.fields[0].id == field_id::host);
  CHECK(p.head.fields[1].id == field_id::x_api_key);
  CHECK(p.head.fields[2].id == field_id::other);
  CHECK(p.head.find(field_id::x_api_key)->value == "k");
  CHECK(p.head.find(field_id::cookie) == nullptr);
  // The configuration's forward_fields make an unlisted field one clusters are sent.
  limits lim;
  lim.forward_fields = {"x-team", "x-custom-*"};
  message_head head;
  REQUIRE(
      parse_request_head("GET / HTTP/1.1\r\nHost: a\r\nX-Team: t\r\nX-CUSTOM-Trace: c\r\nX-Teams: u\r\n\r\n",
                         lim, head) == parse_error::none);
  CHECK(head.fields[1].id == field_id::other);
  CHECK(head.fields[2].id == field_id::other);
  CHECK(head.fields[3].id == field_id::unlisted);
}

TEST_CASE("the head scanner resumes across arbitrary splits") {
  const std::string raw =
      "GET /v1/models HTTP/1.1\r\nHost: a\r\nX-Long: " + std::string(300, 'v') + "\r\n\r\nNEXT";
  limits lim;
  for (std::size_t step : {1u, 2u, 5u, 64u}) {
    head_scanner scanner(lim, true);
    std::string buffer;
    head_scanner::state st = head_scanner::state::need_more;
    std::size_t fed = 0;
    while (st == head_scanner::state::need_more && fed < raw.size()) {
      buffer += raw.substr(fed, step);
      fed += step;
      st = scanner.scan(buffer);
    }
    REQUIRE(st == head_scanner::state::complete);
    CHECK(scanner.head_size() == raw.size() - 4);
  }
}

TEST_CASE("limits map to 414 and 431 before the head is complete") {
  limits lim;
  lim.max_request_line = 64;
  lim.max_head_bytes = 256;
  head_scanner s1(lim, true);
  CHECK(s1.scan("GET /" + std::string(100, 'a')) == head_scanner::state::error);
  CHECK(status_for(s1.error()) == 414);
  head_scanner s2(lim, true);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 40; ++i) {
    many += "X-H: 0123456789\r\n";
  }
  CHECK(s2.scan(many) == head_scanner::state::error);
  CHECK(status_for(s2.error()) == 431);
  lim.max_fields = 3;
  auto p = parse("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", lim);
  CHECK(p.error == parse_error::too_many_fields);
  CHECK(status_for(p.error) == 431);
}

TEST_CASE("framing attacks are refused with a precise error") {
  CHECK(
      parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n").error ==
      parse_error::content_length_and_transfer_encoding);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n").error ==
        parse_error::bad_content_length);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n").error ==
        parse_error::none);
  for (const char* cl : {"+5", "0x10", "", "-1", "1 2", "99999999999999999999", "5,", ",5"}) {
    CAPTURE(cl);
    CHECK(parse(std::string("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ") + cl + "\r\n\r\n").error ==
          parse_error::bad_content_length);
  }
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n").error ==
        parse_error::bad_transfer_encoding);
  // Probe round 50: refused for its version, not said to be a coding that does not end in chunked.
  CHECK(parse("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").error ==
        parse_error::transfer_encoding_in_http10);
  CHECK(std::string(describe(parse_error::transfer_encoding_in_http10))
            .starts_with("Transfer-Encoding in an HTTP/1.0"));
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n")
            .error == parse_error::bad_transfer_encoding);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").error ==
        parse_error::transfer_encoding_not_implemented);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n").error == parse_error::obs_fold);
  CHECK(parse("POST / HTTP/1.1\r\nHost : a\r\n\r\n").error == parse_error::space_before_colon);
  CHECK(parse(std::string("POST / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 36)).error ==
        parse_error::bad_field_value);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n").error == parse_error::bare_cr);
  CHECK(parse("GET / HTTP/1.1\r\n\r\n").error == parse_error::missing_host);
  CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n").error == parse_error::duplicate_host);
  CHECK(parse("GET / HTTP/1.1\r\nHost: a b\r\n\r\n").error == parse_error::bad_host);
  CHECK(parse("GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n").error == parse_error::none);
  CHECK(parse("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n").error == parse_error::bad_host);
  CHECK(parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n").error == parse_error::none);
  CHECK(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n").error == parse_error::version_not_supported);
  CHECK(parse("GET / HTTP/1.10\r\nHost: a\r\n\r\n").error == parse_error::bad_version);
  CHECK(parse("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n").error == parse_error::bad_target);
  CHECK(parse("GE:T / HTTP/1.1\r\nHost: a\r\n\r\n").error == parse_error::bad_method);
  CHECK(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").error == parse_error::none);
  CHECK(parse("GET * HTTP/1.1\r\nHost: a\r\n\r\n").error == parse_error::bad_target);
  CHECK(parse("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n").error == parse_error::bad_target);
  CHECK(parse("GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n").error == parse_error::bad_target);
}

TEST_CASE("HTTP/1.0 defaults to close, keep-alive token keeps it open") {
  CHECK_FALSE(parse("GET / HTTP/1.0\r\n\r\n").head.keep_alive);
  CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").head.keep_alive);
  CHECK_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n").head.keep_alive);
}

TEST_CASE("the chunk decoder decodes, drops trailers and stops at the message end") {
  chunk_decoder d(1024);
  std::string in = "5;a=b\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\nGET /next";
  std::string out;
  std::size_t consumed = 0;
  bool done = false;
  for (std::size_t pos = 0; pos < in.size() && !done;) {
    auto st = d.feed(std::string_view(in).substr(pos, 3), consumed, out);
    pos += consumed;
    if (st == chunk_decoder::state::done) {
      done = true;
      CHECK(in.substr(pos) == "GET /next");
    } else {
      REQUIRE(st == chunk_decoder::state::need_more);
    }
  }
  CHECK(done);  // the end of the message was found, so the check above ran
  CHECK(out == "hello0123456789");
}

TEST_CASE("chunk decoder errors") {
  auto run = [](const std::string& in, std::uint64_t max = 1 << 20) {
    chunk_decoder d(max, true);
    std::string out;
    std::size_t consumed = 0;
    d.feed(in, consumed, out);
    return d.error();
  };
  CHECK(run("zz\r\n") == parse_error::bad_chunk_size);
  CHECK(run("\r\n") == parse_error::bad_chunk_size);
  CHECK(run("11111111111111111\r\n") == parse_error::chunk_size_overflow);
  CHECK(run("5\r\nhelloXX") == parse_error::chunk_missing_crlf);
  CHECK(run("5\nhello") == parse_error::bad_chunk_size);
  CHECK(run("5\r\nhello\r\n0\r\nX: 1\nY") == parse_error::bad_trailer);
  CHECK(run("5\r\nhello\r\n0\r\n folded\r\n\r\n") == parse_error::bad_trailer);
  CHECK(run("400\r\n", 1000) == parse_error::body_too_large);
  CHECK(run("5;\x01\r\n") == parse_error::bad_chunk_extension);
  // Too long is said so (probe round 37: "invalid chunk extension" for a valid one of 5 KB).
  CHECK(run("5;a=" + std::string(4096, 'x') + "\r\n") == parse_error::chunk_extension_too_long);
  CHECK(run("5;a=" + std::string(4000, 'x') + "\r\nhello\r\n0\r\n\r\n") == parse_error::none);
  // Extensions as RFC 9112 writes them, nothing else after the size.
  for (const char* bad :
       {"5 junk\r\n", "5;\r\n", ";=x;;\"", "5;=x\r\n", "5;a=\r\n", "5;a=\"x\r\n", "5;a b\r\n"}) {
    CAPTURE(bad);
    const parse_error e = run(bad);
    CHECK((e == parse_error::bad_chunk_extension || e == parse_error::bad_chunk_size));
  }
  for (const char* good : {"5;a\r\nhello\r\n0\r\n\r\n", "5 ; a = b ; c=\"q\\\"x\"\r\nhello\r\n0\r\n\r\n",
                           "5 \r\nhello\r\n0\r\n\r\n"}) {
    CAPTURE(good);
    CHECK(run(good) == parse_error::none);
  }
  // A trailer line is a field: a name, a colon, a value.
  CHECK(run("5\r\nhello\r\n0\r\nno colon here\r\n\r\n") == parse_error::bad_trailer);
  // A data class declared after the body would be lost (probe round 18): refused, not dropped.
  CHECK(run("5\r\nhello\r\n0\r\nX: 1\r\nSOVEREIGN-Data-Class: personal\r\n\r\n") ==
        parse_error::sovereign_field_in_trailer);
  CHECK(run("5\r\nhello\r\n0\r\nSovereign-: x\r\n\r\n") == parse_error::sovereign_field_in_trailer);
  CHECK(run("5\r\nhello\r\n0\r\nSovereign_Data_Class: x\r\n\r\n") == parse_error::sovereign_field_in_trailer);
  CHECK(run("5\r\nhello\r\n0\r\nX-Sovereign-Data-Class: x\r\nSovereig: y\r\n\r\n") == parse_error::none);
  chunk_decoder answer(1 << 20);  // a cluster's answer's trailer is its own
  std::string out;
  std::size_t consumed = 0;
  CHECK(answer.feed("0\r\nSovereign-X: y\r\n\r\n", consumed, out) == chunk_decoder::state::done);
  CHECK(run("5\r\nhello\r\n0\r\nBad Name: x\r\n\r\n") == parse_error::bad_trailer);
  CHECK(run("5\r\nhello\r\n0\r\nX-Ok: a:b\r\n\r\n") == parse_error::none);
  // As many trailer fields as a head may have, not more (probe round 48: 5,000 were taken).
  std::string fields;
  for (int i = 0; i < 100; ++i) {
    fields += "X-T: y\r\n";
  }
  CHECK(run("5\r\nhello\r\n0\r\n" + fields + "\r\n") == parse_error::none);
  CHECK(run("5\r\nhello\r\n0\r\n" + fields + "X-T: y\r\n\r\n") == parse_error::too_many_trailer_fields);
}

TEST_CASE("response heads: framing and bodies that must be absent") {
  message_head h;
  CHECK(parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", h) == parse_error::none);
  CHECK(h.framing == body_framing::content_length);
  CHECK(parse_response_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", h) ==
        parse_error::none);
  CHECK(h.framing == body_framing::chunked);
  CHECK(parse_response_head("HTTP/1.1 200 OK\r\n\r\n", "GET", h) == parse_error::none);
  CHECK(h.framing == body_framing::until_close);
  CHECK_FALSE(h.keep_alive);
  CHECK(parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", h) == parse_error::none);
  CHECK(h.framing == body_framing::none);
  CHECK(parse_response_head("HTTP/1.1 204 No Content\r\n\r\n", "GET", h) == parse_error::none);
  CHECK(h.framing == body_framing::none);
  CHECK(parse_response_head("HTTP/1.1 200\r\n\r\n", "GET", h) == parse_error::none);
  CHECK(parse_response_head("HTTP/1.1 2OO OK\r\n\r\n", "GET", h) == parse_error::bad_status_line);
  // Outside 100..599 (RFC 9110 section 15; probe round 23: 999 was relayed and recorded as is).
  CHECK(parse_response_head("HTTP/1.1 999 Weird\r\n\r\n", "GET", h) == parse_error::bad_status_line);
  CHECK(parse_response_head("HTTP/1.1 600 X\r\n\r\n", "GET", h) == parse_error::bad_status_line);
  CHECK(parse_response_head("HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n", "GET", h) == parse_error::none);
  CHECK(parse_response_head("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "GET", h) == parse_error::obs_fold);
  // Framed two ways (probe round 40: relayed as chunked, and the connection reused).
  CHECK(parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                            "GET", h) == parse_error::content_length_and_transfer_encoding);
  CHECK(parse_response_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                            "HEAD", h) == parse_error::content_length_and_transfer_encoding);
  // An HTTP/1.0 answer with Transfer-Encoding: faulty framing (RFC 9112 6.1; probe round 46: relayed
  // as chunked, and the connection reused).
  CHECK(parse_response_head("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", h) ==
        parse_error::transfer_encoding_in_http10);
  CHECK(parse_response_head("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", h) == parse_error::none);
  // Content-Type twice, or a list: readers take different media types (probe round 46: both lines
  // relayed, and the usage read or not by spelling). A ',' in a quoted parameter is no list.
  CHECK(
      parse_response_head("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\n"
                          "Content-Length: 2\r\n\r\n",
                          "POST", h) == parse_error::ambiguous_content_type);
  CHECK(parse_response_head(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain, application/json\r\nContent-Length: 2\r\n\r\n",
            "POST", h) == parse_error::ambiguous_content_type);
  CHECK(parse_response_head(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; x=\"a,b\"\r\nContent-Length: 2\r\n\r\n", "POST",
            h) == parse_error::none);
  CHECK(parse_request_head(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\ncontent-type: application/json\r\n"
            "Content-Length: 2\r\n\r\n",
            {}, h) == parse_error::ambiguous_content_type);
}

TEST_CASE("request paths must be canonical: what the policy matches is what a cluster routes") {
  struct row {
    const char* path;
    parse_error expected;
  };
  const row rows[] = {
      {"/", parse_error::none},
      {"/v1/chat/completions", parse_error::none},
      {"/v1/models/", parse_error::none},                        // a trailing slash is allowed
      {"/v1/models/ft:gpt-4o:acme", parse_error::none},          // ':' is an ordinary path character
      {"/v1/models/caf%C3%A9", parse_error::none},               // encoded non-ASCII stays encoded
      {"/v1/x%20y", parse_error::none},                          // encoded space
      {"/v1/chat/completions?q=%61&a=..//", parse_error::none},  // the query is not a path
      {"/%61dmin/x", parse_error::non_canonical_target},         // %61 = 'a'
      {"/ADMIN%2fx", parse_error::non_canonical_target},         // encoded slash
      {"/admin%2Fx", parse_error::non_canonical_target},
      {"/admin%5Cx", parse_error::non_canonical_target},  // encoded backslash
      {"/admin%2ex", parse_error::non_canonical_target},  // encoded dot
      {"/%2e%2e/admin", parse_error::non_canonical_target},
      {"/a%252e%252e/admin", parse_error::non_canonical_target},  // double encoding
      {"/a%00b", parse_error::non_canonical_target},
      {"/a%7Eb", parse_error::non_canonical_target},  // '~' is unreserved
      // What a path holds as it is: servers decode it before they route (probe round 45).
      {"/v1beta/models/x%3AstreamGenerateContent", parse_error::non_canonical_target},
      {"/v1beta/models/x%3astreamGenerateContent", parse_error::non_canonical_target},
      {"/v1/a%40b", parse_error::non_canonical_target},
      {"/v1/a%2Ab", parse_error::non_canonical_target},  // '*'
      {"/v1/a%2Bb", parse_error::non_canonical_target},
      {"/v1/a%3Db%26c", parse_error::non_canonical_target},
      {"//admin/x", parse_error::non_canonical_target},
      {"/v1//admin", parse_error::non_canonical_target},
      {"/./admin/x", parse_error::non_canonical_target},
      {"/v1/../admin/x", parse_error::non_canonical_target},
      {"/v1/..", parse_error::non_canonical_target},
      {"/v1/.", parse_error::non_canonical_target},
      {"/admin;x/y", parse_error::non_canonical_target},
      {"/admin\\x", parse_error::non_canonical_target},
      {"/adm%C4%B1n/x", parse_error::non_canonical_target},     // dotless i: "I" to a case-insensitive router
      {"/%C4%B0nfo", parse_error::non_canonical_target},        // dotted I
      {"/v1/%C5%BFcore", parse_error::non_canonical_target},    // long s
      {"/v1/%E2%84%AAeys", parse_error::non_canonical_target},  // Kelvin sign
      {"/a%4", parse_error::bad_target},
      {"/a%zz", parse_error::bad_target},
      {"/a%", parse_error::bad_target},
  };
  for (const row& r : rows) {
    CAPTURE(r.path);
    CHECK(parse(std::string("GET ") + r.path + " HTTP/1.1\r\nHost: a\r\n\r\n").error == r.expected);
  }
  // Absolute-form targets are checked on their path part.
  CHECK(parse("GET https://a/x/../admin HTTP/1.1\r\nHost: a\r\n\r\n").error ==
        parse_error::non_canonical_target);
  CHECK(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").error == parse_error::none);
  CHECK(status_for(parse_error::non_canonical_target) == 400);
}

namespace {

// identify_field as it was written first (a byte at a time, sovgw::ascii_iequals): the
// word-at-a-time lookup must agree.
field_id identify_field_reference(std::string_view name) {
  for (const known_field& k : known_field_names()) {
    if (sovgw::ascii_iequals(name, k.name)) {
      return k.id;
    }
  }
  if (name.size() >= 10 && sovgw::ascii_iequals(name.substr(0, 10), "sovereign-")) {
    return field_id::sovereign_other;
  }
  if (name.size() > 6 && sovgw::ascii_iequals(name.substr(0, 6), "proxy-")) {
    return field_id::proxy_other;
  }
  for (std::string_view prefix : client_claim_prefixes()) {
    if (name.size() >= prefix.size() && sovgw::ascii_iequals(name.substr(0, prefix.size()), prefix)) {
      return field_id::client_claim;
    }
  }
  for (std::string_view word : client_claim_words()) {
    for (std::size_t at = 0; at + word.size() <= name.size(); ++at) {
      if (sovgw::ascii_iequals(name.substr(at, word.size()), word)) {
        return field_id::client_claim;
      }
    }
  }
  for (std::string_view whole : client_claim_names()) {
    if (sovgw::ascii_iequals(name, whole)) {
      return field_id::client_claim;
    }
  }
  if (names_upstream_account(name)) {
    return field_id::client_claim;
  }
  for (std::string_view e : end_to_end_names()) {
    const bool prefix = e.ends_with('*');
    const std::string_view stem = prefix ? e.substr(0, e.size() - 1) : e;
    if ((prefix ? name.size() >= stem.size() : name.size() == stem.size()) &&
        sovgw::ascii_iequals(name.substr(0, stem.size()), stem)) {
      return field_id::other;
    }
  }
  return field_id::unlisted;
}

}  // namespace

TEST_CASE("field names: the upstream account's fields, rate limits in any spelling, and not Retry-After") {
  struct row {
    std::string_view name;
    bool account;
  };
  static constexpr row rows[] = {
      {"x-ratelimit-remaining-tokens", true},
      {"X-RateLimit-Limit-Requests", true},
      {"RateLimit", true},
      {"ratelimit-policy", true},
      {"RateLimit-Remaining", true},
      {"anthropic-ratelimit-tokens-remaining", true},
      {"x-ms-ratelimit-remaining", true},
      {"X-Rate-Limit-Reset", true},
      {"OpenAI-Organization", true},
      {"openai-project", true},
      {"anthropic-organization-id", true},
      // Read as servers that fold `_`, `.` or `~` into `-` read them, at any length (probe round 43).
      {"openai_organization", true},
      {"OpenAI.Organization", true},
      {"openai~project", true},
      {"anthropic_organization_id", true},
      {"x-rate_limit-remaining", true},
      {"x-rate.limit-remaining", true},
      {"X-Rate~Limit", true},
      {"x-ratelimit-"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       true},
      {"x-"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-rrratelimit",
       true},
      {"openai-organization-extra", false},
      {"retry-after", false},
      {"retry-after-ms", false},
      {"x-should-retry", false},
      {"openai-processing-ms", false},
      {"openai-version", false},
      {"x-request-id", false},
      {"content-type", false},
  };
  for (const row& r : rows) {
    CAPTURE(r.name);
    CHECK(names_upstream_account(r.name) == r.account);
    if (r.account) {
      CHECK(identify_field(r.name) == field_id::client_claim);  // never forwarded in a request either
    }
  }
}

TEST_CASE("field names: the word-at-a-time lookup agrees with a byte-at-a-time one, byte for byte") {
  const std::string_view seeds[] = {"te",
                                    "Host",
                                    "content-length",
                                    "X-Forwarded-Proto",
                                    "X-Forwarded-Prefix",
                                    "X-HTTP-Method-Override",
                                    "CF-Connecting-IP",
                                    "Ocp-Apim-Subscription-Key",
                                    "Sovereign-Data-Class",
                                    "sovereign-x",
                                    "Proxy-Authorization",
                                    "proxy-a",
                                    "Content-Type",
                                    "x-request-id",
                                    "Transfer-Encoding",
                                    "accept",
                                    "X-Stainless-Lang",
                                    "traceparent",
                                    "a-very-long-field-name-indeed"};
  std::size_t checked = 0;
  for (const std::string_view seed : seeds) {
    std::string name(seed);
    CHECK(identify_field(name) == identify_field_reference(name));
    // Every byte value at every position, and every length from 1 to the seed's plus one.
    for (std::size_t at = 0; at < name.size(); ++at) {
      const char kept = name[at];
      for (int b = 0; b < 256; ++b) {
        name[at] = static_cast<char>(b);
        CHECK(identify_field(name) == identify_field_reference(name));
        ++checked;
      }
      name[at] = kept;
    }
    for (std::size_t n = 1; n <= name.size(); ++n) {
      CHECK(identify_field(std::string_view(name).substr(0, n)) ==
            identify_field_reference(std::string_view(name).substr(0, n)));
    }
    const std::string longer = name + "s";
    CHECK(identify_field(longer) == identify_field_reference(longer));
  }
  CHECK(checked > 10000);
}

TEST_CASE("field values: every byte value at every position of a long value is judged the same") {
  // A field-value character is HTAB, SP, VCHAR or obs-text (RFC 9110 5.5): 0x09, 0x20-0x7e, 0x80-0xff.
  // Values are scanned sixteen bytes at a time where the CPU allows; this covers both sides of
  // every block boundary and the scalar tail.
  std::size_t checked = 0;
  for (std::size_t at = 1; at < 40; ++at) {
    for (int b = 0; b < 256; ++b) {
      std::string value(41, 'v');
      value[at] = static_cast<char>(b);
      const std::string raw = "GET / HTTP/1.1\r\nHost: a\r\nX-Probe: " + value + "\r\nAccept: */*\r\n\r\n";
      message_head head;
      const parse_error e = parse_request_head(raw, limits{}, head);
      const bool allowed = b == '\t' || (b >= 0x20 && b != 0x7f);
      CAPTURE(at);
      CAPTURE(b);
      CHECK((e == parse_error::none) == allowed);
      if (allowed && e == parse_error::none) {
        const field* f = head.find("x-probe");
        REQUIRE(f != nullptr);
        CHECK(f->value == value);
        CHECK(head.find("accept") != nullptr);
      }
      ++checked;
    }
  }
  CHECK(checked == 39 * 256);
}
