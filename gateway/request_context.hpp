#pragma once

// What the request pipeline knows about one request, filled stage by stage:
//   accept -> read -> identify -> classify -> decide -> route -> forward -> relay -> record
// Owned by the session handling the request; never shared between threads.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "classify/json_body.hpp"
#include "gateway/client_certificate.hpp"
#include "gateway/http_parser.hpp"
#include "gateway/outcome.hpp"
#include "policy/policy_source.hpp"
#include "tenants/limiter.hpp"

namespace sovgw::gateway {

struct request_context {
  std::string request_id;
  std::chrono::steady_clock::time_point started{};
  std::chrono::system_clock::time_point received_at{};

  // accept
  std::string peer_ip;  // the socket's peer
  std::uint16_t peer_port = 0;
  std::string proxy_source_ip;  // a trusted peer's PROXY v2 header said so (empty: none)
  // The verified mTLS client certificate's identity (owned by the session, which outlives the
  // request); null without one.
  const client_certificate* client_cert = nullptr;
  // The last valid API key of the connection (owned by the session), null when none is kept.
  tenants::key_memo* key_memo = nullptr;

  // read
  http::message_head head;
  std::string body;        // de-chunked; bounded by limits.max_body_bytes
  bool head_read = false;  // the head was read and parsed (what failed after it, if anything, was the body)

  // identify
  std::string client_ip;  // as established (gateway/client_address.hpp)
  std::string tenant = "default";
  std::int64_t retry_after_s = 0;  // a 429's Retry-After
  std::string key_id;        // the visible prefix of the API key presented (tenants file), never the key
  bool key_limited = false;  // the key has limits of its own (api_key::limits)
  std::string model_rule;    // the tenant's model_limits pattern that counts this request, if any
  std::string client_country = "unknown";
  std::string client_country_source = "none";

  // classify
  std::string model;
  bool stream = false;
  // A Responses API request with "background" (not false or null): generated after the answer,
  // streamed or not, whether the client stays or reads it back (probe round 50).
  bool background = false;
  std::vector<std::string> data_classes;      // declared first, then detected ones not declared
  std::size_t declared_class_count = 0;       // how many of data_classes the client declared
  std::vector<std::string> detected_classes;  // every class the detectors found (declared or not)
  classify::scan_result scan;                 // what the policy's detectors found in the body, and where
  // The detectors that put the request in a class of the policy: found in the body, and (a subset)
  // in the target or a header field. A refusal and the access line name them (never the values),
  // so that a user can tell what to reword.
  std::uint32_t class_detectors = 0;
  std::uint32_t class_detectors_in_head = 0;
  std::optional<bool> include_usage;  // the client's stream_options.include_usage, when given
  // The completion's bound the client gave (max_tokens and the like, times n or best_of): what an
  // answer may cost beyond its prompt, reserved against token limits while it is in flight.
  std::uint64_t completion_bound = 0;
  std::string_view completion_bound_field;  // the field that set it (a static string; empty: none)
  std::uint64_t completions = 1;  // how many completions it asks for (n for each prompt of a batch)
  // How many of them have no bound and are charged an estimate when the answer says nothing
  // (admit: on the endpoints that generate text, or that are charged what was reserved); 0 when
  // the client bounded them.
  std::uint64_t unbounded_completions = 0;
  // The bound the client gave its prompt where the prompt is not in the body (an Assistants run's
  // max_prompt_tokens: its prompt is the stored thread), 0 when none (usage_meter.hpp).
  std::uint64_t prompt_bound = 0;

  // decide
  bool permitted = true;
  std::vector<std::string> matched_rules;
  std::string decision_reason;
  std::string policy_version;
  std::vector<int> allowed_clusters;  // indexes into config.clusters
  // Whether the policy decided the request: a policy was loaded and the request reached its
  // decision as a request for a model some cluster serves (a model no cluster serves is answered
  // 404 without one). The audit record, the access line and the receipt say permit or deny only then.
  [[nodiscard]] bool policy_decided() const {
    return !policy_version.empty() && result != outcome::model_not_found;
  }
  // The decision in the one vocabulary of the audit record and the receipt
  // (audit::request_decisions): permit or deny when the policy decided, no-policy when it did not,
  // none for a request that ended before any answer (`answered` false), which has no receipt.
  [[nodiscard]] std::string_view decision(bool answered) const;
  // The matched rules' `log_payload` obligation: how much of the payload the audit record may
  // keep (it can only lower the configured audit.payload).
  policy::log_payload payload_obligation = policy::log_payload::unset;
  // How many findings the `redact` obligation replaced in `body` before it was forwarded.
  std::size_t redactions = 0;

  // route
  int cluster = -1;
  std::string endpoint;    // host:port actually used
  bool forwarded = false;  // the request's bytes went to the cluster (forward stage)
  // The round trip of the TLS handshake (TCP connect for plaintext) of the connection used, µs
  // (docs/evidence.md); 0: not forwarded. 32 bits: it sits in the padding after `forwarded`.
  std::uint32_t endpoint_rtt_us = 0;

  // forward: the evidence of what was sent (gateway/geo_tags.hpp); empty when not signed
  std::string signature_keyid;   // the keyid the forwarded request was signed with
  std::string forwarded_digest;  // Content-Digest of the body as forwarded (after redaction)
  // Where the endpoint's addresses geolocate (gateway/endpoint_geo.hpp), as judged when the
  // connection's address set was; empty when nothing was forwarded.
  std::string endpoint_country;
  // The one address the connection was made to, and where it geolocates (empty: not judged).
  std::string endpoint_address;
  std::string endpoint_address_country;
  // forward: the gateway added stream_options.include_usage, so the cluster's usage-only event is
  // the gateway's and is removed before the client sees it
  bool usage_requested = false;

  // relay: token usage the cluster reported (gateway/usage_meter.hpp)
  tenants::limiter::reservation reservation;  // what admit took in the limiter (released by account)
  // What a completion the answer did not count is charged, beside `prompt` tokens: what admit
  // reserved for it; without a reservation (a tenant without limits, no tenants file) its bound,
  // or first_completion_estimate for each unbounded completion, as a reservation starts (probe
  // round 46: the same failed request was ~prompt+256 for a tenant with limits, ~prompt+0 without).
  [[nodiscard]] std::uint64_t completion_reserved(std::uint64_t prompt) const {
    const std::uint64_t reserved = reservation.tokens();
    if (reserved != 0) {
      return reserved > prompt ? reserved - prompt : completion_bound;
    }
    return completion_bound != 0 ? completion_bound
                                 : tenants::limiter::first_completion_estimate * unbounded_completions;
  }
  bool usage_known = false;
  bool usage_estimated = false;  // the answer ended without the cluster's usage (usage_meter::estimate)
  bool prompt_reported = false;      // ... but the cluster reported this count
  bool completion_reported = false;  // ... or this one
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;

  // A request that reads what a cluster stored (GET or HEAD: a background response read back with
  // GET .../responses/{id}, a stored completion): the usage in its answer is the stored one's,
  // recorded as reported and charged to no budget (pipeline::account).
  [[nodiscard]] bool reads_stored_usage() const { return head.method == "GET" || head.method == "HEAD"; }

  // outcome (record)
  int status = 0;
  std::uint64_t response_bytes = 0;
  std::string completion;        // the response body as relayed, kept (bounded) only for the audit payload
  outcome result = outcome::ok;  // how the request ended (gateway/outcome.hpp)
  bool audit_recorded = false;   // the audit record is durable (written before the response ended)
  bool in_flight_noted = false;  // an in-flight note holds it until its record is durable (audit_log)
  bool answer_cut = false;       // the cluster's answer was cut before its end: its record failed
  bool upstream_reused = false;
};

// One request's request_context, in a block from a per-thread free list. A request_context is
// just over 1 KiB: past glibc's per-thread cache (1032 bytes), so each one from malloc took
// malloc's slow path both ways (about 900 instructions a request), and as a local it made the
// session's per-request coroutine frame as large. The context itself is constructed fresh for
// every request: only the block is reused, never a field's contents.
class request_slot {
 public:
  request_slot();
  ~request_slot();
  request_slot(const request_slot&) = delete;
  request_slot& operator=(const request_slot&) = delete;

  [[nodiscard]] request_context& operator*() const noexcept { return *ctx_; }
  [[nodiscard]] request_context* operator->() const noexcept { return ctx_; }

 private:
  request_context* ctx_;
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
