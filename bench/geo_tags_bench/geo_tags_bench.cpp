// CPU cost of what the gateway adds to a forwarded request for issue 14, measured through the real
// code path (gateway::geo_tagger::tag), against building the same request head without it (the
// peer, measured in the same run, interleaved round by round):
//   plain_head_us       the forwarded head as before geo-tags (request line, 8 client fields, the
//                       gateway's forwarding fields)
//   geo_tags_us         the Sovereign-* fields only (no signing key configured)
//   signed_ed25519_us   geo-tags + tenant pseudonym + Content-Digest + RFC 9421 Ed25519 signature
//   signed_hmac_us      the same with a per-cluster hmac-sha256 key
//   receipt_fields_us / receipt_signed_us   the response receipt, unsigned and signed (Ed25519)
//
//   geo_tags_bench [--rounds R] [--iterations N] [--body-bytes B]
//
// Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID), the median of R rounds of N operations.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "bench/common/micro_bench.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/key_file.hpp"
#include "crypto/signature_profile.hpp"
#include "gateway/geo_tags.hpp"

namespace gw = sovgw::gateway;
namespace c = sovgw::crypto;
namespace hs = sovgw::crypto::httpsig;
using sovgw::bench::median;
using sovgw::bench::sink;

namespace {

const std::vector<std::pair<std::string, std::string>> client_fields = {
    {"User-Agent", "OpenAI/Python 1.55.0"},
    {"Accept", "application/json"},
    {"Content-Type", "application/json"},
    {"X-Stainless-Lang", "python"},
    {"X-Stainless-Os", "Linux"},
    {"X-Stainless-Arch", "x64"},
    {"X-Stainless-Runtime", "CPython"},
    {"Accept-Encoding", "gzip, deflate"}};

void plain_head(std::string& out, const gw::request_context& ctx) {
  out.clear();
  out += ctx.head.method;
  out += ' ';
  out += ctx.head.target;
  out += " HTTP/1.1\r\nHost: paris-1.cluster.example\r\n";
  for (const auto& [n, v] : client_fields) {
    out += n;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out +=
      "X-Forwarded-For: 203.0.113.9\r\nForwarded: for=203.0.113.9;proto=https\r\nX-Forwarded-Proto: "
      "https\r\n";
  out += "X-Request-Id: ";
  out += ctx.request_id;
  out += "\r\n";
}

}  // namespace

int main(int argc, char** argv) {
  sovgw::bench::options defaults;
  defaults.rounds = 11;
  const auto opts = sovgw::bench::parse_options(argc, argv, "geo_tags_bench", defaults);
  if (!opts) {
    return 2;
  }
  const int rounds = opts->rounds;
  const int iterations = opts->iterations;
  const std::size_t body_bytes = opts->body_bytes;
  char pattern[] = "/tmp/geo-tags-bench-XXXXXX";
  const std::string dir = ::mkdtemp(pattern);
  const std::string key = dir + "/http.key";
  const std::string hmac = dir + "/cluster.hmac";
  c::write_secret_key_file(key, hs::http_signing_key_kind, c::ed25519_generate_key_pair().secret_key);
  c::secret_bytes secret(32);
  c::random_bytes(secret.mutable_view());
  c::write_secret_key_file(hmac, hs::hmac_key_kind, secret);
  const std::string clusters = R"(tls: {certificate: a.pem, private_key: a.key}
clusters:
  - {name: paris-1, endpoints: ["10.0.0.1:443"], country: FR, operator_jurisdiction: EU}
  - {name: berlin-1, endpoints: ["10.0.0.2:443"], country: DE, operator_jurisdiction: EU}
)";
  const gw::geo_tagger unsigned_tagger(*gw::parse_config(clusters, "b"));
  const gw::geo_tagger signed_tagger(*gw::parse_config(
      clusters +
          fmt::format("signing: {{key: {}, gateway_id: gw-eu-west-1, cluster_hmac_keys: {{berlin-1: {}}}}}\n",
                      key, hmac),
      "b"));
  ::unlink(key.c_str());
  ::unlink(hmac.c_str());
  ::rmdir(dir.c_str());

  gw::request_context ctx;
  ctx.request_id = "0193a5c1e2f04b7c9d2e3f4a5b6c7d8e";
  ctx.client_country = "FR";
  ctx.client_country_source = "geoip:socket";
  ctx.data_classes = {"personal"};
  ctx.declared_class_count = 1;
  ctx.matched_rules = {"permit-eea-clients", "residency-eea-or-adequacy"};
  ctx.policy_version = "sha256:5f1c0e9a";
  ctx.tenant = "acme";
  ctx.head.method = "POST";
  ctx.head.target = "/v1/chat/completions";
  ctx.body = sovgw::bench::chat_body(body_bytes);
  std::vector<hs::field_line> forwarded;
  for (const auto& [n, v] : client_fields) {
    forwarded.push_back({n, v});
  }

  std::string out;
  std::string why;
  const auto run = [&](const gw::geo_tagger* tagger, int cluster) {
    return sovgw::bench::cpu_us_per_op(iterations, [&] {
      plain_head(out, ctx);
      if (tagger != nullptr) {
        ctx.cluster = cluster;
        if (!tagger->tag(out, ctx, "paris-1.cluster.example", forwarded, why)) {
          std::abort();
        }
      }
      sink = sink + out.size();
    });
  };
  ctx.head.host = "gateway.example:8443";
  const auto receipts = [&](const gw::geo_tagger& tagger) {
    ctx.cluster = 0;
    return sovgw::bench::cpu_us_per_op(iterations, [&] {
      out.assign("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
      tagger.append_receipt(out, ctx, 200);
      sink = sink + out.size();
    });
  };
  std::vector<double> plain, tags, ed, hm, receipt_fields, receipt_signed;
  for (int r = 0; r < rounds; ++r) {
    plain.push_back(run(nullptr, 0));
    tags.push_back(run(&unsigned_tagger, 0));
    ed.push_back(run(&signed_tagger, 0));
    hm.push_back(run(&signed_tagger, 1));
    receipt_fields.push_back(receipts(unsigned_tagger));
    receipt_signed.push_back(receipts(signed_tagger));
  }
  const double p = median(plain);
  const double t = median(tags);
  const double e = median(ed);
  const double h = median(hm);
  fmt::print("forwarded head: 8 client fields, body {} bytes; {} rounds x {} ops, thread CPU\n",
             ctx.body.size(), rounds, iterations);
  fmt::print("plain_head_us={:.2f} geo_tags_us={:.2f} (added {:.2f}) ratio_geo_tags/plain={:.2f}\n", p, t,
             t - p, t / p);
  fmt::print(
      "signed_ed25519_us={:.2f} signature_us_per_request={:.2f} signed_hmac_us={:.2f} (added {:.2f})\n", e,
      e - p, h, h - p);
  fmt::print("receipt_fields_us={:.2f} receipt_signed_us={:.2f}\n", median(receipt_fields),
             median(receipt_signed));
  return 0;
}
