// RFC 9421 HTTP Message Signatures against the RFC's own examples and test vectors.
//
// Source of every vector here: the RFC 9421 text as published, from the RFC source in
// github.com/httpwg/http-extensions, archive/draft-ietf-httpbis-message-signatures.md at commit
// e9067eba ("Digest and Signatures published as RFCs"), found with the search tool and cross-checked
// with https://rfcinfo.com/rfc-9421/appendix-b-2-6-signing-a-request-using-ed25519 and
// .../appendix-b-2-4-signing-a-response-using-ecdsa-p256-sha256. RFC 8792 line wrapping undone.
//   Keys: appendix B.1.2 (test-key-rsa-pss, public), B.1.3 (test-key-ecc-p256, public),
//         B.1.4 (test-key-ed25519), B.1.5 (test-shared-secret).
//   Messages: appendix B.2 (test-request, test-response), section 2.4 (the 503 response), B.3, B.4.
// Ed25519 and HMAC are deterministic, so B.2.5, B.2.6 and B.4 are reproduced byte for byte. RSA-PSS
// and ECDSA are not: for B.2.1-B.2.4, section 2.4 and B.3 our signature base is checked against the
// published text and the published signature is verified over our base with OpenSSL.

#include "crypto/http_signature.hpp"

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include <cctype>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crypto/base64.hpp"

namespace c = sovgw::crypto;
namespace hs = sovgw::crypto::httpsig;

namespace {

// Appendix B.1.4 (JWK "d" and "x", base64url).
constexpr const char* ed25519_seed_b64url = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU";
constexpr const char* ed25519_x_b64url = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";
// Appendix B.1.5.
constexpr const char* shared_secret_b64 =
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";
// Appendix B.1.2 (public part).
constexpr const char* rsa_pss_public_pem = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
)";
// Appendix B.1.3 (public part).
constexpr const char* ecc_p256_public_pem = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lf
w0EkjqF7xB4FivAxzic30tMM4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==
-----END PUBLIC KEY-----
)";

constexpr const char* request_digest =
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";

std::vector<std::uint8_t> b64url(const char* text) {
  std::vector<std::uint8_t> out(64);
  std::size_t len = 0;
  REQUIRE(sodium_base642bin(out.data(), out.size(), text, std::strlen(text), nullptr, &len, nullptr,
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
  out.resize(len);
  return out;
}

std::vector<std::uint8_t> b64(std::string_view text) {
  auto v = c::from_base64(text);
  REQUIRE(v.has_value());
  return *v;
}

c::secret_bytes rfc_ed25519_secret() {
  const auto seed = b64url(ed25519_seed_b64url);
  REQUIRE(seed.size() == crypto_sign_SEEDBYTES);
  c::ensure_sodium();
  c::secret_bytes sk(crypto_sign_SECRETKEYBYTES);
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
  CHECK(std::vector<std::uint8_t>(pk.begin(), pk.end()) == b64url(ed25519_x_b64url));
  return sk;
}

c::ed25519_public_key rfc_ed25519_public() {
  const auto x = b64url(ed25519_x_b64url);
  c::ed25519_public_key pk{};
  std::copy(x.begin(), x.end(), pk.begin());
  return pk;
}

// A message owning its strings: "METHOD target" or "status", then "Name: value" lines.
struct test_message {
  std::vector<std::pair<std::string, std::string>> field_text;
  std::vector<hs::field_line> lines;
  std::string target;
  std::string method;
  std::string authority;
  hs::message_view view;

  test_message(std::string first_line, std::vector<std::pair<std::string, std::string>> fields)
      : field_text(std::move(fields)) {
    if (first_line.size() == 3 && std::isdigit(static_cast<unsigned char>(first_line[0]))) {
      view.status = std::stoi(first_line);
    } else {
      method = first_line.substr(0, first_line.find(' '));
      target = first_line.substr(first_line.find(' ') + 1);
    }
    rebuild();
  }
  // The view points into this object's strings, so a copy must point into its own.
  test_message(const test_message& o)
      : field_text(o.field_text), target(o.target), method(o.method), authority(o.authority), view(o.view) {
    rebuild();
  }
  test_message& operator=(const test_message& o) {
    field_text = o.field_text;
    target = o.target;
    method = o.method;
    view = o.view;
    rebuild();
    return *this;
  }

  void rebuild() {
    lines.clear();
    for (const auto& [n, v] : field_text) {
      lines.push_back({n, v});
      if (n == "Host") {
        authority = v;
      }
    }
    view.fields = lines;
    if (!method.empty()) {
      view.method = method;
      view.authority = authority;
      view.set_target(target);
    }
  }

  void add(std::string name, std::string value) {
    field_text.emplace_back(std::move(name), std::move(value));
    rebuild();
  }
};

// Appendix B.2.
test_message test_request() {
  return test_message("POST /foo?param=Value&Pet=dog", {{"Host", "example.com"},
                                                        {"Date", "Tue, 20 Apr 2021 02:07:55 GMT"},
                                                        {"Content-Type", "application/json"},
                                                        {"Content-Digest", request_digest},
                                                        {"Content-Length", "18"}});
}

test_message test_response() {
  return test_message(
      "200",
      {{"Date", "Tue, 20 Apr 2021 02:07:56 GMT"},
       {"Content-Type", "application/json"},
       {"Content-Digest",
        "sha-512=:JlEy2bfUz7WrWIjc1qV6KVLpdr/7L5/L4h7Sxvh6sNHpDQWDCL+GauFQWcZBvVDhiyOnAQsxzZFYwi0wDH+1pw==:"},
       {"Content-Length", "23"}});
}

std::vector<hs::component> components(std::initializer_list<const char*> names) {
  std::vector<hs::component> out;
  for (const char* n : names) {
    out.push_back(n[0] == '@' ? hs::component::derived(n) : hs::component::field(n));
  }
  return out;
}

hs::signature_params rfc_params(std::vector<hs::component> covered, const char* keyid) {
  hs::signature_params p;
  p.covered = std::move(covered);
  p.created = 1618884473;
  p.keyid = keyid;
  return p;
}

std::string base_of(const test_message& m, const hs::signature_params& p, const hs::base_context& ctx = {}) {
  auto value = hs::serialize_params(p);
  REQUIRE(value.ok());
  auto base = hs::signature_base(m.view, p.covered, value.value(), ctx);
  INFO(hs::to_string(base.error), " ", base.component);
  REQUIRE(base.ok());
  return base.base;
}

std::string join(std::initializer_list<const char*> lines) {
  std::string out;
  for (const char* l : lines) {
    out += out.empty() ? "" : "\n";
    out += l;
  }
  return out;
}

// Verifies a published RSA-PSS-SHA512 or ECDSA-P256-SHA256 signature over `base` with OpenSSL.
bool openssl_verify(const char* pem, bool rsa_pss, std::string_view base, std::vector<std::uint8_t> sig) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem, -1), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  REQUIRE(key);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  REQUIRE(EVP_DigestVerifyInit(ctx.get(), &pctx, rsa_pss ? EVP_sha512() : EVP_sha256(), nullptr, key.get()) ==
          1);
  if (rsa_pss) {
    REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 64) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha512()) == 1);
  } else {
    REQUIRE(sig.size() == 64);  // r || s, 32 bytes each (section 3.3.4): OpenSSL wants DER
    ECDSA_SIG* es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(sig.data(), 32, nullptr), BN_bin2bn(sig.data() + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(es, &der);
    sig.assign(der, der + len);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
  }
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                          reinterpret_cast<const unsigned char*>(base.data()), base.size()) == 1;
}

// Verify options for the RFC's keys, with no clock checks (the vectors are from 2021).
struct rfc_keys {
  hs::verification_key ed25519 = hs::verification_key::ed25519("test-key-ed25519", rfc_ed25519_public());
  hs::verification_key hmac =
      hs::verification_key::hmac_sha256("test-shared-secret", c::secret_bytes(b64(shared_secret_b64)));

  hs::verify_options options() const {
    hs::verify_options o;
    o.resolve_key = [this](std::string_view keyid) -> const hs::verification_key* {
      return keyid == ed25519.keyid() ? &ed25519 : keyid == hmac.keyid() ? &hmac : nullptr;
    };
    return o;
  }
};

}  // namespace

TEST_CASE("RFC 9421 B.2.6: ed25519 over test-request, byte for byte") {
  test_message m = test_request();
  const auto params =
      rfc_params(components({"date", "@method", "@path", "@authority", "content-type", "content-length"}),
                 "test-key-ed25519");
  CHECK(base_of(m, params) ==
        join({"\"date\": Tue, 20 Apr 2021 02:07:55 GMT", "\"@method\": POST", "\"@path\": /foo",
              "\"@authority\": example.com", "\"content-type\": application/json", "\"content-length\": 18",
              "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" "
              "\"content-length\");created=1618884473;keyid=\"test-key-ed25519\""}));
  const auto key = hs::signing_key::ed25519("test-key-ed25519", rfc_ed25519_secret());
  const auto signed_fields = hs::sign(m.view, "sig-b26", params, key);
  REQUIRE(signed_fields.ok());
  CHECK(signed_fields.fields.signature_input ==
        "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" "
        "\"content-length\");created=1618884473;keyid=\"test-key-ed25519\"");
  CHECK(signed_fields.fields.signature ==
        "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:");

  m.add("Signature-Input", signed_fields.fields.signature_input);
  m.add("Signature", signed_fields.fields.signature);
  rfc_keys keys;
  auto options = keys.options();
  const auto verdict = hs::verify(m.view, options);
  CHECK(verdict.ok());
  CHECK(verdict.label == "sig-b26");
  CHECK(verdict.params.created == 1618884473);
  CHECK(verdict.params.keyid == "test-key-ed25519");
  CHECK(verdict.params.covered.size() == 6);
}

TEST_CASE("RFC 9421 B.2.5: hmac-sha256 over test-request, byte for byte") {
  test_message m = test_request();
  const auto params = rfc_params(components({"date", "@authority", "content-type"}), "test-shared-secret");
  CHECK(base_of(m, params) == join({"\"date\": Tue, 20 Apr 2021 02:07:55 GMT", "\"@authority\": example.com",
                                    "\"content-type\": application/json",
                                    "\"@signature-params\": (\"date\" \"@authority\" "
                                    "\"content-type\");created=1618884473;keyid=\"test-shared-secret\""}));
  const auto key =
      hs::signing_key::hmac_sha256("test-shared-secret", c::secret_bytes(b64(shared_secret_b64)));
  const auto s = hs::sign(m.view, "sig-b25", params, key);
  REQUIRE(s.ok());
  CHECK(s.fields.signature_input ==
        "sig-b25=(\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\"");
  CHECK(s.fields.signature == "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:");
  m.add("Signature-Input", s.fields.signature_input);
  m.add("Signature", s.fields.signature);
  rfc_keys keys;
  CHECK(hs::verify(m.view, keys.options()).ok());
}

TEST_CASE(
    "RFC 9421 B.2.1-B.2.4: our signature bases, and the published RSA-PSS/ECDSA signatures verify over "
    "them") {
  struct row {
    const char* name;
    bool response;
    std::vector<hs::component> covered;
    const char* keyid;
    std::optional<std::string> nonce;
    std::optional<std::string> tag;
    std::string base;
    const char* signature;
    bool rsa_pss;
  };
  std::vector<hs::component> b22 = components({"@authority", "content-digest"});
  b22.push_back(hs::component::derived("@query-param").query_name("Pet"));
  const std::vector<row> rows = {
      {"B.2.1",
       false,
       {},
       "test-key-rsa-pss",
       "b3k2pp5k7z-50gnwp.yemd",
       std::nullopt,
       "\"@signature-params\": "
       "();created=1618884473;keyid=\"test-key-rsa-pss\";nonce=\"b3k2pp5k7z-50gnwp.yemd\"",
       "d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/"
       "lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA"
       "7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/"
       "Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0m"
       "KZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/"
       "SITLq9mhho8K3+7EPYTU8IU1bLhdxO"
       "5Nyt8C8ssinQ98Xw9Q==",
       true},
      {"B.2.2", false, b22, "test-key-rsa-pss", std::nullopt, "header-example",
       join({"\"@authority\": example.com", (std::string("\"content-digest\": ") + request_digest).c_str(),
             "\"@query-param\";name=\"Pet\": dog",
             "\"@signature-params\": (\"@authority\" \"content-digest\" "
             "\"@query-param\";name=\"Pet\");created=1618884473;keyid=\"test-key-rsa-pss\";tag=\"header-"
             "example\""}),
       "LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7KT8UCMkSo"
       "wOB4+EC"
       "xCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/"
       "2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh62s7C"
       "l+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//"
       "0RoKUqiYY8Bh0aaUEb0rQ"
       "l3/XaVe4bXTugEjHSw==",
       true},
      {"B.2.3", false,
       components({"date", "@method", "@path", "@query", "@authority", "content-type", "content-digest",
                   "content-length"}),
       "test-key-rsa-pss", std::nullopt, std::nullopt,
       join({"\"date\": Tue, 20 Apr 2021 02:07:55 GMT", "\"@method\": POST", "\"@path\": /foo",
             "\"@query\": ?param=Value&Pet=dog", "\"@authority\": example.com",
             "\"content-type\": application/json",
             (std::string("\"content-digest\": ") + request_digest).c_str(), "\"content-length\": 18",
             "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@query\" \"@authority\" "
             "\"content-type\" "
             "\"content-digest\" \"content-length\");created=1618884473;keyid=\"test-key-rsa-pss\""}),
       "bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/"
       "5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38"
       "K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/"
       "aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCo"
       "C1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+"
       "QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FU"
       "o5fTIztsDZKEgM4cUA==",
       true},
  };
  for (const row& r : rows) {
    INFO(std::string(r.name));
    test_message m = test_request();
    auto p = rfc_params(r.covered, r.keyid);
    p.nonce = r.nonce;
    p.tag = r.tag;
    const std::string base = base_of(m, p);
    CHECK(base == r.base);
    CHECK(openssl_verify(rsa_pss_public_pem, r.rsa_pss, base, b64(r.signature)));
    // A control: one byte more and the published signature no longer verifies.
    CHECK_FALSE(openssl_verify(rsa_pss_public_pem, r.rsa_pss, base + " ", b64(r.signature)));
  }

  // B.2.4. The printed base's Content-Digest is not the test-response's (a known inconsistency in
  // the RFC): the signature was made over the printed base, so that is the value we sign here.
  test_message response = test_response();
  response.field_text[2].second =
      "sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:";
  response.rebuild();
  const auto p = rfc_params(components({"@status", "content-type", "content-digest", "content-length"}),
                            "test-key-ecc-p256");
  const std::string base = base_of(response, p);
  CHECK(base ==
        join({"\"@status\": 200", "\"content-type\": application/json",
              "\"content-digest\": "
              "sha-512=:"
              "mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:",
              "\"content-length\": 23",
              "\"@signature-params\": (\"@status\" \"content-type\" \"content-digest\" "
              "\"content-length\");created=1618884473;keyid=\"test-key-ecc-p256\""}));
  CHECK(openssl_verify(
      ecc_p256_public_pem, false, base,
      b64("wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw==")));
}

TEST_CASE("RFC 9421 section 2.4: a response signature bound to its request with ;req") {
  const test_message request = test_request();
  test_message response(
      "503", {{"Date", "Tue, 20 Apr 2021 02:07:56 GMT"},
              {"Content-Type", "application/json"},
              {"Content-Length", "62"},
              {"Content-Digest",
               "sha-512=:"
               "0Y6iCBzGg5rZtoXS95Ijz03mslf6KAMCloESHObfwnHJDbkkWWQz6PhhU9kxsTbARtY2PTBOzq24uJFpHsMuAg==:"}});
  std::vector<hs::component> covered = components({"@status", "content-digest", "content-type"});
  for (const char* n : {"@authority", "@method", "@path"}) {
    covered.push_back(hs::component::derived(n).req());
  }
  covered.push_back(hs::component::field("content-digest").req());
  hs::signature_params p;
  p.covered = covered;
  p.created = 1618884479;
  p.keyid = "test-key-ecc-p256";
  hs::base_context ctx;
  ctx.request = &request.view;
  const std::string base = base_of(response, p, ctx);
  CHECK(
      base ==
      join({"\"@status\": 503",
            "\"content-digest\": "
            "sha-512=:0Y6iCBzGg5rZtoXS95Ijz03mslf6KAMCloESHObfwnHJDbkkWWQz6PhhU9kxsTbARtY2PTBOzq24uJFpHsMuAg="
            "=:",
            "\"content-type\": application/json", "\"@authority\";req: example.com", "\"@method\";req: POST",
            "\"@path\";req: /foo", (std::string("\"content-digest\";req: ") + request_digest).c_str(),
            "\"@signature-params\": (\"@status\" \"content-digest\" \"content-type\" \"@authority\";req "
            "\"@method\";req \"@path\";req "
            "\"content-digest\";req);created=1618884479;keyid=\"test-key-ecc-p256\""}));
  CHECK(openssl_verify(
      ecc_p256_public_pem, false, base,
      b64("dMT/A/76ehrdBTD/2Xx8QuKV6FoyzEP/I9hdzKN8LQJLNgzU4W767HK05rx1i8meNQQgQPgQp8wq2ive3tV5Ag==")));

  // Without the request, or on a request, ;req cannot be taken.
  auto value = hs::serialize_params(p).value();
  CHECK(hs::signature_base(response.view, p.covered, value).error == hs::base_error::no_request);
  CHECK(hs::signature_base(request.view, p.covered, value, ctx).error ==
        hs::base_error::not_for_this_message);
  std::vector<hs::component> req_on_request{hs::component::derived("@method").req()};
  CHECK(hs::signature_base(request.view, req_on_request, "()", ctx).error == hs::base_error::req_in_request);
}

TEST_CASE("RFC 9421 sections 2.5 and B.3: more published bases verify with their RSA-PSS/ECDSA signatures") {
  test_message m = test_request();
  const auto p = rfc_params(
      components({"@method", "@authority", "@path", "content-digest", "content-length", "content-type"}),
      "test-key-rsa-pss");
  const std::string base = base_of(m, p);
  CHECK(openssl_verify(rsa_pss_public_pem, true, base,
                       b64("HIbjHC5rS0BYaa9v4QfD4193TORw7u9edguPh0AW3dMq9WImrlFrCGUDih47vAxi4L2YRZ3XMJc1uOKk/"
                           "J0ZmZ+wcta4nKIgBkKq0rM9hs3C"
                           "QyxXGxHLMCy8uqK488o+9jrptQ+xFPHK7a9sRL1IXNaagCNN3ZxJsYapFj+JXbmaI5rtAdSfSvzPuBCh+"
                           "ARHBmWuNo1UzVVdHXrl8ePL4ccc"
                           "qlazIJdC4QEjrF+Sn4IxBQzTZsL9y9TP5FsZYzHvDqbInkTNigBcE9cKOYNFCn4D/"
                           "WM7F6TNuZO9EgtzepLWcjTymlHzK7aXq6Am6sfOrpIC"
                           "49yXjj3ae6HRalVc/g==")));

  const std::string cert =
      ":MIIBqDCCAU6gAwIBAgIBBzAKBggqhkjOPQQDAjA6MRswGQYDVQQKDBJMZXQncyBBdXRoZW50aWNhdGUxGzAZBgNVBAMMEkxBIElud"
      "GVybWVk"
      "aWF0ZSBDQTAeFw0yMDAxMTQyMjU1MzNaFw0yMTAxMjMyMjU1MzNaMA0xCzAJBgNVBAMMAkJDMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQ"
      "cDQgAE8Y"
      "nXXfaUgmnMtOXU/IncWalRhebrXmckC8vdgJ1p5Be5F/"
      "3YC8OthxM4+k1M6aEAEFcGzkJiNy6J84y7uzo9M6NyMHAwCQYDVR0TBAIwADAfBg"
      "NVHSMEGDAWgBRm3WjLa38lbEYCuiCPct0ZaSED2DAOBgNVHQ8BAf8EBAMCBsAwEwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0RAQH/"
      "BBMwEY"
      "EPYmRjQGV4YW1wbGUuY29tMAoGCCqGSM49BAMCA0gAMEUCIBHda/r1vaL6G3VliL4/Di6YK0Q6bMjeSkC3dFCOOB8TAiEAx/"
      "kHSB4urmiZ0N"
      "X5r5XarmPk0wmuydBVoU4hBVZ1yhk=:";
  test_message proxied("POST /foo?param=Value&Pet=dog", {{"Host", "service.internal.example"},
                                                         {"Date", "Tue, 20 Apr 2021 02:07:55 GMT"},
                                                         {"Content-Type", "application/json"},
                                                         {"Content-Length", "18"},
                                                         {"Client-Cert", cert}});
  const auto ttrp = rfc_params(components({"@path", "@query", "@method", "@authority", "client-cert"}),
                               "test-key-ecc-p256");
  const std::string ttrp_base = base_of(proxied, ttrp);
  CHECK(ttrp_base ==
        "\"@path\": /foo\n\"@query\": ?param=Value&Pet=dog\n\"@method\": POST\n\"@authority\": "
        "service.internal.example\n\"client-cert\": " +
            cert +
            "\n\"@signature-params\": (\"@path\" \"@query\" \"@method\" \"@authority\" "
            "\"client-cert\");created=1618884473;keyid=\"test-key-ecc-p256\"");
  CHECK(openssl_verify(
      ecc_p256_public_pem, false, ttrp_base,
      b64("xVMHVpawaAC/0SbHrKRs9i8I3eOs5RtTMGCWXm/9nvZzoHsIg6Mce9315T6xoklyy0yzhD9ah4JHRwMLOgmizw==")));
}

TEST_CASE("RFC 9421 B.4: the ed25519 signature survives allowed transformations, not the others") {
  const char* input =
      "transform=(\"@method\" \"@path\" \"@authority\" "
      "\"accept\");created=1618884473;keyid=\"test-key-ed25519\"";
  const char* signature =
      "transform=:ZT1kooQsEHpZ0I1IjCqtQppOmIqlJPeo7DHR3SoMn0s5JZ1eRGS0A+vyYP9t/LXlh5QMFFQ6cpLt2m0pmj3NDA==:";
  // Our own signature over the original message is the published one.
  test_message original("GET /demo?name1=Value1&Name2=value2", {{"Host", "example.org"},
                                                                {"Date", "Fri, 15 Jul 2022 14:24:55 GMT"},
                                                                {"Accept", "application/json"},
                                                                {"Accept", "*/*"}});
  const auto s =
      hs::sign(original.view, "transform",
               rfc_params(components({"@method", "@path", "@authority", "accept"}), "test-key-ed25519"),
               hs::signing_key::ed25519("test-key-ed25519", rfc_ed25519_secret()));
  REQUIRE(s.ok());
  CHECK(s.fields.signature_input == input);
  CHECK(s.fields.signature == signature);

  struct row {
    const char* what;
    const char* first_line;
    std::vector<std::pair<std::string, std::string>> fields;
    hs::verify_failure expected;
  };
  const std::vector<row> rows = {
      {"original",
       "GET /demo?name1=Value1&Name2=value2",
       {{"Host", "example.org"},
        {"Date", "Fri, 15 Jul 2022 14:24:55 GMT"},
        {"Accept", "application/json"},
        {"Accept", "*/*"}},
       hs::verify_failure::none},
      {"header and query added",
       "GET /demo?name1=Value1&Name2=value2&param=added",
       {{"Host", "example.org"},
        {"Date", "Fri, 15 Jul 2022 14:24:55 GMT"},
        {"Accept", "application/json"},
        {"Accept", "*/*"},
        {"Accept-Language", "en-US,en;q=0.5"}},
       hs::verify_failure::none},
      {"date removed, referer added, accept combined",
       "GET /demo?name1=Value1&Name2=value2",
       {{"Host", "example.org"},
        {"Referer", "https://developer.example.org/demo"},
        {"Accept", "application/json, */*"}},
       hs::verify_failure::none},
      {"fields reordered",
       "GET /demo?name1=Value1&Name2=value2",
       {{"Accept", "application/json"},
        {"Accept", "*/*"},
        {"Date", "Fri, 15 Jul 2022 14:24:55 GMT"},
        {"Host", "example.org"}},
       hs::verify_failure::none},
      {"method and authority changed",
       "POST /demo?name1=Value1&Name2=value2",
       {{"Host", "example.com"},
        {"Date", "Fri, 15 Jul 2022 14:24:55 GMT"},
        {"Accept", "application/json"},
        {"Accept", "*/*"}},
       hs::verify_failure::bad_signature},
      {"accept lines swapped",
       "GET /demo?name1=Value1&Name2=value2",
       {{"Host", "example.org"},
        {"Date", "Fri, 15 Jul 2022 14:24:55 GMT"},
        {"Accept", "*/*"},
        {"Accept", "application/json"}},
       hs::verify_failure::bad_signature},
  };
  rfc_keys keys;
  for (const row& r : rows) {
    INFO(std::string(r.what));
    test_message m(r.first_line, r.fields);
    m.add("Signature-Input", input);
    m.add("Signature", signature);
    CHECK(hs::verify(m.view, keys.options()).failure == r.expected);
  }
}

TEST_CASE("RFC 9421 section 2.1: field component values") {
  test_message m("GET /", {{"Host", "www.example.com"},
                           {"Date", "Tue, 20 Apr 2021 02:07:56 GMT"},
                           {"X-OWS-Header", "  Leading and trailing whitespace.  "},
                           {"Cache-Control", "max-age=60"},
                           {"Cache-Control", "   must-revalidate"},
                           {"Example-Dict", " a=1,    b=2;x=1;y=2,   c=(a   b   c)"},
                           {"X-Empty-Header", ""},
                           {"Example-Header", "value, with, lots"},
                           {"Example-Header", "of, commas"},
                           {"Example-Single", "value, with, lots, of, commas"}});
  test_message dict("GET /",
                    {{"Host", "www.example.com"}, {"Example-Dict", "  a=1, b=2;x=1;y=2, c=(a   b    c), d"}});
  const hs::structured_field types[] = {{"example-dict", hs::sf_type::dictionary}};
  hs::base_context ctx;
  ctx.structured_fields = types;
  struct row {
    const test_message* message;
    hs::component component;
    const char* line;
  };
  const row rows[] = {
      {&m, hs::component::field("Host"), "\"host\": www.example.com"},
      {&m, hs::component::field("date"), "\"date\": Tue, 20 Apr 2021 02:07:56 GMT"},
      {&m, hs::component::field("x-ows-header"), "\"x-ows-header\": Leading and trailing whitespace."},
      {&m, hs::component::field("cache-control"), "\"cache-control\": max-age=60, must-revalidate"},
      {&m, hs::component::field("example-dict"), "\"example-dict\": a=1,    b=2;x=1;y=2,   c=(a   b   c)"},
      {&m, hs::component::field("x-empty-header"), "\"x-empty-header\": "},
      {&m, hs::component::field("example-dict").sf(), "\"example-dict\";sf: a=1, b=2;x=1;y=2, c=(a b c)"},
      {&dict, hs::component::field("example-dict").key("a"), "\"example-dict\";key=\"a\": 1"},
      {&dict, hs::component::field("example-dict").key("d"), "\"example-dict\";key=\"d\": ?1"},
      {&dict, hs::component::field("example-dict").key("b"), "\"example-dict\";key=\"b\": 2;x=1;y=2"},
      {&dict, hs::component::field("example-dict").key("c"), "\"example-dict\";key=\"c\": (a b c)"},
      {&m, hs::component::field("example-header").bs(),
       "\"example-header\";bs: :dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:"},
      {&m, hs::component::field("example-header"), "\"example-header\": value, with, lots, of, commas"},
      {&m, hs::component::field("example-single").bs(),
       "\"example-single\";bs: :dmFsdWUsIHdpdGgsIGxvdHMsIG9mLCBjb21tYXM=:"},
  };
  for (const row& r : rows) {
    INFO(std::string(r.line));
    const hs::component covered[] = {r.component};
    const auto base = hs::signature_base(r.message->view, covered, "()", ctx);
    REQUIRE(base.ok());
    CHECK(base.base == std::string(r.line) + "\n\"@signature-params\": ()");
  }
}

TEST_CASE("RFC 9421 section 2.2: derived component values") {
  test_message post("POST /path?param=value", {{"Host", "www.example.com"}});
  test_message query("GET /path?param=value&foo=bar&baz=bat%2Dman", {{"Host", "www.example.com"}});
  test_message qs("POST /path?queryString", {{"Host", "www.example.com"}});
  test_message none("GET /path", {{"Host", "WWW.Example.com:443"}});
  test_message empty_path("GET ?a=b", {{"Host", "www.example.com:8443"}});
  test_message params("GET /path?param=value&foo=bar&baz=batman&qux=", {{"Host", "www.example.com"}});
  test_message encoded(
      "GET "
      "/parameters?var=this%20is%20a%20big%0Amultiline%20value&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20="
      "something",
      {{"Host", "www.example.com"}});
  test_message plain("POST /path?param=value", {{"Host", "www.example.com:80"}});
  plain.view.scheme = "HTTP";
  test_message response("200", {{"Date", "Fri, 26 Mar 2010 00:05:00 GMT"}});
  struct row {
    const test_message* message;
    hs::component component;
    const char* line;
  };
  const row rows[] = {
      {&post, hs::component::derived("@method"), "\"@method\": POST"},
      {&post, hs::component::derived("@target-uri"),
       "\"@target-uri\": https://www.example.com/path?param=value"},
      {&post, hs::component::derived("@authority"), "\"@authority\": www.example.com"},
      {&none, hs::component::derived("@authority"), "\"@authority\": www.example.com"},
      {&empty_path, hs::component::derived("@authority"), "\"@authority\": www.example.com:8443"},
      {&plain, hs::component::derived("@authority"), "\"@authority\": www.example.com"},
      {&plain, hs::component::derived("@scheme"), "\"@scheme\": http"},
      {&post, hs::component::derived("@request-target"), "\"@request-target\": /path?param=value"},
      {&post, hs::component::derived("@path"), "\"@path\": /path"},
      {&empty_path, hs::component::derived("@path"), "\"@path\": /"},
      {&query, hs::component::derived("@query"), "\"@query\": ?param=value&foo=bar&baz=bat%2Dman"},
      {&qs, hs::component::derived("@query"), "\"@query\": ?queryString"},
      {&none, hs::component::derived("@query"), "\"@query\": ?"},
      {&none, hs::component::derived("@target-uri"), "\"@target-uri\": https://www.example.com/path"},
      {&params, hs::component::derived("@query-param").query_name("baz"),
       "\"@query-param\";name=\"baz\": batman"},
      {&params, hs::component::derived("@query-param").query_name("qux"), "\"@query-param\";name=\"qux\": "},
      {&params, hs::component::derived("@query-param").query_name("param"),
       "\"@query-param\";name=\"param\": value"},
      {&encoded, hs::component::derived("@query-param").query_name("var"),
       "\"@query-param\";name=\"var\": this%20is%20a%20big%0Amultiline%20value"},
      {&encoded, hs::component::derived("@query-param").query_name("bar"),
       "\"@query-param\";name=\"bar\": with%20plus%20whitespace"},
      {&encoded, hs::component::derived("@query-param").query_name("fa%C3%A7ade%22%3A%20"),
       "\"@query-param\";name=\"fa%C3%A7ade%22%3A%20\": something"},
      {&response, hs::component::derived("@status"), "\"@status\": 200"},
  };
  for (const row& r : rows) {
    INFO(std::string(r.line));
    const hs::component covered[] = {r.component};
    const auto base = hs::signature_base(r.message->view, covered, "()");
    INFO(hs::to_string(base.error));
    REQUIRE(base.ok());
    CHECK(base.base == std::string(r.line) + "\n\"@signature-params\": ()");
  }
}

TEST_CASE("signature base errors say which component and why") {
  test_message m("GET /p?a=1&a=2&b=3", {{"Host", "example.com"},
                                        {"Example-Dict", "a=1"},
                                        {"Bad-Dict", "a=1,"},
                                        {"Obs-Text", "caf\xc3\xa9"},
                                        {"Content-Digest", "sha-256=:AAAA:"}});
  test_message response("200", {});
  struct row {
    const test_message* message;
    std::vector<hs::component> covered;
    hs::base_error error;
    const char* component;
  };
  hs::component tr = hs::component::field("example-dict");
  tr.params.push_back({"tr", true});
  hs::component req_false = hs::component::derived("@method");
  req_false.params.push_back({"req", false});
  hs::component key_int = hs::component::field("example-dict");
  key_int.params.push_back({"key", std::int64_t{1}});
  const std::vector<row> rows = {
      {&m,
       {hs::component::derived("@method"), hs::component::derived("@method")},
       hs::base_error::duplicate_component,
       "\"@method\""},
      {&m,
       {hs::component::field("example-dict").sf().key("a"),
        hs::component::field("example-dict").key("a").sf()},
       hs::base_error::duplicate_component,
       "\"example-dict\";key=\"a\";sf"},
      {&m,
       {hs::component::derived("@signature-params")},
       hs::base_error::bad_component,
       "\"@signature-params\""},
      {&m, {hs::component{"Host", {}}}, hs::base_error::bad_component, "\"Host\""},
      {&m, {hs::component::derived("@nope")}, hs::base_error::unknown_derived_component, "\"@nope\""},
      {&m, {tr}, hs::base_error::unknown_parameter, "\"example-dict\";tr"},
      {&m, {req_false}, hs::base_error::unknown_parameter, "\"@method\";req=?0"},
      {&m, {key_int}, hs::base_error::unknown_parameter, "\"example-dict\";key=1"},
      {&m, {hs::component::derived("@method").sf()}, hs::base_error::unknown_parameter, "\"@method\";sf"},
      {&m, {hs::component::derived("@query-param")}, hs::base_error::unknown_parameter, "\"@query-param\""},
      {&m,
       {hs::component::field("example-dict").bs().sf()},
       hs::base_error::incompatible_parameters,
       "\"example-dict\";bs;sf"},
      {&m, {hs::component::derived("@status")}, hs::base_error::not_for_this_message, "\"@status\""},
      {&response, {hs::component::derived("@path")}, hs::base_error::not_for_this_message, "\"@path\""},
      {&m, {hs::component::field("date")}, hs::base_error::field_missing, "\"date\""},
      {&m, {hs::component::field("date").bs()}, hs::base_error::field_missing, "\"date\";bs"},
      {&m,
       {hs::component::field("example-dict").sf()},
       hs::base_error::field_not_structured,
       "\"example-dict\";sf"},
      {&m,
       {hs::component::field("bad-dict").key("a")},
       hs::base_error::field_not_structured,
       "\"bad-dict\";key=\"a\""},
      {&m,
       {hs::component::field("example-dict").key("zz")},
       hs::base_error::dictionary_key_missing,
       "\"example-dict\";key=\"zz\""},
      {&m,
       {hs::component::derived("@query-param").query_name("a")},
       hs::base_error::query_param_missing,
       "\"@query-param\";name=\"a\""},
      {&m,
       {hs::component::derived("@query-param").query_name("c")},
       hs::base_error::query_param_missing,
       "\"@query-param\";name=\"c\""},
      {&m, {hs::component::field("obs-text")}, hs::base_error::not_ascii, "\"obs-text\""},
  };
  for (const row& r : rows) {
    INFO(std::string(r.component));
    const auto base = hs::signature_base(r.message->view, r.covered, "()");
    CHECK(base.error == r.error);
    CHECK(base.component == r.component);
    CHECK(base.base.empty());
  }
  // The @query-param that occurs once is fine, and the content-digest dictionary is known to ;sf.
  const hs::component ok[] = {hs::component::derived("@query-param").query_name("b"),
                              hs::component::field("content-digest").sf()};
  CHECK(hs::signature_base(m.view, ok, "()").ok());
}

TEST_CASE("a byte outside ASCII is refused wherever it falls in the base") {
  // The base is checked eight bytes at a time: put the byte at every offset of a long value (word
  // starts, middles, ends, and the tail after the last whole word), and in the parameters line.
  const std::string value(61, 'v');
  for (std::size_t at = 0; at < value.size(); ++at) {
    std::string bad = value;
    bad[at] = '\xE9';
    const test_message m("POST /", {{"Host", "example.com"}, {"X-A", "fine"}, {"X-Text", bad}});
    const hs::component covered[] = {hs::component::field("x-a"), hs::component::field("x-text")};
    INFO("at " << at);
    const auto base = hs::signature_base(m.view, covered, "()");
    CHECK(base.error == hs::base_error::not_ascii);
    CHECK(base.component == "\"x-text\"");
    CHECK(base.base.empty());
  }
  const test_message m("POST /", {{"Host", "example.com"}, {"X-Text", value}});
  const hs::component covered[] = {hs::component::field("x-text")};
  CHECK(hs::signature_base(m.view, covered, "()").ok());
  const auto params = hs::signature_base(m.view, covered, "();tag=\"caf\xC3\xA9\"");
  CHECK(params.error == hs::base_error::not_ascii);
  CHECK(params.component == "\"@signature-params\"");
}

namespace {

// A signed message for the verifier tests: ed25519 over the test request, with knobs.
struct verifier_fixture {
  c::secret_bytes secret = rfc_ed25519_secret();
  hs::signing_key key = hs::signing_key::ed25519("test-key-ed25519", secret.clone());
  rfc_keys keys;
  std::int64_t now = 1'700'000'000;
  std::map<std::string, int> seen;

  hs::signature_params params() const {
    hs::signature_params p;
    p.covered = components({"@method", "@authority", "@path", "content-digest"});
    p.created = now - 10;
    p.expires = now + 60;
    p.keyid = "test-key-ed25519";
    p.alg = "ed25519";
    p.nonce = "n-1";
    p.tag = "sovgw-request";
    return p;
  }

  test_message signed_message(const hs::signature_params& p, const char* label = "sig") const {
    test_message m = test_request();
    const auto s = hs::sign(m.view, label, p, key);
    REQUIRE(s.ok());
    m.add("Signature-Input", s.fields.signature_input);
    m.add("Signature", s.fields.signature);
    return m;
  }

  hs::verify_options options() {
    hs::verify_options o = keys.options();
    o.now = [this] { return now; };
    o.max_age = 300;
    o.max_skew = 5;
    o.require_nonce = true;
    o.tag = "sovgw-request";
    o.required = components({"@method", "@authority", "@path"});
    o.check_nonce = [this](std::string_view, std::string_view nonce, std::int64_t) {
      if (nonce == "too-old-to-tell") {
        return hs::nonce_check::unverifiable;
      }
      return seen[std::string(nonce)]++ == 0 ? hs::nonce_check::fresh : hs::nonce_check::replayed;
    };
    return o;
  }
};

}  // namespace

TEST_CASE("the verifier names every way a signature fails") {
  verifier_fixture f;
  CHECK(hs::verify(f.signed_message(f.params()).view, f.options()).ok());

  struct row {
    const char* what;
    std::function<void(hs::signature_params&)> change_params;
    std::function<void(test_message&)> change_message;
    std::function<void(hs::verify_options&)> change_options;
    hs::verify_failure expected;
    const char* detail;
  };
  const auto nothing_p = [](hs::signature_params&) {};
  const auto nothing_m = [](test_message&) {};
  const auto nothing_o = [](hs::verify_options&) {};
  const auto set_field = [](const char* name, const char* value) {
    return [name, value](test_message& m) {
      for (auto& [n, v] : m.field_text) {
        if (n == name) {
          v = value;
        }
      }
      m.rebuild();
    };
  };
  const std::string long_signature = "sig=:" + std::string(88, 'A') + ":";  // 66 bytes
  const std::vector<row> rows = {
      {"no signature fields", nothing_p,
       [](test_message& m) {
         m.field_text.resize(5);
         m.rebuild();
       },
       nothing_o, hs::verify_failure::missing_signature, "Signature-Input"},
      {"Signature-Input not a dictionary", nothing_p, set_field("Signature-Input", "sig=(\"@method\""),
       nothing_o, hs::verify_failure::malformed_signature_input,
       "an Inner List is missing its closing parenthesis"},
      {"Signature not a dictionary", nothing_p, set_field("Signature", "sig=:abc"), nothing_o,
       hs::verify_failure::malformed_signature, "a Byte Sequence must be base64 between colons"},
      {"created is a string", nothing_p,
       set_field("Signature-Input",
                 "sig=(\"@method\");created=\"1\";keyid=\"test-key-ed25519\";tag=\"sovgw-request\""),
       nothing_o, hs::verify_failure::malformed_signature_input, "created"},
      {"a covered component is a token", nothing_p,
       set_field("Signature-Input", "sig=(method);keyid=\"test-key-ed25519\";tag=\"sovgw-request\""),
       nothing_o, hs::verify_failure::malformed_signature_input, "covered component that is not a String"},
      {"the signature is not a byte sequence", nothing_p, set_field("Signature", "sig=\"abc\""), nothing_o,
       hs::verify_failure::malformed_signature, "sig"},
      {"the signature is shorter than any the key makes (unpadded base64 of two bytes)", nothing_p,
       set_field("Signature", "sig=:AAA:"), nothing_o, hs::verify_failure::malformed_signature, "sig"},
      {"the signature is longer than any the key makes", nothing_p,
       set_field("Signature", long_signature.c_str()), nothing_o, hs::verify_failure::malformed_signature,
       "sig"},
      {"another label in Signature", nothing_p, set_field("Signature", "other=:AAAA:"), nothing_o,
       hs::verify_failure::missing_signature_value, "sig"},
      {"no signature with the tag", [](hs::signature_params& p) { p.tag = "other"; }, nothing_m, nothing_o,
       hs::verify_failure::missing_signature, "sovgw-request"},
      {"the label asked for carries another tag", [](hs::signature_params& p) { p.tag = "other"; }, nothing_m,
       [](hs::verify_options& o) { o.label = "sig"; }, hs::verify_failure::tag_mismatch, "other"},
      {"no label asked for exists", nothing_p, nothing_m, [](hs::verify_options& o) { o.label = "nope"; },
       hs::verify_failure::missing_signature, "nope"},
      {"no keyid", [](hs::signature_params& p) { p.keyid.reset(); }, nothing_m, nothing_o,
       hs::verify_failure::unknown_key, "no keyid"},
      {"unknown keyid", [](hs::signature_params& p) { p.keyid = "someone-else"; }, nothing_m, nothing_o,
       hs::verify_failure::unknown_key, "someone-else"},
      {"alg names hmac for an ed25519 key", [](hs::signature_params& p) { p.alg.reset(); },
       set_field("Signature-Input",
                 "sig=(\"@method\" \"@authority\" "
                 "\"@path\");created=1699999990;keyid=\"test-key-ed25519\";alg=\"hmac-"
                 "sha256\";nonce=\"n-1\";tag=\"sovgw-request\""),
       nothing_o, hs::verify_failure::algorithm_mismatch, "hmac-sha256"},
      {"no created", [](hs::signature_params& p) { p.created.reset(); }, nothing_m, nothing_o,
       hs::verify_failure::missing_created, "created"},
      {"created in the future", [](hs::signature_params& p) { p.created = 1'700'000'006; }, nothing_m,
       nothing_o, hs::verify_failure::created_in_future, "1700000006"},
      {"created too long ago", [](hs::signature_params& p) { p.created = 1'700'000'000 - 301; }, nothing_m,
       nothing_o, hs::verify_failure::too_old, "1699999699"},
      {"expired", [](hs::signature_params& p) { p.expires = 1'700'000'000 - 6; }, nothing_m, nothing_o,
       hs::verify_failure::expired, "1699999994"},
      {"no nonce", [](hs::signature_params& p) { p.nonce.reset(); }, nothing_m, nothing_o,
       hs::verify_failure::missing_nonce, "nonce"},
      {"@path not covered",
       [](hs::signature_params& p) {
         p.covered = components({"@method", "@authority"});
       },
       nothing_m, nothing_o, hs::verify_failure::missing_required_component, "\"@path\""},
      {"a covered field was dropped", nothing_p,
       [](test_message& m) {
         m.field_text.erase(m.field_text.begin() + 3);  // Content-Digest
         m.rebuild();
       },
       nothing_o, hs::verify_failure::component_unavailable, "\"content-digest\""},
      {"the path was changed", nothing_p,
       [](test_message& m) {
         m.target = "/bar?param=Value&Pet=dog";
         m.rebuild();
       },
       nothing_o, hs::verify_failure::bad_signature, "sig"},
      {"a covered field was changed", nothing_p,
       set_field("Content-Digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"), nothing_o,
       hs::verify_failure::bad_signature, "sig"},
      {"the parameters were changed after signing", nothing_p,
       [](test_message& m) {
         auto& v = m.field_text[5].second;
         v = v.substr(0, v.find(";created=")) + ";created=1699999999" + v.substr(v.find(";expires="));
         m.rebuild();
       },
       nothing_o, hs::verify_failure::bad_signature, "sig"},
      {"the nonce was seen before", nothing_p, nothing_m, nothing_o, hs::verify_failure::replayed_nonce,
       "n-1"},
      {"the nonce is older than the cache", [](hs::signature_params& p) { p.nonce = "too-old-to-tell"; },
       nothing_m, nothing_o, hs::verify_failure::nonce_unverifiable, "too-old-to-tell"},
  };
  for (const row& r : rows) {
    INFO(std::string(r.what));
    auto p = f.params();
    r.change_params(p);
    test_message m = f.signed_message(p);
    r.change_message(m);
    auto o = f.options();
    r.change_options(o);
    const auto verdict = hs::verify(m.view, o);
    CHECK(verdict.failure == r.expected);
    CHECK(verdict.detail == r.detail);
    CHECK_FALSE(verdict.ok());
  }
  CHECK(std::string(hs::to_string(hs::verify_failure::replayed_nonce)) == "replayed_nonce");
}

TEST_CASE("the verifier picks its signature among several, and unsigned parameters are not trusted") {
  verifier_fixture f;
  // A client's own signature first, then the gateway's: the tag picks the gateway's.
  auto p = f.params();
  test_message m = test_request();
  auto other = hs::sign(m.view, "client", rfc_params(components({"@method"}), "client-key"),
                        hs::signing_key::ed25519("client-key", c::ed25519_generate_key_pair().secret_key));
  auto ours = hs::sign(m.view, "sig", p, f.key);
  REQUIRE(other.ok());
  REQUIRE(ours.ok());
  m.add("Signature-Input", other.fields.signature_input + ", " + ours.fields.signature_input);
  m.add("Signature", other.fields.signature);
  m.add("Signature", ours.fields.signature);
  auto verdict = hs::verify(m.view, f.options());
  CHECK(verdict.ok());
  CHECK(verdict.label == "sig");

  // Two candidates are refused, whichever of them is genuine: a second signature with the tag, the
  // label twice in Signature-Input or in Signature (RFC 8941 keeps the last; a reader of the first
  // would see another signature than the verifier).
  const std::string forged_value = "sig=:" + std::string(86, 'A') + "==:";
  struct twice {
    const char* what;
    std::function<void(test_message&)> add;
  };
  const std::vector<twice> ambiguous = {
      {"a second signature with the tag",
       [&](test_message& t) {
         auto again = hs::sign(t.view, "sig2", f.params(), f.key);
         REQUIRE(again.ok());
         t.add("Signature-Input", again.fields.signature_input);
         t.add("Signature", again.fields.signature);
       }},
      {"the label twice in Signature-Input",
       [&](test_message& t) { t.add("Signature-Input", ours.fields.signature_input); }},
      {"the label twice in Signature, the genuine one last",
       [&](test_message& t) {
         t.field_text.insert(t.field_text.end() - 1, {"Signature", forged_value});
         t.rebuild();
       }},
      {"the label twice in Signature, the genuine one first",
       [&](test_message& t) { t.add("Signature", forged_value); }},
  };
  for (const twice& row : ambiguous) {
    INFO(row.what);
    test_message t = test_request();
    t.add("Signature-Input", ours.fields.signature_input);
    t.add("Signature", ours.fields.signature);
    row.add(t);
    const auto two = hs::verify(t.view, f.options());
    CHECK(two.failure == hs::verify_failure::ambiguous_signature);
    CHECK(two.detail == "sig");
  }
  CHECK(std::string(hs::to_string(hs::verify_failure::ambiguous_signature)) == "ambiguous_signature");

  // The nonce hook is not consulted for a signature that does not verify (no cache poisoning).
  int calls = 0;
  auto o = f.options();
  o.check_nonce = [&](std::string_view, std::string_view, std::int64_t) {
    ++calls;
    return hs::nonce_check::fresh;
  };
  test_message forged = f.signed_message(p);
  forged.field_text[6].second = "sig=:" + std::string(86, 'A') + "==:";
  forged.rebuild();
  const hs::verify_result bad = hs::verify(forged.view, o);
  CHECK(bad.failure == hs::verify_failure::bad_signature);
  CHECK(calls == 0);
  // A bad signature still says what it covers: a verifier can tell which inputs may differ.
  CHECK(bad.params.covered.size() == p.covered.size());
  CHECK(bad.label == "sig");
}

TEST_CASE("keys refuse bad material, and hmac needs a strong secret") {
  CHECK_THROWS_AS((void)hs::signing_key::ed25519("k", c::secret_bytes(32)), std::invalid_argument);
  CHECK_THROWS_AS((void)hs::signing_key::hmac_sha256("k", c::secret_bytes(31)), std::invalid_argument);
  CHECK_THROWS_AS((void)hs::verification_key::hmac_sha256("k", c::secret_bytes(16)), std::invalid_argument);
  const auto key = hs::signing_key::ed25519("k", c::ed25519_generate_key_pair().secret_key);
  test_message m = test_request();
  hs::signature_params p;
  p.alg = "hmac-sha256";
  CHECK_THROWS_AS((void)hs::sign(m.view, "sig", p, key), std::invalid_argument);
  p.alg.reset();
  CHECK_THROWS_AS((void)hs::sign(m.view, "Sig", p, key), std::invalid_argument);
  p.nonce = "line\nbreak";
  CHECK(hs::sign(m.view, "sig", p, key).error == hs::base_error::unserializable_params);
  CHECK(hs::algorithm_from_string("rsa-pss-sha512") == std::nullopt);
  CHECK(hs::to_string(hs::algorithm::hmac_sha256) == "hmac-sha256");
}
