#pragma once

// What the gateway writes on the wire by itself: header-line helpers and its own error answers,
// built as values (the session writes them). Pure code.

#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/outcome.hpp"

namespace sovgw::gateway {

void append_field(std::string& out, std::string_view name, std::string_view value);
void append_number(std::string& out, std::uint64_t v);
[[nodiscard]] std::string_view reason_phrase(int status);

struct response {
  int status = 0;
  std::string head;
  std::string body;
};

// A 200 application/json answer of the gateway's own (e.g. GET /v1/models), with X-Request-Id.
[[nodiscard]] response json_response(std::string body, std::string_view request_id, bool close);

// The gateway's answer for outcome `o` (which must have a status): an OpenAI-style JSON error
// {"error":{"message","type","param","code","request_id"}} with X-Request-Id, `Retry-After` when
// `retry_after_s` is set, and `Connection: close` when `close`.
[[nodiscard]] response error_response(outcome o, std::string_view message, std::string_view request_id,
                                      bool close, std::int64_t retry_after_s = 0);

}  // namespace sovgw::gateway
