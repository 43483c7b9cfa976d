// Decisions/s and latency of the compiled policy matcher on generated policies (100 .. 100k rules),
// against a linear per-rule evaluator over the same compiled rules (the peer, measured in the same
// run), plus geo lookups/s on the real tor-geoipdb data against a plain binary search.
//
//   policy_bench [--sizes 100,1000,10000,100000] [--seconds S]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "policy/compiled_policy.hpp"
#include "policy/explain.hpp"
#include "policy/geo_db.hpp"
#include "policy/policy.hpp"

using namespace sovgw::policy;
using bench_clock = std::chrono::steady_clock;

volatile std::uint64_t sink = 0;  // keeps the measured work observable

namespace {

const std::vector<std::string> eu_codes = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI",
                                           "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
                                           "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"};
const std::vector<std::string> other_codes = {"US", "GB", "CH", "NO", "JP", "CA",
                                              "IN", "BR", "CN", "RU", "AU", "KR"};
const std::vector<std::string> classes = {"personal", "health", "financial", "public", "internal"};
const std::vector<std::string> methods = {"GET", "POST", "PUT", "DELETE"};
const std::vector<std::string> paths = {"/v1/chat/completions", "/v1/completions", "/v1/embeddings",
                                        "/v1/models",           "/v1/files",       "/v1/batches",
                                        "/v1/audio/speech",     "/v1/moderations"};
const std::vector<std::string> model_families = {"mistral", "llama-3.1", "gpt-4o",    "qwen2.5", "gemma-2",
                                                 "mixtral", "phi-3",     "command-r", "falcon",  "deepseek"};

struct workload {
  std::string policy_yaml;
  std::vector<request_values> requests;
};

// Skewed: low indexes are much more popular (popular models, countries, classes).
std::size_t skewed(std::mt19937_64& rng, std::size_t n) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  return std::min(n - 1, static_cast<std::size_t>(static_cast<double>(n) * u(rng) * u(rng) * u(rng)));
}

std::string model_name(std::size_t i) { return fmt::format("{}-{}", model_families[i % 10], i / 10); }

workload generate(std::size_t rules, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const std::size_t tenants = std::max<std::size_t>(20, rules / 20);
  const std::size_t models = 40;
  std::string y =
      "version: 1\ncountry_sets:\n  ADEQUACY: [CH, GB, JP, KR, CA]\n  SANCTIONED: [RU, BY, IR, KP]\n"
      "data_classes:\n";
  for (const auto& c : classes) {
    y += fmt::format("  {}: {{detectors: [email]}}\n", c);
  }
  y += "rules:\n";
  // A fixed set of global rules (residency, sanctions, admin paths) plus per-tenant rules that scale
  // with the policy, the way a multi-tenant deployment grows.
  y += "  - id: g-forbid-sanctioned\n    effect: forbid\n    when: {client.country: [SANCTIONED]}\n";
  y += "  - id: g-forbid-admin\n    effect: forbid\n    when: {path: [\"/admin/*\"]}\n";
  y += "  - id: g-permit-eu\n    effect: permit\n    when: {client.country: [EEA], method: [GET, POST]}\n";
  y += "  - id: g-permit-adequacy-public\n    effect: permit\n    when: {client.country: [ADEQUACY], "
       "data.class: [public]}\n";
  y += "  - id: g-personal-eu\n    effect: restrict\n    when: {data.class: [personal, health, financial]}\n"
       "    route: {cluster.country: [EU], cluster.operator_jurisdiction: [EU]}\n";
  y += "  - id: g-residency\n    effect: restrict\n    route: {cluster.country: [EEA, ADEQUACY]}\n";
  for (std::size_t r = 6; r < rules; ++r) {
    const double kind = u(rng);
    const char* eff = kind < 0.05 ? "forbid" : kind < 0.80 ? "permit" : "restrict";
    y += fmt::format("  - id: r{}\n    effect: {}\n    when:\n", r, eff);
    if (kind < 0.05) {
      // Forbids: a tenant from a blocked network (ranges no other rule uses, so nothing is shadowed).
      y += fmt::format("      client.ip: [100.{}.{}.0/24]\n", 64 + (r % 64), r % 256);
      y += fmt::format("      tenant: [t{}]\n    reason: blocked network\n", rng() % tenants);
      continue;
    }
    y += fmt::format("      tenant: [t{}", rng() % tenants);
    if (u(rng) < 0.2) {
      y += fmt::format(", t{}", rng() % tenants);
    }
    y += "]\n";
    if (u(rng) < 0.5) {
      if (u(rng) < 0.2) {
        y += fmt::format("      model: [\"{}-*\"]\n", model_families[skewed(rng, model_families.size())]);
      } else {
        y += fmt::format("      model: [{}, {}]\n", model_name(skewed(rng, models)),
                         model_name(skewed(rng, models)));
      }
    }
    if (u(rng) < 0.4) {
      const double c = u(rng);
      y += c < 0.4   ? "      client.country: [EU]\n"
           : c < 0.7 ? "      client.country: [EEA, ADEQUACY]\n"
                     : fmt::format("      client.country: [{}, {}]\n", eu_codes[skewed(rng, eu_codes.size())],
                                   other_codes[skewed(rng, other_codes.size())]);
    }
    if (u(rng) < 0.3) {
      y += fmt::format("      data.class: [{}]\n", classes[skewed(rng, classes.size())]);
    }
    if (u(rng) < 0.3) {
      y += fmt::format("      method: [{}]\n", methods[skewed(rng, methods.size())]);
    }
    if (u(rng) < 0.2) {
      y += fmt::format("      path: [\"{}\"]\n", paths[skewed(rng, paths.size())]);
    }
    if (u(rng) < 0.05) {
      y += fmt::format("      client.ip: [\"10.{}.0.0/16\"]\n", rng() % 256);
    }
    if (kind >= 0.80) {
      const double c = u(rng);
      y += c < 0.5   ? "    route:\n      cluster.operator_jurisdiction: [EU]\n"
           : c < 0.8 ? "    route:\n      cluster.region: [eu-west, eu-central]\n"
                     : fmt::format("    route:\n      cluster: [c{}, c{}]\n", rng() % 6, rng() % 6);
    }
  }
  workload w;
  w.policy_yaml = std::move(y);
  for (int i = 0; i < 4096; ++i) {
    request_values r;
    const double c = u(rng);
    r.client_country =
        c < 0.7 ? eu_codes[skewed(rng, eu_codes.size())] : other_codes[skewed(rng, other_codes.size())];
    if (u(rng) < 0.5) {
      r.client_ip = ip_address{(u(rng) < 0.1 ? (10u << 24) : (81u << 24)) | (rng() & 0xffffff), true};
    }
    // Traffic is skewed (a few big tenants); some requests come from tenants the policy never names.
    r.tenant = fmt::format(
        "t{}",
        std::min(tenants + tenants / 10 - 1,
                 static_cast<std::size_t>(static_cast<double>(tenants + tenants / 10) * u(rng) * u(rng))));
    r.model = model_name(skewed(rng, models + 10));
    r.path = paths[skewed(rng, paths.size())];
    r.method = methods[skewed(rng, 2)];
    if (u(rng) < 0.6) {
      r.detected_classes.push_back(classes[skewed(rng, classes.size())]);
    }
    w.requests.push_back(std::move(r));
  }
  return w;
}

std::vector<cluster_info> bench_clusters() {
  return {{"c0", "FR", "eu-west", "FR", {"mistral-*", "llama-3.1-*"}},
          {"c1", "DE", "eu-central", "DE", {"*"}},
          {"c2", "DE", "eu-central", "US", {"gpt-4o-*", "llama-3.1-*"}},
          {"c3", "CH", "ch", "CH", {"*"}},
          {"c4", "US", "us-east", "US", {"*"}},
          {"c5", "NL", "eu-west", "NL", {"*"}}};
}

// The peer: evaluates every rule's conditions in turn (what an unindexed engine does).
std::size_t linear_matches(const compiled_policy& p, const request_values& r) {
  std::size_t n = 0;
  for (const auto& rule : p.rules) {
    bool all = true;
    for (std::size_t a = 0; a < attribute_count && all; ++a) {
      all = condition_admits(p, rule.when[a], static_cast<attribute>(a), r,
                             rule.effect == rule_effect::permit ? class_view::granting : class_view::all);
    }
    n += all;
  }
  return n;
}

double seconds_since(bench_clock::time_point t0) {
  return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

void bench_policy(std::size_t rules, double seconds) {
  const workload w = generate(rules, 42 + rules);
  const auto t0 = bench_clock::now();
  const compile_result compiled = compile_policy(w.policy_yaml, "generated.yaml");
  const double compile_ms = seconds_since(t0) * 1e3;
  if (!compiled.ok()) {
    fmt::print(stderr, "generated policy failed to compile:\n{}", format_diagnostics(compiled.diagnostics));
    std::exit(1);
  }
  const snapshot& s = *compiled.policy;
  const auto clusters = bench_clusters();
  const bound_clusters bound(s, clusters);
  std::vector<std::vector<std::string_view>> storage(w.requests.size());
  std::vector<request_attributes> views;
  for (std::size_t i = 0; i < w.requests.size(); ++i) {
    views.push_back(w.requests[i].view(storage[i]));
  }
  decision d;
  std::size_t permits = 0;
  std::size_t matched = 0;
  // Throughput.
  std::size_t n = 0;
  const auto t1 = bench_clock::now();
  while (seconds_since(t1) < seconds) {
    for (int k = 0; k < 1024; ++k, ++n) {
      s.decide(views[n % views.size()], bound, d);
      permits += d.result == effect::permit;
      matched += d.matched_rules.size();
    }
  }
  const double per_s = static_cast<double>(n) / seconds_since(t1);
  // Latency, one decision at a time.
  std::vector<double> lat;
  lat.reserve(200000);
  for (std::size_t i = 0; i < 200000; ++i) {
    const auto a = bench_clock::now();
    s.decide(views[i % views.size()], bound, d);
    lat.push_back(std::chrono::duration<double, std::micro>(bench_clock::now() - a).count());
  }
  std::sort(lat.begin(), lat.end());
  // Peer.
  std::size_t ln = 0;
  std::size_t lm = 0;
  const auto t2 = bench_clock::now();
  while (seconds_since(t2) < seconds / 2) {
    lm += linear_matches(s.compiled(), w.requests[ln % w.requests.size()]);
    ++ln;
  }
  const double linear_per_s = static_cast<double>(ln) / seconds_since(t2);
  fmt::print(
      "policy rules={} decisions_per_s={:.0f} p50_us={:.2f} p99_us={:.2f} compile_ms={:.0f} snapshot_kb={} "
      "index_kb={} "
      "linear_decisions_per_s={:.0f} speedup_vs_linear={:.1f}x permit_share={:.2f} avg_matched={:.1f}\n",
      rules, per_s, lat[lat.size() / 2], lat[lat.size() * 99 / 100], compile_ms, s.memory_bytes() / 1024,
      s.compiled().pool.bits.size() * 8 / 1024, linear_per_s, per_s / linear_per_s,
      static_cast<double>(permits) / static_cast<double>(n),
      static_cast<double>(matched) / static_cast<double>(n));
  std::fflush(stdout);
  sink = lm;
}

void bench_geo(double seconds) {
  const auto t0 = bench_clock::now();
  const geo_db db = geo_db::load_default();
  const double load_ms = seconds_since(t0) * 1e3;
  // The peer: a plain binary search over the raw sorted IPv4 range starts of the same file.
  std::vector<std::uint32_t> starts;
  std::vector<std::string> codes;
  {
    std::ifstream in(SOVGW_DEFAULT_GEOIP_PATH);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') {
        continue;
      }
      const auto c1 = line.find(',');
      const auto c2 = line.find(',', c1 + 1);
      starts.push_back(static_cast<std::uint32_t>(std::stoul(line.substr(0, c1))));
      codes.push_back(line.substr(c2 + 1));
    }
  }
  std::mt19937_64 rng(7);
  std::vector<ip_address> v4(1 << 20);
  for (auto& ip : v4) {
    ip = ip_address{rng() & 0xffffffffu, true};
  }
  std::vector<ip_address> v6(1 << 20);
  for (auto& ip : v6) {
    ip = ip_address{
        (static_cast<u128>(0x2000u | (rng() & 0x0fffu)) << 112) | (static_cast<u128>(rng()) << 48), false};
  }
  const auto run = [&](const std::vector<ip_address>& ips) {
    std::uint64_t sum = 0;
    std::size_t n = 0;
    const auto t = bench_clock::now();
    while (seconds_since(t) < seconds) {
      for (const auto& ip : ips) {
        sum += db.lookup(ip);
      }
      n += ips.size();
    }
    return std::pair{static_cast<double>(n) / seconds_since(t), sum};
  };
  const auto [v4_per_s, s1] = run(v4);
  const auto [v6_per_s, s2] = run(v6);
  std::uint64_t sum = 0;
  std::size_t n = 0;
  const auto t = bench_clock::now();
  while (seconds_since(t) < seconds) {
    for (const auto& ip : v4) {
      const auto it = std::upper_bound(starts.begin(), starts.end(), static_cast<std::uint32_t>(ip.value));
      sum += it == starts.begin() ? 0 : codes[static_cast<std::size_t>(it - starts.begin() - 1)][0];
    }
    n += v4.size();
  }
  const double plain_per_s = static_cast<double>(n) / seconds_since(t);
  sink = s1 + s2 + sum;
  fmt::print(
      "geo source=tor-geoipdb v4_ranges={} v6_ranges={} load_ms={:.0f} memory_kb={} v4_lookups_per_s={:.0f} "
      "v6_lookups_per_s={:.0f} plain_binary_search_v4_per_s={:.0f} speedup_vs_plain={:.1f}x\n",
      db.v4_ranges(), db.v6_ranges(), load_ms, db.memory_bytes() / 1024, v4_per_s, v6_per_s, plain_per_s,
      v4_per_s / plain_per_s);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes = {100, 1000, 10000, 100000};
  double seconds = 1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--sizes") {
      sizes.clear();
      std::string list = argv[i + 1];
      for (std::size_t pos = 0; pos < list.size();) {
        const auto comma = list.find(',', pos);
        sizes.push_back(std::stoul(list.substr(pos, comma - pos)));
        pos = comma == std::string::npos ? list.size() : comma + 1;
      }
    } else if (opt == "--seconds") {
      seconds = std::stod(argv[i + 1]);
    } else {
      fmt::print(stderr, "usage: policy_bench [--sizes 100,1000,10000,100000] [--seconds S]\n");
      return 2;
    }
  }
  for (const auto size : sizes) {
    bench_policy(size, seconds);
  }
  bench_geo(seconds);
  return 0;
}
