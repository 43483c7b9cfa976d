#include "gateway/secret_mask.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "crypto/base64.hpp"

using namespace sovgw::gateway;

namespace {

const std::string secret = "clustersecret-TOPSECRET-0123456789abcdef/x";

std::string base64(std::string_view text) {
  return sovgw::crypto::to_base64(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

// What the client gets of `body` relayed in pieces of `step` bytes.
std::string relayed(const secret_forms& forms, const std::string& body, std::size_t step) {
  secret_mask mask(&forms);
  std::string out;
  for (std::size_t i = 0; i < body.size(); i += step) {
    mask.feed(std::string_view(body).substr(i, step), out);
  }
  mask.finish(out);
  return out;
}

}  // namespace

TEST_CASE(
    "the cluster's credential is masked in an answer's body, byte for byte, wherever the reads split it") {
  // Probe round 46: a cluster echoing its credential in a body (a 401's message, a debug echo, a
  // streamed delta) handed it to every tenant and into the audit log's sealed completion.
  const secret_forms forms(secret);
  std::string upper = secret;
  for (char& c : upper) {
    c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  std::string json_escaped = secret;
  json_escaped.replace(json_escaped.find('/'), 1, "\\/");
  for (const std::string& echoed : {secret, upper, json_escaped, base64(secret), base64("x" + secret),
                                    base64("xy" + secret), base64("Authorization: Bearer " + secret)}) {
    const std::string body = R"({"error":{"message":"bad credential Bearer )" + echoed + R"("}})" + "\n";
    for (std::size_t step : {1u, 3u, 7u, 64u, 4096u}) {
      CAPTURE(echoed);
      CAPTURE(step);
      const std::string out = relayed(forms, body, step);
      CHECK(out.size() == body.size());  // a Content-Length answer keeps its framing
      CHECK(out.find(secret) == std::string::npos);
      CHECK(out.starts_with(R"({"error":{"message":"bad credential Bearer )"));
      CHECK(out.ends_with("\"}}\n"));
      CHECK_FALSE(forms.found_in(out));
    }
    CHECK(forms.found_in("X-Debug: " + echoed));
  }
  // The base64 URL alphabet too.
  std::string url = base64("x" + secret);
  for (char& c : url) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  CHECK(forms.found_in(url));
}

namespace {

// `text` with each character of `which` written as `spell` writes it.
std::string escaped(std::string text, std::string_view which, std::string (*spell)(char)) {
  std::string out;
  for (const char c : text) {
    out += which.find(c) != std::string_view::npos ? spell(c) : std::string(1, c);
  }
  return out;
}

std::string json_u(char c) { return fmt::format("\\u{:04x}", static_cast<int>(c)); }
std::string json_u_upper(char c) { return fmt::format("\\u{:04X}", static_cast<int>(c)); }
std::string percent(char c) { return fmt::format("%{:02X}", static_cast<int>(c)); }
std::string percent_lower(char c) { return fmt::format("%{:02x}", static_cast<int>(c)); }
std::string html_decimal(char c) { return fmt::format("&#{};", static_cast<int>(c)); }
std::string html_hex(char c) { return fmt::format("&#x{:x};", static_cast<int>(c)); }
std::string html_named(char c) {
  return c == '+' ? "&plus;" : c == '/' ? "&sol;" : c == '=' ? "&equals;" : std::string(1, c);
}

}  // namespace

TEST_CASE(
    "the credential escaped as the answer's encoder writes it is masked too, wherever the reads split it") {
  // Probe round 48: a base64-made token echoed by Gson ('=' as \u003d), System.Text.Json ('+' as
  // \u002B), percent-encoded (a URL, a query) or by Go's html/template ('+' as &#43;) reached the
  // client whole: only PHP's "\/" was masked.
  const std::string token = "k9/Qx+Lm2Zp7/Rt+Wv4Yc8Nd3Jf6Hs1Bg0Ae5Ku=";
  const secret_forms forms("Bearer " + token);
  const std::vector<std::string> echoes = {escaped(token, "=", json_u),
                                           escaped(token, "+", json_u_upper),
                                           escaped(token, "/", [](char) { return std::string("\\/"); }),
                                           escaped(token, "+/=", percent),
                                           escaped(token, "+/=", percent_lower),
                                           escaped(token, "+", html_decimal),
                                           escaped(token, "+/=", html_hex),
                                           escaped(token, "+/=", html_named),
                                           escaped(token, "abcxyz", json_u),                    // letters too
                                           escaped(escaped(token, "+", json_u), "=", percent),  // mixed
                                           "Bearer%20" + escaped(token, "+/=", percent)};
  for (const std::string& echoed : echoes) {
    const std::string body = R"({"error":{"message":"invalid credential: )" + echoed + R"("}})" + "\n";
    CAPTURE(echoed);
    CHECK(forms.found_in("X-Debug-Auth: " + echoed));
    for (std::size_t step : {1u, 2u, 5u, 64u, 4096u}) {
      CAPTURE(step);
      const std::string out = relayed(forms, body, step);
      CHECK(out.size() == body.size());
      CHECK_FALSE(forms.found_in(out));
      CHECK(out.starts_with(R"({"error":{"message":"invalid credential: )"));
      CHECK(out.ends_with("\"}}\n"));
    }
  }
  // Escapes of other characters, and text that only looks like the start of one, pass unchanged.
  for (const std::string& text : {std::string("k9%2FQx%2BLm2Zp7 50% &amp; \\u0041 &#43; \\n"),
                                  std::string("%"), std::string("&#"), std::string("\\u00")}) {
    CAPTURE(text);
    CHECK(relayed(forms, text, 1) == text);
    CHECK(relayed(forms, text, 4096) == text);
  }
}

TEST_CASE("text without the credential passes unchanged, and an event's last bytes are not held back") {
  const secret_forms forms(secret);
  const std::string event = "data: {\"choices\":[{\"delta\":{\"content\":\"clusters are nice\"}}]}\n\n";
  secret_mask mask(&forms);
  std::string out;
  mask.feed(event, out);
  CHECK(out == event);  // whole at once: a stream's next event may be seconds away
  // A tail that may begin the secret waits for the next bytes, and goes out as it was when they
  // show it was not.
  out.clear();
  mask.feed("see clustersec", out);
  CHECK(out == "see ");
  mask.feed("tion 2\n", out);
  CHECK(out == "see clustersection 2\n");
  mask.feed("ends with clusterse", out);
  mask.finish(out);
  CHECK(out == "see clustersection 2\nends with clusterse");
  // A secret too short to tell from text masks nothing.
  CHECK(secret_forms("short").empty());
  CHECK_FALSE(secret_mask(nullptr).active());
}

TEST_CASE(
    "a header credential's token, and what a Basic credential spells, are masked as the whole value is") {
  // Probe round 47: `auth: {header: Authorization, file}` holding `Basic <base64>` masked only the
  // whole value; an echo quotes the token alone, or the decoded user:password.
  const std::string basic = "Basic " + base64("alice:hunter2-s3cr3t");
  const secret_forms forms(basic);
  for (const std::string& echoed :
       {basic, base64("alice:hunter2-s3cr3t"), std::string("alice:hunter2-s3cr3t"),
        std::string("hunter2-s3cr3t"), base64("x" + basic)}) {
    CAPTURE(echoed);
    CHECK(forms.found_in("{\"error\":\"invalid credentials " + echoed + "\"}"));
    const std::string body = "bad password for " + echoed + "\n";
    const std::string out = relayed(forms, body, 5);
    CHECK(out.size() == body.size());
    CHECK_FALSE(forms.found_in(out));
  }
  CHECK_FALSE(forms.found_in("Basic realm=\"cluster\""));  // the scheme alone is no secret
  const secret_forms bearer("Bearer tok-0123456789abcdef");
  CHECK(bearer.found_in("invalid token tok-0123456789ABCDEF"));
}
