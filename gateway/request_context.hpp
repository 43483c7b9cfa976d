#pragma once

// What the request pipeline knows about one request, filled stage by stage:
//   accept -> read -> identify -> classify -> decide -> route -> forward -> relay -> record
// Owned by the session handling the request; never shared between threads.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "classify/json_body.hpp"
#include "gateway/http_parser.hpp"
#include "gateway/outcome.hpp"
#include "policy/policy_source.hpp"

namespace sovgw::gateway {

struct request_context {
  std::string request_id;
  std::chrono::steady_clock::time_point started{};
  std::chrono::system_clock::time_point received_at{};

  // accept
  std::string peer_ip;  // the socket's peer
  std::uint16_t peer_port = 0;
  std::string proxy_source_ip;        // a trusted peer's PROXY v2 header said so (empty: none)
  std::string client_certificate_cn;  // verified mTLS client certificate, if any

  // read
  http::message_head head;
  std::string body;  // de-chunked; bounded by limits.max_body_bytes

  // identify
  std::string client_ip;  // as established (gateway/client_address.hpp)
  std::string tenant = "default";
  std::string client_country = "unknown";
  std::string client_country_source = "none";

  // classify
  std::string model;
  bool stream = false;
  std::vector<std::string> data_classes;
  classify::scan_result scan;  // what the policy's detectors found in the body, and where

  // decide
  bool permitted = true;
  std::vector<std::string> matched_rules;
  std::string decision_reason;
  std::string policy_version;
  std::vector<int> allowed_clusters;  // indexes into config.clusters
  // The matched rules' `log_payload` obligation: how much of the payload the audit record may
  // keep (it can only lower the configured audit.payload).
  policy::log_payload payload_obligation = policy::log_payload::unset;
  // How many findings the `redact` obligation replaced in `body` before it was forwarded.
  std::size_t redactions = 0;

  // route
  int cluster = -1;
  std::string endpoint;  // host:port actually used
  bool forwarded = false;  // the request's bytes went to the cluster (forward stage)

  // outcome (record)
  int status = 0;
  std::uint64_t response_bytes = 0;
  std::string completion;        // the response body as relayed, kept (bounded) only for the audit payload
  outcome result = outcome::ok;  // how the request ended (gateway/outcome.hpp)
  bool audit_recorded = false;   // the audit record is durable (written before the response ended)
  bool upstream_reused = false;
};

// What a stage tells the session: go on, or answer now with the outcome's OpenAI-style error.
struct [[nodiscard]] stage_result {
  outcome result = outcome::ok;
  std::string message;  // for the client: why, in one sentence

  [[nodiscard]] bool proceed() const { return result == outcome::ok; }
  static stage_result next() { return {}; }
  static stage_result respond(outcome o, std::string message) { return {o, std::move(message)}; }
};

// What the session does with the connection once a request is over.
enum class next_step : std::uint8_t { keep_alive, close, linger_close };

}  // namespace sovgw::gateway
