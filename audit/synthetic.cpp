#include "audit/synthetic.hpp"

#include <fmt/format.h>

#include <array>

namespace sovgw::audit {

record synthetic_record(std::string_view run, std::uint64_t i, std::uint64_t base_time_us,
                        payload_mode mode) {
  static constexpr std::array<const char*, 5> tenants = {"acme", "globex", "initech", "umbrella", "hooli"};
  static constexpr std::array<const char*, 6> countries = {"DE", "FR", "NL", "IT", "US", "ES"};
  static constexpr std::array<const char*, 3> models = {"mistral-small", "llama-3-70b", "mixtral-8x7b"};
  static constexpr std::array<const char*, 3> clusters = {"fra-1", "par-1", "ams-1"};
  static constexpr std::array<const char*, 3> cluster_countries = {"DE", "FR", "NL"};
  record r;
  r.timestamp_us = base_time_us + i * 1000;
  r.request_id = fmt::format("{}-{}", run, i);
  r.tenant = tenants[i % tenants.size()];
  r.client_country = countries[(i / 5) % countries.size()];
  r.country_source = "geoip";
  r.client_ip = fmt::format("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.model = models[i % models.size()];
  const bool denied = r.client_country == std::string_view("US") && i % 2 == 0;
  if (i % 7 == 0) {
    r.data_classes = {"personal.email"};
  }
  r.decision = denied ? "deny" : "permit";  // the gateway's words (request_decisions)
  r.rule_ids =
      denied ? std::vector<std::string>{"no-us-personal-data"} : std::vector<std::string>{"eu-default"};
  r.policy_version = "2026-11-01.1";
  if (!denied) {
    r.cluster = clusters[i % clusters.size()];
    r.cluster_country = cluster_countries[i % cluster_countries.size()];
  }
  r.status = denied ? 403 : 200;
  r.bytes_in = 1024 + i % 100;
  r.bytes_out = denied ? 180 : 2048 + i % 1000;
  r.latency_us = 20000 + (i * 7919) % 50000;
  r.prompt_tokens = denied ? 0 : 250 + i % 50;
  r.completion_tokens = denied ? 0 : 400 + i % 100;
  r.error_kind = denied ? "policy_denied" : "";
  r.payload = denied ? payload_mode::none : mode;
  return r;
}

payload synthetic_payload(std::uint64_t i, std::size_t bytes) {
  payload p;
  std::string base = fmt::format("request {}: summarise the quarterly report for the board. ", i);
  while (p.prompt.size() < bytes / 2) {
    p.prompt += base;
  }
  p.prompt.resize(bytes / 2);
  p.completion = fmt::format("completion {}: ", i);
  while (p.completion.size() < bytes - bytes / 2) {
    p.completion += "the report shows steady growth in EU markets. ";
  }
  p.completion.resize(bytes - bytes / 2);
  return p;
}

}  // namespace sovgw::audit
