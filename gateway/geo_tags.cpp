#include "gateway/geo_tags.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <stdexcept>

#include "common/ascii.hpp"
#include "crypto/blake2b.hpp"
#include "crypto/content_digest.hpp"
#include "crypto/hex.hpp"
#include "crypto/jwk.hpp"
#include "crypto/key_file.hpp"
#include "crypto/signature_profile.hpp"
#include "crypto/structured_field.hpp"

namespace sovgw::gateway {

namespace httpsig = crypto::httpsig;

namespace {

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
    return "sovgw";
  }
  return name;
}

void append_token(std::string& out, std::string_view text) {
  if (crypto::sf::is_valid_token(text)) {
    out += text;
  } else {
    append_sf_text(out, text);  // never for the values the gateway sets; keeps the field valid
  }
}

void append_class_list(std::string& out, std::span<const std::string> classes) {
  out += '(';
  for (std::size_t i = 0; i < classes.size(); ++i) {
    if (i != 0) {
      out += ' ';
    }
    append_sf_text(out, classes[i]);
  }
  out += ')';
}

// Offsets of one field line in the head being built (views are taken once it stops growing).
struct line_span {
  std::size_t name_at, name_size, value_at, value_size;
};

void append_line(std::string& out, std::string_view name, std::vector<line_span>& spans,
                 const auto& write_value) {
  const std::size_t at = out.size();
  out += name;
  out += ": ";
  const std::size_t value_at = out.size();
  write_value(out);
  spans.push_back({at, name.size(), value_at, out.size() - value_at});
  out += "\r\n";
}

// The lines of a pre-built block of "Name: value\r\n" lines, starting at `at`.
void span_lines(std::string_view head, std::size_t at, std::size_t end, std::vector<line_span>& spans) {
  while (at < end) {
    const std::size_t colon = head.find(':', at);
    const std::size_t eol = head.find("\r\n", colon);
    spans.push_back({at, colon - at, colon + 2, eol - colon - 2});
    at = eol + 2;
  }
}

}  // namespace

void append_sf_text(std::string& out, std::string_view text) {
  const std::size_t at = out.size();
  if (crypto::sf::append_string(out, text) == crypto::sf::error::none) {
    return;
  }
  out.resize(at);  // a failed append leaves a partial String behind
  std::string printable;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b <= 0x7e) {
      printable += c;
    } else {
      printable += fmt::format("%{:02X}", b);
    }
  }
  (void)crypto::sf::append_string(out, printable);  // printable now: cannot fail
}

namespace {

// A key file the configuration names at `pos`, its errors at that position and prefixed with the
// key that names it, as every other configuration problem is.
crypto::secret_bytes read_key(const config& cfg, policy::source_pos pos, std::string_view setting,
                              const std::string& path, std::string_view kind) {
  try {
    return crypto::read_secret_key_file(path, kind);
  } catch (const crypto::key_file_error& e) {
    throw config_error(cfg.at(pos, fmt::format("{}: {}", setting, e.what())), true);
  }
}

}  // namespace

geo_tagger::geo_tagger(const config& cfg)
    : lifetime_s_(cfg.signing.lifetime.count() / 1000), sign_receipts_(cfg.signing.receipts) {
  gateway_field_ = "Sovereign-Gateway: ";
  append_sf_text(gateway_field_, cfg.signing.gateway_id.empty() ? host_name() : cfg.signing.gateway_id);
  gateway_field_ += "\r\n";
  if (!cfg.signing.key.empty()) {
    crypto::secret_bytes secret = read_key(cfg, cfg.position("signing.key"), "signing.key", cfg.signing.key,
                                           httpsig::http_signing_key_kind);
    public_key_ = crypto::ed25519_public_from_secret(secret);
    keyid_ = crypto::ed25519_jwk_thumbprint(public_key_);
    // The key it signs with first, then signing.publish's (the next key, the previous ones), each once.
    std::vector<std::string> kids{keyid_};
    jwk_set_ = R"({"keys":[)" + crypto::ed25519_public_jwk(public_key_, keyid_);
    for (const std::string& file : cfg.signing.publish) {
      for (const crypto::public_key_result& k : read_published_keys(file)) {
        if (std::find(kids.begin(), kids.end(), k.kid) == kids.end()) {
          kids.push_back(k.kid);
          jwk_set_ += ',';
          jwk_set_ += crypto::ed25519_public_jwk(k.key, k.kid);
        }
      }
    }
    jwk_set_ += "]}";
    // Keyed from a secret of their own when there is one: the pseudonyms and scopes a cluster keeps
    // state by then outlive a rotation of the signing key (probe round 42).
    static constexpr std::string_view label = "sovgw tenant pseudonym v1";
    const crypto::secret_bytes pseudonym_secret =
        cfg.signing.pseudonym_key.empty()
            ? secret.clone()
            : read_key(cfg, cfg.position("signing.pseudonym_key"), "signing.pseudonym_key",
                       cfg.signing.pseudonym_key, httpsig::pseudonym_key_kind);
    pseudonym_key_ =
        crypto::blake2b(std::span(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()), 32,
                        pseudonym_secret.view());
    key_.emplace(httpsig::signing_key::ed25519(keyid_, std::move(secret)));
  }
  hmac_keys_.reserve(cfg.signing.cluster_hmac_keys.size());
  std::vector<const cluster_hmac_key*> holders;  // of hmac_keys_, by index
  for (const cluster_config& c : cfg.clusters) {
    cluster_tags t;
    t.fields = "Sovereign-Cluster: ";
    append_sf_text(t.fields, c.name);
    t.fields += "\r\nSovereign-Cluster-Country: ";
    append_token(t.fields, c.country);
    t.fields += "\r\n";
    t.key = key_ ? &*key_ : nullptr;
    for (const cluster_hmac_key& k : cfg.signing.cluster_hmac_keys) {
      if (k.cluster == c.name) {
        crypto::secret_bytes secret =
            read_key(cfg, k.pos, fmt::format("signing.cluster_hmac_keys.{}", k.cluster), k.file,
                     httpsig::hmac_key_kind);
        std::string id = httpsig::hmac_keyid(secret);
        // A secret binds a request to its cluster only if no other cluster holds it (the same file
        // or the same bytes: the same keyid, a hash of the secret).
        for (std::size_t i = 0; i < hmac_keys_.size(); ++i) {
          if (hmac_keys_[i].keyid() == id) {
            throw config_error(cfg.at(
                k.pos,
                fmt::format("signing.cluster_hmac_keys.{}: the same hmac-sha256 secret as cluster "
                            "'{}' (line {}, column {}): a request signed for one would verify "
                            "at the other; give each cluster its own (sovgw keys hmac-new)",
                            k.cluster, holders[i]->cluster, holders[i]->pos.line, holders[i]->pos.column)));
          }
        }
        hmac_keys_.push_back(httpsig::signing_key::hmac_sha256(std::move(id), std::move(secret)));
        holders.push_back(&k);
        t.key = &hmac_keys_.back();
      }
    }
    clusters_.push_back(std::move(t));
  }
}

std::optional<std::vector<std::uint8_t>> geo_tagger::tenant_pseudonym(std::string_view tenant) const {
  if (pseudonym_key_.empty()) {
    return std::nullopt;
  }
  return crypto::blake2b(std::span(reinterpret_cast<const std::uint8_t*>(tenant.data()), tenant.size()), 16,
                         pseudonym_key_);
}

void geo_tagger::scoped_idempotency_key(std::string& out, std::string_view tenant,
                                        std::string_view key) const {
  static constexpr std::string_view label = "sovgw idempotency scope v1";
  std::string input(label);
  input += '\0';
  input += tenant;
  std::array<std::uint8_t, 16> scope{};
  crypto::blake2b(std::span(reinterpret_cast<const std::uint8_t*>(input.data()), input.size()), scope,
                  pseudonym_key_);
  // An sf-string is scoped inside its quotes, so it stays one ("<scope>.abc"); the pipeline refused
  // every other form but a bare key (http::read_idempotency_key).
  const bool quoted = key.starts_with('"');
  out = quoted ? "\"" : "";
  out += crypto::to_hex(std::span<const std::uint8_t>(scope.data(), 8));
  out += '.';
  out += quoted ? key.substr(1) : key;
}

bool geo_tagger::tag(std::string& head, request_context& ctx, std::string_view authority,
                     std::span<const httpsig::field_line> forwarded, std::string& why) const {
  const cluster_tags& cluster = clusters_[static_cast<std::size_t>(ctx.cluster)];
  static thread_local std::vector<line_span> spans;
  spans.clear();
  append_line(head, "Sovereign-Request-Id", spans,
              [&](std::string& o) { append_sf_text(o, ctx.request_id); });
  append_line(head, "Sovereign-Client-Country", spans, [&](std::string& o) {
    append_token(o, ctx.client_country);
    o += ";source=";
    append_token(o, ctx.client_country_source);
  });
  append_line(head, "Sovereign-Data-Classes", spans, [&](std::string& o) {
    const std::size_t declared = std::min(ctx.declared_class_count, ctx.data_classes.size());
    o += "declared=";
    append_class_list(o, std::span(ctx.data_classes).first(declared));
    o += ", detected=";
    append_class_list(o, ctx.detected_classes);
  });
  append_line(head, "Sovereign-Decision", spans, [](std::string& o) { o += "permit"; });
  if (!ctx.matched_rules.empty()) {
    append_line(head, "Sovereign-Rules", spans, [&](std::string& o) {
      for (std::size_t i = 0; i < ctx.matched_rules.size(); ++i) {
        o += i == 0 ? "" : ", ";
        append_sf_text(o, ctx.matched_rules[i]);
      }
    });
  }
  append_line(head, "Sovereign-Policy-Version", spans,
              [&](std::string& o) { append_sf_text(o, ctx.policy_version); });
  std::size_t at = head.size();
  head += cluster.fields;
  head += gateway_field_;
  if (!key_) {
    return true;
  }
  span_lines(head, at, head.size(), spans);
  if (auto pseudonym = tenant_pseudonym(ctx.tenant)) {
    append_line(head, "Sovereign-Tenant", spans,
                [&](std::string& o) { (void)crypto::sf::append_bare_item(o, *pseudonym); });
  }
  std::string digest;
  if (!ctx.body.empty()) {
    digest = crypto::content_digest(ctx.body);
    append_line(head, "Content-Digest", spans, [&](std::string& o) { o += digest; });
  }
  static thread_local std::vector<httpsig::field_line> fields;
  fields.assign(forwarded.begin(), forwarded.end());
  const std::string_view h = head;
  for (const line_span& s : spans) {
    fields.push_back({h.substr(s.name_at, s.name_size), h.substr(s.value_at, s.value_size)});
  }
  httpsig::message_view view;
  view.method = ctx.head.method;
  view.authority = authority;
  view.set_target(ctx.head.target);
  view.fields = fields;
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  httpsig::sign_result s =
      httpsig::sign_forwarded_request(view, *cluster.key, {now, lifetime_s_, httpsig::make_nonce()});
  if (!s.ok()) {
    why = fmt::format("the request cannot be signed: {} ({})", httpsig::to_string(s.error), s.component);
    return false;
  }
  head += "Signature-Input: ";
  head += s.fields.signature_input;
  head += "\r\nSignature: ";
  head += s.fields.signature;
  head += "\r\n";
  ctx.signature_keyid = cluster.key->keyid();
  ctx.forwarded_digest = std::move(digest);
  return true;
}

void geo_tagger::append_receipt(std::string& head, const request_context& ctx, int status) const {
  static thread_local std::vector<line_span> spans;
  spans.clear();
  append_line(head, "Sovereign-Request-Id", spans,
              [&](std::string& o) { append_sf_text(o, ctx.request_id); });
  // The audit record's word for it: the auditor checks one against the other.
  append_line(head, "Sovereign-Decision", spans, [&](std::string& o) { o += ctx.decision(true); });
  append_line(head, "Sovereign-Policy-Version", spans,
              [&](std::string& o) { append_sf_text(o, ctx.policy_version); });
  const bool sign = key_ && sign_receipts_;
  if (ctx.cluster >= 0) {
    const std::size_t from = head.size();
    head += clusters_[static_cast<std::size_t>(ctx.cluster)].fields;
    if (sign) {
      span_lines(head, from, head.size(), spans);
    }
  }
  if (!sign) {
    return;
  }
  static thread_local std::vector<httpsig::field_line> response_fields;
  static thread_local std::vector<httpsig::field_line> request_fields;
  response_fields.clear();
  const std::string_view h = head;
  for (const line_span& s : spans) {
    response_fields.push_back({h.substr(s.name_at, s.name_size), h.substr(s.value_at, s.value_size)});
  }
  request_fields.clear();
  for (const http::field& f : ctx.head.fields) {
    request_fields.push_back({f.name, f.value});
  }
  // No request line read (400 malformed, 408, 414, 431 by bytes): an empty method, and a receipt
  // bound to no request (crypto/signature_profile.hpp). So too for a request line or head refused
  // before its method, target and host were all read as a client sends them (probe round 43: a
  // receipt bound to an empty host, or to a lower-case method, could never be checked).
  const bool whole = !ctx.head.host.empty() && !ctx.head.target.empty() &&
                     std::all_of(ctx.head.method.begin(), ctx.head.method.end(),
                                 [](char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; });
  httpsig::message_view response;
  response.status = status;
  response.fields = response_fields;
  httpsig::message_view request;
  request.method = whole ? ctx.head.method : std::string_view();
  request.authority = ctx.head.host;
  request.set_target(ctx.head.target);
  request.fields = request_fields;
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  httpsig::sign_result s = httpsig::sign_receipt(response, request, *key_, now);
  if (!s.ok()) {
    return;  // e.g. a client Content-Digest that is not ASCII: the fields go out unsigned
  }
  head += "Signature-Input: ";
  head += s.fields.signature_input;
  head += "\r\nSignature: ";
  head += s.fields.signature;
  head += "\r\n";
}

bool is_replaced_geo_tag(std::string_view name) {
  static constexpr std::string_view names[] = {
      "sovereign-request-id",      "sovereign-client-country", "sovereign-decision",
      "sovereign-rules",           "sovereign-policy-version", "sovereign-cluster",
      "sovereign-cluster-country", "sovereign-gateway",        "sovereign-tenant"};
  return std::any_of(std::begin(names), std::end(names),
                     [&](std::string_view n) { return ascii_iequals(name, n); });
}

}  // namespace sovgw::gateway
