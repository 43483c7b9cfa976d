#include "gateway/field_names.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>

namespace sovgw::http {

namespace {

// Every name the gateway acts on, ordered by length (the lookup scans one length's names).
constexpr known_field names[] = {
    {"te", field_id::te},
    {"host", field_id::host},
    {"proxy", field_id::proxy_other},  // httpoxy: CGI servers read it as HTTP_PROXY
    {"cookie", field_id::cookie},
    {"expect", field_id::expect},
    {"api-key", field_id::api_key},
    {"trailer", field_id::trailer},
    {"upgrade", field_id::upgrade},
    {"forwarded", field_id::forwarded},
    {"signature", field_id::signature},
    {"x-api-key", field_id::x_api_key},
    {"x-real-ip", field_id::x_real_ip},
    {"connection", field_id::connection},
    {"keep-alive", field_id::keep_alive},
    {"x-client-ip", field_id::x_client_ip},
    {"content-type", field_id::content_type},
    {"x-auth-token", field_id::x_auth_token},
    {"x-request-id", field_id::x_request_id},
    {"authorization", field_id::authorization},
    {"content-length", field_id::content_length},
    {"content-digest", field_id::content_digest},
    {"true-client-ip", field_id::true_client_ip},
    {"accept-encoding", field_id::accept_encoding},
    {"idempotency-key", field_id::idempotency_key},
    {"signature-input", field_id::signature_input},
    {"x-forwarded-for", field_id::x_forwarded_for},
    {"content-encoding", field_id::content_encoding},
    {"proxy-connection", field_id::proxy_connection},
    {"x-forwarded-host", field_id::x_forwarded_host},
    {"x-forwarded-port", field_id::x_forwarded_port},
    {"transfer-encoding", field_id::transfer_encoding},
    {"x-forwarded-proto", field_id::x_forwarded_proto},
    {"proxy-authenticate", field_id::proxy_authenticate},
    {"proxy-authorization", field_id::proxy_authorization},
    {"sovereign-data-class", field_id::sovereign_data_class},
};

constexpr std::size_t longest = 20;

// first[n]: the index in `names` of the first name of length n (or later); first[n + 1] ends it.
constexpr std::array<std::size_t, longest + 2> first_of_length = [] {
  std::array<std::size_t, longest + 2> first{};
  std::size_t i = 0;
  for (std::size_t n = 0; n <= longest + 1; ++n) {
    while (i < std::size(names) && names[i].name.size() < n) {
      ++i;
    }
    first[n] = i;
  }
  return first;
}();

static_assert(names[std::size(names) - 1].name.size() == longest);

constexpr bool ordered_by_length() {
  for (std::size_t i = 1; i < std::size(names); ++i) {
    if (names[i - 1].name.size() > names[i].name.size()) {
      return false;
    }
  }
  return true;
}
static_assert(ordered_by_length());

// Names are compared eight bytes at a time: a name's first 24 bytes, ASCII letters lowered, as
// three little-endian words (zero past the end), against the known names' words built the same way.
static_assert(std::endian::native == std::endian::little, "words are built little-endian");
constexpr std::size_t word_bytes = 8;
constexpr std::size_t words = 3;
static_assert(longest <= words * word_bytes);

using name_words = std::array<std::uint64_t, words>;

// The known (lower-case) text's words; `text` at most 24 bytes.
constexpr name_words words_of(std::string_view text) {
  name_words w{};
  for (std::size_t i = 0; i < text.size(); ++i) {
    w[i / word_bytes] |= std::uint64_t{static_cast<unsigned char>(text[i])} << (8 * (i % word_bytes));
  }
  return w;
}

constexpr std::array<name_words, std::size(names)> known_words = [] {
  std::array<name_words, std::size(names)> all{};
  for (std::size_t i = 0; i < std::size(names); ++i) {
    all[i] = words_of(names[i].name);
  }
  return all;
}();

// 'A'-'Z' to 'a'-'z' in every byte of `x`, nothing else changed.
constexpr std::uint64_t lower_ascii(std::uint64_t x) {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t high = 0x8080808080808080ULL;
  const std::uint64_t low7 = x & ~high;
  const std::uint64_t above_z = low7 + ones * (0x7f - 'Z');     // high bit: the 7 bits are > 'Z'
  const std::uint64_t from_a = low7 + ones * (0x80 - 'A');      // high bit: the 7 bits are >= 'A'
  const std::uint64_t upper = (from_a & ~above_z) & ~x & high;  // and the byte is ASCII
  return x | (upper >> 2);                                      // 0x80 >> 2 is the case bit
}

name_words lowered_words(std::string_view name) {
  name_words w{};
  const std::size_t n = name.size() < words * word_bytes ? name.size() : words * word_bytes;
  for (std::size_t k = 0; k * word_bytes < n; ++k) {
    const std::size_t take = n - k * word_bytes < word_bytes ? n - k * word_bytes : word_bytes;
    std::uint64_t x = 0;
    std::memcpy(&x, name.data() + k * word_bytes, take);
    w[k] = lower_ascii(x);
  }
  return w;
}

// Whether the lowered name starts with `prefix` (lower case, its words), `size` bytes of it (< 16).
bool starts_with_words(const name_words& w, const name_words& prefix, std::size_t size) {
  const std::size_t last = (size - 1) / word_bytes;  // the word the prefix ends in
  const std::size_t bytes_in_last = size - last * word_bytes;
  const std::uint64_t mask =
      bytes_in_last == word_bytes ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * bytes_in_last)) - 1;
  return (last == 0 || w[0] == prefix[0]) && (w[last] & mask) == prefix[last];
}

// Fields that front proxies, load balancers and authenticating proxies set, and that servers and
// frameworks behind them honour: client addresses (CF-Connecting-IP, Fastly-Client-IP,
// X-Cluster-Client-IP, ...), the original method or URL (X-HTTP-Method-Override, X-Original-URL,
// X-Rewrite-URL, X-Envoy-Original-Path, X-Forwarded-Prefix), client certificates
// (X-SSL-Client-*, X-Forwarded-Client-Cert, X-ARR-ClientCert) and authenticated identities
// (X-Auth-Request-User, X-MS-Client-Principal, Remote-User, ...), and cloud credentials. A client
// that sends them would have the cluster act on a method, path, address or identity the policy
// never saw. Lower case prefixes.
constexpr std::string_view claim_prefixes[] = {
    "x-forwarded-",
    "x-original-",
    "x-rewrite-url",
    "x-http-method",
    "x-method-override",
    "x-envoy-",
    "x-real-",
    "x-client-",
    "x-ssl-",
    "x-cluster-client-",
    "x-originating-",
    "x-remote-",
    "x-host",
    "x-arr-",
    "x-ms-client-principal",
    "x-ms-token-",
    "x-goog-authenticated-",
    "x-goog-api-key",
    "x-amzn-oidc-",
    "x-amz-security-token",
    "x-auth-request-",
    "x-authenticated-",
    "x-webauth-",
    "x-proxyuser-",
    "x-user",
    "x-functions-key",
    "cf-connecting-",
    "cf-access-",
    "fastly-client-",
    "true-client-",
    "client-ip",
    "ssl-client",
    "remote-user",
    "ocp-apim-subscription-key",
};

// Words that make any field a claim wherever they stand in its name: credentials in the many
// spellings APIs and tools use (X-Authorization, Private-Token, X-Vault-Token, X-Access-Token,
// X-Hasura-Admin-Secret, Api-Key, X-Csrf-Token), identities asserted by API gateways (Kong's
// X-Consumer-*, X-Credential-Identifier, X-Jwt-Assertion, X-Apigateway-Api-Userinfo, X-Tenant-Id,
// X-Forwarded-User), and forwarding claims however spelled (Forwarded-For, X-Forwarded). Lower case.
constexpr std::string_view claim_words[] = {
    "auth",       "token",   "secret",     "passw",     "apikey",          "api-key",     "api_key",
    "access-key", "-key-id", "credential", "jwt",       "assertion",       "principal",   "userinfo",
    "consumer",   "tenant",  "forwarded",  "client-ip", "real-ip",         "remote-addr", "cookie",
    "csrf",       "xsrf",    "impersonat", "-user",     "subscription-key"};
// Whole names (lower case): fields that tell a server the scheme or route the request took
// (Via, X-Url-Scheme, Front-End-Https, Next.js's X-Middleware-Subrequest: CVE-2025-29927). The
// account fields (account_names) are claims too.
constexpr std::string_view claim_names[] = {"via", "x-url-scheme", "x-scheme", "front-end-https",
                                            "x-middleware-subrequest"};

// The fields of the account a cluster is called with (names_upstream_account), lower case: its
// organisation and project, whole names; its rate limits, any name that holds one of the words.
constexpr std::string_view account_names[] = {"openai-organization", "openai-project",
                                              "anthropic-organization-id"};
constexpr std::string_view account_word = "ratelimit";

// Read as a server or proxy that folds case and maps `_`, `.` or `~` to `-` may read it: only its
// letters and digits count (probe round 43: `openai_organization`, `x-rate.limit-remaining` and a
// 140-byte `x-ratelimit-...` were relayed). Any length; no allocation.
bool lower_names_account(std::string_view name) noexcept {
  std::array<char, 32> folded{};
  std::size_t n = 0;
  bool fits = true;
  std::size_t matched = 0;  // of account_word, ending at this character
  for (char c : name) {
    c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      continue;
    }
    fits = fits && n < folded.size();
    if (fits) {
      folded[n++] = c;
    }
    matched = c == account_word[matched] ? matched + 1 : (c == account_word[0] ? 1 : 0);
    if (matched == account_word.size()) {
      return true;
    }
  }
  const std::string_view whole(folded.data(), n);
  return fits && std::any_of(std::begin(account_names), std::end(account_names), [&](std::string_view a) {
           std::size_t i = 0;
           for (char c : a) {
             if (c == '-') {
               continue;
             }
             if (i >= whole.size() || whole[i] != c) {
               return false;
             }
             ++i;
           }
           return i == whole.size();
         });
}

// The end-to-end fields a cluster is sent as the client wrote them (lower case; a trailing '*'
// makes a prefix): what the request's body is and what answer is wanted (Accept*, Content-Language),
// conditional and range requests (a file's content), caching directives, the request's priority,
// a browser's Origin and Referer (a cluster's CORS answer), trace context (W3C, B3, AWS X-Ray,
// Google Cloud, Sentry), and the fields of the OpenAI and Anthropic SDKs
// (OpenAI-Beta, the X-Stainless- fields they send: the SDK's language, platform, version, retry
// count and timeout; anthropic-version and anthropic-beta). Names, not prefixes, where a family has
// a known set: a prefix would let any field through under it (X-Stainless-Portkey-Custom-Host,
// X-B3-Target-Url reached the cluster, probe round 19). The gateway writes Host, Content-Length,
// Accept-Encoding, the forwarding fields, X-Request-Id, the geo-tags and the signature itself.
constexpr std::string_view end_to_end[] = {"accept",
                                           "accept-language",
                                           "accept-charset",
                                           "content-language",
                                           "user-agent",
                                           "cache-control",
                                           "pragma",
                                           "if-match",
                                           "if-none-match",
                                           "if-modified-since",
                                           "if-unmodified-since",
                                           "if-range",
                                           "range",
                                           "priority",
                                           "date",
                                           "origin",
                                           "referer",
                                           "access-control-request-method",
                                           "access-control-request-headers",
                                           "traceparent",
                                           "tracestate",
                                           "baggage",
                                           "b3",
                                           "x-b3-traceid",
                                           "x-b3-spanid",
                                           "x-b3-parentspanid",
                                           "x-b3-sampled",
                                           "x-b3-flags",
                                           "x-amzn-trace-id",
                                           "x-cloud-trace-context",
                                           "sentry-trace",
                                           "openai-beta",
                                           "x-stainless-arch",
                                           "x-stainless-async",
                                           "x-stainless-custom-poll-interval",
                                           "x-stainless-helper-method",
                                           "x-stainless-lang",
                                           "x-stainless-os",
                                           "x-stainless-package-version",
                                           "x-stainless-poll-helper",
                                           "x-stainless-read-timeout",
                                           "x-stainless-retry-count",
                                           "x-stainless-runtime",
                                           "x-stainless-runtime-version",
                                           "x-stainless-timeout",
                                           "anthropic-version",
                                           "anthropic-beta"};

// Whether `lower` (lower case) is `entry` or, for an entry ending in '*', starts with the rest.
bool matches(std::string_view lower, std::string_view entry) {
  return entry.ends_with('*') ? lower.starts_with(entry.substr(0, entry.size() - 1)) : lower == entry;
}

// `name` in ASCII lower case, in `buffer` (no allocation but for names longer than any real
// field's: then in `longer`).
std::string_view lowered_name(std::string_view name, std::array<char, 128>& buffer, std::string& longer) {
  char* lowered = buffer.data();
  if (name.size() > buffer.size()) {
    longer.resize(name.size());
    lowered = longer.data();
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    lowered[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
  }
  return {lowered, name.size()};
}

field_id client_field_uncached(std::string_view name) {
  std::array<char, 128> buffer;
  std::string longer;
  const std::string_view lower = lowered_name(name, buffer, longer);
  const auto in = [&](std::string_view w) { return lower.find(w) != std::string_view::npos; };
  if (std::any_of(std::begin(claim_prefixes), std::end(claim_prefixes),
                  [&](std::string_view p) { return lower.starts_with(p); }) ||
      std::any_of(std::begin(claim_words), std::end(claim_words), in) ||
      std::find(std::begin(claim_names), std::end(claim_names), lower) != std::end(claim_names) ||
      lower_names_account(lower)) {
    return field_id::client_claim;
  }
  return std::any_of(std::begin(end_to_end), std::end(end_to_end),
                     [&](std::string_view e) { return matches(lower, e); })
             ? field_id::other
             : field_id::unlisted;
}

// client_field_uncached reads ~90 words and names in a name (~0.2 us); a client sends the same
// dozen names on every request. So the verdicts of the names seen last are kept per thread: a
// direct-mapped table by the name's words (its first 24 bytes, lowered) and length, checked against
// the name's bytes as sent.
field_id client_field(std::string_view name, const name_words& w) {
  struct slot {
    std::uint8_t size = 0;  // 0: empty
    field_id id = field_id::other;
    std::array<char, 62> name;
  };
  static_assert(sizeof(slot) == 64);
  constexpr unsigned slot_bits = 7;
  thread_local std::array<slot, std::size_t{1} << slot_bits> seen{};
  if (name.size() > std::tuple_size_v<decltype(slot::name)>) {
    return client_field_uncached(name);
  }
  const std::uint64_t h = (w[0] * 0x9E3779B97F4A7C15ULL) ^ (w[1] * 0xC2B2AE3D27D4EB4FULL) ^
                          (w[2] * 0x165667B19E3779F9ULL) ^ name.size();
  slot& s = seen[(h * 0x9E3779B97F4A7C15ULL) >> (64 - slot_bits)];
  if (s.size == name.size() && std::memcmp(s.name.data(), name.data(), name.size()) == 0) {
    return s.id;
  }
  s.id = client_field_uncached(name);
  s.size = static_cast<std::uint8_t>(name.size());
  std::memcpy(s.name.data(), name.data(), name.size());
  return s.id;
}

constexpr std::string_view sovereign_prefix = "sovereign-";
constexpr std::string_view proxy_prefix = "proxy-";
constexpr name_words sovereign_words = words_of(sovereign_prefix);
constexpr name_words proxy_words = words_of(proxy_prefix);

}  // namespace

std::span<const known_field> known_field_names() noexcept { return names; }

std::span<const std::string_view> client_claim_prefixes() noexcept { return claim_prefixes; }

std::span<const std::string_view> client_claim_words() noexcept { return claim_words; }

std::span<const std::string_view> client_claim_names() noexcept { return claim_names; }

std::span<const std::string_view> end_to_end_names() noexcept { return end_to_end; }

std::span<const std::string_view> upstream_account_names() noexcept { return account_names; }

bool names_upstream_account(std::string_view name) noexcept { return lower_names_account(name); }

bool name_listed(std::string_view name, std::span<const std::string> names) noexcept {
  if (names.empty() || name.size() > 128) {
    return false;  // (no listed name is longer: noexcept, no allocation)
  }
  std::array<char, 128> buffer;
  std::string unused;
  const std::string_view lower = lowered_name(name, buffer, unused);
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return matches(lower, n); });
}

field_id identify_field(std::string_view name) noexcept {
  if (name.empty()) {
    return field_id::unlisted;
  }
  const name_words w = lowered_words(name);
  if (name.size() <= longest) {
    for (std::size_t i = first_of_length[name.size()]; i < first_of_length[name.size() + 1]; ++i) {
      if (known_words[i] == w) {
        return names[i].id;
      }
    }
  }
  if (name.size() >= sovereign_prefix.size() &&
      starts_with_words(w, sovereign_words, sovereign_prefix.size())) {
    return field_id::sovereign_other;
  }
  if (name.size() > proxy_prefix.size() && starts_with_words(w, proxy_words, proxy_prefix.size())) {
    return field_id::proxy_other;
  }
  return client_field(name, w);
}

}  // namespace sovgw::http
