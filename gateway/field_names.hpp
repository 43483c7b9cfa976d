#pragma once

// The HTTP field names the gateway acts on, recognised once per field when a head is parsed, so
// that the data plane compares small integers instead of names (case-insensitively, every field,
// every stage). Pure code, part of the HTTP parser's library.
#include <cstdint>
#include <span>
#include <string_view>

namespace sovgw::http {

enum class field_id : std::uint8_t {
  other,
  // framing
  host,
  content_length,
  transfer_encoding,
  expect,
  // hop-by-hop (RFC 9110 7.6.1), with connection and transfer_encoding
  connection,
  keep_alive,
  te,
  trailer,
  upgrade,
  proxy_connection,
  proxy_authenticate,
  proxy_authorization,
  proxy_other,  // any other proxy-*
  // the body
  content_type,
  content_encoding,
  accept_encoding,
  // forwarded scoped to the tenant (upstream_exchange::request_head)
  idempotency_key,
  // credentials
  authorization,
  cookie,
  x_api_key,
  api_key,
  x_auth_token,
  // forwarding
  x_forwarded_for,
  forwarded,
  x_real_ip,
  x_forwarded_host,
  x_forwarded_port,
  x_forwarded_proto,
  x_client_ip,
  true_client_ip,
  // what front proxies and auth proxies assert about the client or the request, in the many
  // spellings servers honour (see client_claim_prefixes in field_names.cpp): never the client's
  client_claim,
  // any other field but those every cluster may be sent (end_to_end_names(): content negotiation,
  // caching, tracing, the OpenAI and Anthropic SDKs' own) and those the configuration adds
  // (`forward_fields`, http::limits): a cluster, or a router or proxy in front of it, may act on
  // a field no list of the gateway's knows (Portkey's x-portkey-custom-host sends the request
  // elsewhere, a CDN's CF-IPCountry asserts a country), so it is never forwarded
  unlisted,
  // what the gateway writes itself
  x_request_id,
  content_digest,
  signature,
  signature_input,
  sovereign_data_class,
  sovereign_other,  // any other sovereign-*
};

// The id of a field name (ASCII case-insensitive); field_id::other for the rest.
[[nodiscard]] field_id identify_field(std::string_view name) noexcept;

// Every name identify_field() recognises whole (lower case), ordered by length; the sovereign-*
// and proxy-* prefixes come on top.
struct known_field {
  std::string_view name;
  field_id id;
};
[[nodiscard]] std::span<const known_field> known_field_names() noexcept;

// identify_field() calls field_id::client_claim a name that starts with one of client_claim_prefixes(), holds
// one of client_claim_words() anywhere, or is one of client_claim_names() (lower case, compared without
// regard to ASCII case).
[[nodiscard]] std::span<const std::string_view> client_claim_prefixes() noexcept;
[[nodiscard]] std::span<const std::string_view> client_claim_words() noexcept;
[[nodiscard]] std::span<const std::string_view> client_claim_names() noexcept;

// Whether `name` (any case) describes the account a cluster is called with: the gateway's one
// credential, shared by every client and tenant. Its organisation and project
// (OpenAI-Organization, OpenAI-Project, anthropic-organization-id: upstream_account_names(), compared
// by their letters and digits: `openai_organization` and `OpenAI.Organization` too) and
// its rate limits: any name whose letters and digits hold "ratelimit" (x-ratelimit-* of OpenAI and
// Azure OpenAI, RateLimit, RateLimit-Policy and RateLimit-* of the IETF draft and Mistral,
// anthropic-ratelimit-*, x-ms-ratelimit-*). Neither way: a client's would scope its request to an
// account of its own elsewhere (identify_field() calls them client_claim), and a cluster's answer
// would tell every client the gateway's account and what all the others used of it (relay.cpp;
// probe round 42). Retry-After, retry-after-ms and x-should-retry are not among them: they say
// when to retry this request, which the SDKs need.
[[nodiscard]] bool names_upstream_account(std::string_view name) noexcept;
[[nodiscard]] std::span<const std::string_view> upstream_account_names() noexcept;

// The names of the end-to-end fields a cluster is sent (lower case; a trailing '*' a prefix):
// identify_field() calls field_id::other only those, and field_id::unlisted the rest it has no
// name for.
[[nodiscard]] std::span<const std::string_view> end_to_end_names() noexcept;

// Whether `name` (any case) is one of `names` (lower case; a trailing '*' makes a prefix).
[[nodiscard]] bool name_listed(std::string_view name, std::span<const std::string> names) noexcept;

// Hop-by-hop by name alone (a message's Connection field may name more).
[[nodiscard]] constexpr bool hop_by_hop_id(field_id id) noexcept {
  return id == field_id::transfer_encoding || (id >= field_id::connection && id <= field_id::proxy_other);
}

// Client fields a cluster never sees. Credentials: the client's key is for the gateway, and a
// client must not present another tenant's cluster credentials (clusters get the gateway's own).
// Forwarding fields: the gateway writes its own from the client address it established, so a
// cluster that trusts them cannot be told another address. Sovereign-*: only the gateway writes
// geo-tags. Accept-Encoding: the gateway asks for `identity` itself, since it reads the usage of
// what it relays (a compressed answer would be charged by its compressed size, a stream nothing).
// And the fields the gateway itself sets (Content-Digest and the signature fields too: the
// body may have been redacted, and only the gateway signs what it forwards).
[[nodiscard]] constexpr bool never_forwarded(field_id id) noexcept {
  using enum field_id;
  switch (id) {
    case authorization:
    case proxy_authorization:
    case cookie:
    case x_api_key:
    case api_key:
    case x_auth_token:
    case x_forwarded_for:
    case forwarded:
    case x_real_ip:
    case x_forwarded_host:
    case x_forwarded_port:
    case x_forwarded_proto:
    case x_client_ip:
    case true_client_ip:
    case client_claim:
    case unlisted:
    case host:
    case content_length:
    case expect:
    case accept_encoding:  // the gateway asks for identity: it reads usage from what it relays
    case x_request_id:
    case content_digest:
    case signature:
    case signature_input:
    case sovereign_data_class:
    case sovereign_other:
      return true;
    default:
      return false;
  }
}

}  // namespace sovgw::http
