// CPU cost of signing a forwarded request under the sovgw RFC 9421 profile, against a bare libsodium
// crypto_sign_detached over the same signature base (the peer, measured in the same run, interleaved
// round by round). Also: the Content-Digest of the body, the whole per-request cost (digest + base +
// sign + fields), hmac-sha256, and the cluster-side verification against a bare
// crypto_sign_verify_detached.
//
//   signature_bench [--rounds R] [--iterations N] [--body-bytes B]
//
// Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID), the median of R rounds of N operations.
#include <fmt/format.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/common/micro_bench.hpp"
#include "crypto/content_digest.hpp"
#include "crypto/jwk.hpp"
#include "crypto/nonce_cache.hpp"
#include "crypto/signature_profile.hpp"

namespace c = sovgw::crypto;
namespace hs = sovgw::crypto::httpsig;
using sovgw::bench::median;
using sovgw::bench::sink;

namespace {

// A request as the gateway forwards it to a cluster: geo-tags as issue 14 lists them.
struct forwarded_request {
  std::string body;
  std::string digest;
  std::vector<std::pair<std::string, std::string>> text;
  std::vector<hs::field_line> fields;
  hs::message_view view;

  explicit forwarded_request(std::size_t body_bytes) {
    body = sovgw::bench::chat_body(body_bytes);
    digest = c::content_digest(std::string_view(body));
    text = {{"Host", "paris-1.cluster.example:9443"},
            {"User-Agent", "OpenAI/Python 1.55.0"},
            {"Accept", "application/json"},
            {"Content-Type", "application/json"},
            {"Content-Length", std::to_string(body.size())},
            {"Content-Digest", digest},
            {"Sovereign-Request-Id", "\"01JEXAMPLE7Q2W3E4R5T6Y7U8I\""},
            {"Sovereign-Client-Country", "FR;method=geoip-socket"},
            {"Sovereign-Data-Class", "personal;declared, email;detected"},
            {"Sovereign-Decision", "permit;rules=(\"eu-personal-data\" \"default-eu\")"},
            {"Sovereign-Policy-Version", "\"2026-12-01.3\""},
            {"Sovereign-Cluster", "\"paris-1\";country=FR"},
            {"Sovereign-Gateway", "\"gw-eu-west-1\""},
            {"Sovereign-Tenant", ":q83vEjRWeJASNFZ4mrze8A==:"}};
    for (const auto& [n, v] : text) {
      fields.push_back({n, v});
    }
    view.method = "POST";
    view.authority = text[0].second;
    view.set_target("/v1/chat/completions");
    view.fields = fields;
  }
};

struct measured {
  std::vector<double> per_round;
};

void round(measured& m, int iterations, const std::function<void()>& op) {
  m.per_round.push_back(sovgw::bench::cpu_us_per_op(iterations, op));
}

}  // namespace

int main(int argc, char** argv) {
  const auto opts = sovgw::bench::parse_options(argc, argv, "signature_bench", {});
  if (!opts) {
    return 2;
  }
  const int rounds = opts->rounds;
  const int iterations = opts->iterations;
  const std::size_t body_bytes = opts->body_bytes;
  const auto pair = c::ed25519_generate_key_pair();
  const std::string keyid = c::ed25519_jwk_thumbprint(pair.public_key);
  const auto key = hs::signing_key::ed25519(keyid, pair.secret_key.clone());
  c::secret_bytes hmac_secret(32);
  c::random_bytes(hmac_secret.mutable_view());
  const auto hmac_key = hs::signing_key::hmac_sha256(hs::hmac_keyid(hmac_secret), hmac_secret.clone());
  const auto public_key = hs::verification_key::ed25519(keyid, pair.public_key);

  forwarded_request req(body_bytes);
  const hs::request_signing when{1'800'000'000, 60, hs::make_nonce()};

  // The signature base the profile produces, for the bare peers.
  const auto sample = hs::sign_forwarded_request(req.view, key, when);
  hs::signature_params params;
  params.covered = hs::forwarded_request_components(req.view);
  params.created = when.created;
  params.expires = when.created + when.lifetime;
  params.keyid = keyid;
  params.alg = "ed25519";
  params.nonce = when.nonce;
  params.tag = std::string(hs::request_tag);
  const std::string base =
      hs::signature_base(req.view, params.covered, hs::serialize_params(params).value()).base;
  std::array<std::uint8_t, crypto_sign_BYTES> bare_sig{};
  crypto_sign_detached(bare_sig.data(), nullptr, reinterpret_cast<const unsigned char*>(base.data()),
                       base.size(), pair.secret_key.data());

  // The signed request as the cluster receives it.
  auto received_text = req.text;
  received_text.emplace_back("Signature-Input", sample.fields.signature_input);
  received_text.emplace_back("Signature", sample.fields.signature);
  std::vector<hs::field_line> received_fields;
  for (const auto& [n, v] : received_text) {
    received_fields.push_back({n, v});
  }
  hs::message_view received = req.view;
  received.fields = received_fields;
  c::nonce_cache nonces(10'000'000, 330);
  std::int64_t nonce_counter = 0;
  hs::request_verifier verifier;
  verifier.resolve_key = [&](std::string_view id) { return id == keyid ? &public_key : nullptr; };
  verifier.now = [&] { return when.created; };
  const std::span<const std::uint8_t> body(reinterpret_cast<const std::uint8_t*>(req.body.data()),
                                           req.body.size());

  // A second peer: OpenSSL's Ed25519 over the same base with the same key (same signature bytes).
  EVP_PKEY* ossl_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, pair.secret_key.data(), 32);
  EVP_MD_CTX* ossl_ctx = EVP_MD_CTX_new();
  measured openssl_sign;
  measured bare_sign;
  measured profile_sign;
  measured digest;
  measured base_only;
  measured per_request;
  measured hmac_sign;
  measured bare_verify;
  measured profile_verify;
  for (int r = 0; r < rounds; ++r) {
    round(bare_sign, iterations, [&] {
      std::array<std::uint8_t, crypto_sign_BYTES> sig{};
      crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(base.data()),
                           base.size(), pair.secret_key.data());
      sink = sink + sig[0];
    });
    round(openssl_sign, iterations, [&] {
      std::array<std::uint8_t, 64> sig{};
      std::size_t len = sig.size();
      EVP_DigestSignInit(ossl_ctx, nullptr, nullptr, nullptr, ossl_key);
      EVP_DigestSign(ossl_ctx, sig.data(), &len, reinterpret_cast<const unsigned char*>(base.data()),
                     base.size());
      sink = sink + sig[0];
    });
    round(profile_sign, iterations, [&] {
      const auto s = hs::sign_forwarded_request(req.view, key, when);
      sink = sink + s.fields.signature.size();
    });
    round(base_only, iterations, [&] {
      const auto value = hs::serialize_params(params);
      sink = sink + hs::signature_base(req.view, params.covered, value.value()).base.size();
    });
    round(digest, iterations, [&] { sink = sink + c::content_digest(std::string_view(req.body)).size(); });
    round(per_request, iterations, [&] {
      // What the gateway adds per forwarded request: digest the body, a nonce, base + sign + fields.
      const std::string d = c::content_digest(std::string_view(req.body));
      const hs::request_signing now{when.created, 60, hs::make_nonce()};
      const auto s = hs::sign_forwarded_request(req.view, key, now);
      sink = sink + d.size() + s.fields.signature.size();
    });
    round(hmac_sign, iterations, [&] {
      const auto s = hs::sign_forwarded_request(req.view, hmac_key, when);
      sink = sink + s.fields.signature.size();
    });
    round(bare_verify, iterations, [&] {
      sink = sink + crypto_sign_verify_detached(bare_sig.data(),
                                                reinterpret_cast<const unsigned char*>(base.data()),
                                                base.size(), pair.public_key.data());
    });
    round(profile_verify, iterations, [&] {
      // The same signed request each time, so the replay check is done beside it with a new nonce:
      // every call pays for one "fresh" insertion, as a cluster does per request.
      const auto v = hs::verify_forwarded_request(received, body, verifier);
      sink = sink + static_cast<std::uint64_t>(v.failure) +
             static_cast<std::uint64_t>(nonces.check(keyid, std::to_string(++nonce_counter), when.created,
                                                     when.created) == hs::nonce_check::fresh);
    });
  }
  if (!hs::verify_forwarded_request(received, body, verifier).ok()) {
    fmt::print(stderr, "signature_bench: the signed sample does not verify\n");
    return 1;
  }
  const double bare = median(bare_sign.per_round);
  const double profile = median(profile_sign.per_round);
  const double full = median(per_request.per_round);
  const double verify_bare = median(bare_verify.per_round);
  const double verify_profile = median(profile_verify.per_round);
  fmt::print(
      "request: {} covered components, signature base {} bytes, body {} bytes; {} rounds x {} ops, thread "
      "CPU\n",
      params.covered.size(), base.size(), req.body.size(), rounds, iterations);
  fmt::print("ed25519_bare_sign_us={:.2f} sign_forwarded_request_us={:.2f} ratio_profile/bare={:.2f}\n", bare,
             profile, profile / bare);
  fmt::print("openssl_ed25519_sign_us={:.2f} ratio_openssl/libsodium={:.2f}\n",
             median(openssl_sign.per_round), median(openssl_sign.per_round) / bare);
  fmt::print(
      "signature_base_us={:.2f} content_digest_sha256_us={:.2f} "
      "hmac_sha256_sign_forwarded_request_us={:.2f}\n",
      median(base_only.per_round), median(digest.per_round), median(hmac_sign.per_round));
  fmt::print("signature_us_per_request={:.2f} (digest + nonce + base + ed25519 + fields) ratio/bare={:.2f}\n",
             full, full / bare);
  fmt::print("ed25519_bare_verify_us={:.2f} verify_forwarded_request_us={:.2f} ratio_profile/bare={:.2f}\n",
             verify_bare, verify_profile, verify_profile / verify_bare);
  EVP_MD_CTX_free(ossl_ctx);
  EVP_PKEY_free(ossl_key);
  return sink == 42 ? 3 : 0;
}
