#include "gateway/secret_mask.hpp"

#include <doctest/doctest.h>

#include <string>

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
