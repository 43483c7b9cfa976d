#pragma once

// The closed list of ways a request can end. One table gives, for each outcome, the HTTP status
// the gateway answers with (0: the gateway writes no answer of its own — the request succeeded,
// or the cluster's answer was already under way), the OpenAI error `type` and `code` of that
// answer, and the `kind` that the audit record's error_kind, the access log's `error` and the
// `sovgw_request_outcomes_total{outcome=…}` metric label carry. Nothing else spells these
// strings: docs/auditing.md lists the kinds, and a test checks that list against this table.

#include <cstdint>
#include <optional>
#include <string_view>

#include "gateway/http_parser.hpp"

namespace sovgw::gateway {

// X(name, status, type, code). The kind is the name. Grouped by the stage that produces them.
#define SOVGW_OUTCOMES(X)                                                                       \
  X(ok, 0, "", "")                                                                              \
  /* read: strict HTTP/1.1 framing */                                                           \
  X(bad_request, 400, "invalid_request_error", "bad_request")                                   \
  X(non_canonical_target, 400, "invalid_request_error", "non_canonical_target")                 \
  X(request_timeout, 408, "invalid_request_error", "request_timeout")                           \
  X(request_too_large, 413, "invalid_request_error", "request_too_large")                       \
  X(request_line_too_long, 414, "invalid_request_error", "request_line_too_long")               \
  X(expectation_failed, 417, "invalid_request_error", "expectation_failed")                     \
  X(headers_too_large, 431, "invalid_request_error", "headers_too_large")                       \
  X(not_implemented, 501, "server_error", "not_implemented")                                    \
  X(http_version_not_supported, 505, "server_error", "http_version_not_supported")              \
  /* identify */                                                                                \
  X(bad_forwarded_for, 400, "invalid_request_error", "bad_forwarded_for")                       \
  X(invalid_idempotency_key, 400, "invalid_request_error", "invalid_idempotency_key")           \
  X(invalid_api_key, 401, "invalid_request_error", "invalid_api_key")                           \
  X(invalid_client_certificate, 401, "invalid_request_error", "invalid_client_certificate")     \
  X(rate_limit_exceeded, 429, "rate_limit_error", "rate_limit_exceeded")                        \
  X(insufficient_quota, 429, "insufficient_quota", "insufficient_quota")                        \
  X(limits_store_unavailable, 503, "server_error", "limits_store_unavailable")                  \
  /* classify */                                                                                \
  X(invalid_json, 400, "invalid_request_error", "invalid_json")                                 \
  X(invalid_body, 400, "invalid_request_error", "invalid_body")                                 \
  X(unsupported_media_type, 415, "invalid_request_error", "unsupported_media_type")             \
  X(unsupported_content_encoding, 415, "invalid_request_error", "unsupported_content_encoding") \
  X(bad_content_digest, 400, "invalid_request_error", "bad_content_digest")                     \
  X(endpoint_not_served, 403, "permission_error", "endpoint_not_served")                        \
  /* decide */                                                                                  \
  X(unknown_data_class, 400, "invalid_request_error", "unknown_data_class")                     \
  X(policy_denied, 403, "permission_error", "policy_denied")                                    \
  X(redaction_unsupported, 415, "invalid_request_error", "redaction_unsupported")               \
  /* route */                                                                                   \
  X(model_not_found, 404, "invalid_request_error", "model_not_found")                           \
  X(cluster_unavailable, 503, "server_error", "cluster_unavailable")                            \
  /* forward: the request as it would be forwarded cannot be signed */                          \
  X(unsignable_request, 400, "invalid_request_error", "unsignable_request")                     \
  /* forward: no connection to the chosen cluster (nothing was sent) */                         \
  X(upstream_connect_failed, 503, "server_error", "cluster_unavailable")                        \
  X(upstream_connect_timeout, 504, "server_error", "upstream_timeout")                          \
  X(upstream_tls_error, 502, "server_error", "upstream_tls_error")                              \
  /* forward: the request was sent, no usable response head came back */                        \
  X(upstream_timeout, 504, "server_error", "upstream_timeout")                                  \
  X(upstream_reset, 502, "server_error", "upstream_error")                                      \
  X(upstream_protocol, 502, "server_error", "upstream_error")                                   \
  /* relay: the cluster's answer had begun; the client sees it cut short */                     \
  X(upstream_reset_mid_body, 0, "", "")                                                         \
  X(upstream_stream_timeout, 0, "", "")                                                         \
  X(upstream_bad_chunking, 0, "", "")                                                           \
  X(client_disconnected, 0, "", "")                                                             \
  X(client_write_timeout, 0, "", "")                                                            \
  X(client_write_failed, 0, "", "")                                                             \
  /* any stage: still in progress when the drain deadline passed, cut by the gateway */         \
  X(shutdown_cut, 0, "", "")                                                                    \
  /* record, at the next start: the gateway stopped (a crash, a kill) while it was forwarded */ \
  X(gateway_stopped, 0, "", "")                                                                 \
  /* record: the audit record could not be made durable */                                      \
  X(audit_unavailable, 503, "server_error", "audit_unavailable")

enum class outcome : std::uint8_t {
#define SOVGW_OUTCOME_ENUM(name, status, type, code) name,
  SOVGW_OUTCOMES(SOVGW_OUTCOME_ENUM)
#undef SOVGW_OUTCOME_ENUM
};

struct outcome_info {
  std::string_view kind;  // audit error_kind, access-log `error`, metric label ("" for ok)
  int status;             // the gateway's own answer; 0 when it writes none
  std::string_view type;  // OpenAI error type
  std::string_view code;  // OpenAI error code
};

[[nodiscard]] const outcome_info& info(outcome o) noexcept;
[[nodiscard]] inline std::string_view kind_of(outcome o) noexcept { return info(o).kind; }
[[nodiscard]] std::size_t outcome_count() noexcept;
// The outcome whose kind is `kind` (for tests and tools that read records back).
[[nodiscard]] std::optional<outcome> outcome_from_kind(std::string_view kind) noexcept;

// The outcome of a framing error found by the read stage.
[[nodiscard]] outcome outcome_for(http::parse_error e) noexcept;

}  // namespace sovgw::gateway
