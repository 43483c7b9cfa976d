#include "classify/media_type.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace sovgw::classify;

TEST_CASE("Content-Type: JSON in UTF-8 only, compared case-insensitively") {
  struct row {
    std::string_view value;
    std::optional<json_media> expected;  // nullopt: not a media type at all
  };
  const row rows[] = {
      {"application/json", json_media::json},
      {"Application/JSON", json_media::json},
      {"application/json; charset=utf-8", json_media::json},
      {"application/json;charset=UTF-8", json_media::json},
      {"application/json ; charset=\"utf-8\"", json_media::json},
      {" application/json;;", json_media::json},
      {"application/json; boundary=x; CHARSET=Utf-8", json_media::json},
      {"application/json; charset=latin1", json_media::not_utf8},
      {"application/json; charset=utf-16", json_media::not_utf8},
      {"application/json; charset=utf8", json_media::not_utf8},
      {"application/jsonx", json_media::not_json},
      {"application/x-json", json_media::not_json},
      {"application/json-patch+json", json_media::not_json},
      {"text/plain", json_media::not_json},
      {"text/json", json_media::not_json},
      {"multipart/form-data; boundary=abc", json_media::not_json},
      {"application/x-www-form-urlencoded", json_media::not_json},
      {"", std::nullopt},
      {"application", std::nullopt},
      {"application/", std::nullopt},
      {"/json", std::nullopt},
      {"application/json charset=utf-8", std::nullopt},
      {"application/json; charset", std::nullopt},
      {"application/json; charset=", std::nullopt},
      {"application/json; charset=\"utf-8", std::nullopt},
      {"application/json, text/plain", std::nullopt},
      {"application/json; charset=utf-8; charset=latin1", std::nullopt},  // which one?
      {"application/json; charset=utf-8; charset=utf-8", std::nullopt},
      {"application /json", std::nullopt},
  };
  for (const row& r : rows) {
    CAPTURE(r.value);
    const std::optional<media_type> m = parse_media_type(r.value);
    REQUIRE(m.has_value() == r.expected.has_value());
    if (m) {
      CHECK(json_media_of(*m) == *r.expected);
    }
  }
}

TEST_CASE("Content-Encoding: identity only") {
  for (std::string_view ok : {"", "identity", "Identity", " identity , IDENTITY", ","}) {
    CAPTURE(ok);
    CHECK(identity_encoding(ok));
  }
  for (std::string_view no :
       {"gzip", "br", "deflate", "identity, gzip", "gzip, identity", "x-gzip", "identityx"}) {
    CAPTURE(no);
    CHECK_FALSE(identity_encoding(no));
  }
}
