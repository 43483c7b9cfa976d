#pragma once

// The Idempotency-Key field's value as the gateway reads it before scoping it to the tenant
// (geo_tagger::scoped_idempotency_key). The IETF draft (draft-ietf-httpapi-idempotency-key-header)
// makes it a Structured-Field String ("8e03978e-40d5"); Stripe, the OpenAI and Anthropic SDKs send a
// bare key (stainless-node-retry-<uuid>). Pure code, part of the HTTP parser's library.
#include <cstdint>
#include <string_view>

namespace sovgw::http {

enum class idempotency_key_form : std::uint8_t {
  raw,        // a bare key: visible ASCII but '"' and ','
  sf_string,  // an sf-string (RFC 9651 3.3.3): '"', printable ASCII with only \" and \\ escaped, '"'
  empty,      // no key: an empty value, or ""
  list,       // more than one key: a ',' outside a string (or the field sent twice, which a
              // recipient reads as one value joined by ',')
  invalid,    // anything else: a space or a control or non-ASCII byte in a bare key, an
              // unterminated string or a bad escape, anything after a string (parameters too)
};

// The form of one Idempotency-Key field's value (its surrounding whitespace already removed).
[[nodiscard]] idempotency_key_form read_idempotency_key(std::string_view value) noexcept;

// What is wrong with a form other than raw and sf_string, for a refusal ("" for those two).
[[nodiscard]] std::string_view idempotency_key_problem(idempotency_key_form form) noexcept;

}  // namespace sovgw::http
