#include "crypto/http_signature.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

#include "common/ascii.hpp"
#include "crypto/hex.hpp"

namespace sovgw::crypto::httpsig {

namespace {

constexpr std::string_view signature_params_line = "\"@signature-params\": ";

constexpr structured_field builtin_structured_fields[] = {
    {"accept-signature", sf_type::dictionary}, {"content-digest", sf_type::dictionary},
    {"repr-digest", sf_type::dictionary},      {"signature", sf_type::dictionary},
    {"signature-input", sf_type::dictionary},  {"want-content-digest", sf_type::dictionary},
    {"want-repr-digest", sf_type::dictionary},
};

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) { return ascii_iequals(a, b); }

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v;
}

bool is_field_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) {
      return false;
    }
  }
  return true;
}

enum class derived : std::uint8_t {
  method,
  target_uri,
  authority,
  scheme,
  request_target,
  path,
  query,
  query_param,
  status
};

std::optional<derived> derived_from_name(std::string_view name) {
  static constexpr std::pair<std::string_view, derived> names[] = {
      {"@method", derived::method},
      {"@target-uri", derived::target_uri},
      {"@authority", derived::authority},
      {"@scheme", derived::scheme},
      {"@request-target", derived::request_target},
      {"@path", derived::path},
      {"@query", derived::query},
      {"@query-param", derived::query_param},
      {"@status", derived::status},
  };
  for (const auto& [n, d] : names) {
    if (n == name) {
      return d;
    }
  }
  return std::nullopt;
}

std::optional<sf_type> type_of(std::string_view name, const base_context& context) {
  for (const auto& f : context.structured_fields) {
    if (f.name == name) {
      return f.type;
    }
  }
  for (const auto& f : builtin_structured_fields) {
    if (f.name == name) {
      return f.type;
    }
  }
  return std::nullopt;
}

std::string lower_scheme(std::string_view scheme) {
  std::string out(scheme);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

// RFC 9110 section 4.2.3: lower-case host, no default port.
std::string normalized_authority(const message_view& m) {
  std::string out(m.authority);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  const std::string scheme = lower_scheme(m.scheme);
  const std::string_view default_port = scheme == "https" ? ":443" : scheme == "http" ? ":80" : "";
  if (!default_port.empty() && out.size() > default_port.size() && out.ends_with(default_port)) {
    out.resize(out.size() - default_port.size());
  }
  return out;
}

std::string_view path_of(const message_view& m) { return m.path.empty() ? std::string_view("/") : m.path; }

// application/x-www-form-urlencoded parsing of one name or value (WHATWG URL, section 5.1).
std::string form_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto escaped = in[i] == '%' && i + 2 < in.size() ? from_hex(in.substr(i + 1, 2)) : std::nullopt;
    if (escaped) {
      out += static_cast<char>(escaped->front());
      i += 2;
    } else {
      out += in[i] == '+' ? ' ' : in[i];
    }
  }
  return out;
}

// "percent-encode after encoding" with the application/x-www-form-urlencoded percent-encode set:
// everything but ASCII alphanumerics and *-._ (RFC 9421 section 2.2.8).
std::string form_encode(std::string_view in) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '*' || c == '-' ||
        c == '.' || c == '_') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The value of one named query parameter, encoded; nullopt when absent or repeated.
std::optional<std::string> query_param(std::string_view query, std::string_view encoded_name) {
  std::optional<std::string> found;
  int count = 0;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) {
      continue;
    }
    const std::size_t eq = piece.find('=');
    const std::string_view name = piece.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
    if (form_encode(form_decode(name)) == encoded_name) {
      ++count;
      found = form_encode(form_decode(value));
    }
  }
  return count == 1 ? found : std::nullopt;
}

bool valid_derived_value(std::string_view v) {
  if (!v.empty() && (v.front() == ' ' || v.back() == ' ')) {
    return false;
  }
  return std::all_of(v.begin(), v.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

class base_builder {
 public:
  base_builder(const message_view& target, const base_context& context)
      : target_(target), context_(context) {}

  base_error append(const component& c, std::string& out) {
    if (c.name.empty() || c.name == "@signature-params") {
      return base_error::bad_component;
    }
    const bool req = c.has_flag("req");
    if (req && !target_.is_response()) {
      return base_error::req_in_request;
    }
    if (req && context_.request == nullptr) {
      return base_error::no_request;
    }
    const message_view& source = req ? *context_.request : target_;
    const std::size_t start = out.size();
    if (sf::append_string(out, c.name) != sf::error::none ||
        sf::append_parameters(out, c.params) != sf::error::none) {
      return base_error::bad_component;
    }
    out += ": ";
    const base_error e =
        c.name.front() == '@' ? append_derived(c, source, out) : append_field(c, source, out);
    if (e != base_error::none) {
      out.resize(start);
      return e;
    }
    out += '\n';
    return base_error::none;
  }

 private:
  static base_error check_params(const component& c, std::initializer_list<std::string_view> flags,
                                 std::initializer_list<std::string_view> strings) {
    for (const auto& p : c.params) {
      const bool is_flag = std::find(flags.begin(), flags.end(), p.key) != flags.end();
      const bool is_string = std::find(strings.begin(), strings.end(), p.key) != strings.end();
      const bool* b = std::get_if<bool>(&p.value);
      if (is_flag && b != nullptr && *b) {
        continue;
      }
      if (is_string && std::holds_alternative<std::string>(p.value)) {
        continue;
      }
      return base_error::unknown_parameter;
    }
    return base_error::none;
  }

  base_error append_derived(const component& c, const message_view& m, std::string& out) {
    const auto kind = derived_from_name(c.name);
    if (!kind) {
      return base_error::unknown_derived_component;
    }
    if (const base_error e = check_params(c, {"req"}, {*kind == derived::query_param ? "name" : ""});
        e != base_error::none) {
      return e;
    }
    if ((*kind == derived::status) != m.is_response()) {
      return base_error::not_for_this_message;
    }
    std::string value;
    switch (*kind) {
      case derived::method:
        value = m.method;
        break;
      case derived::target_uri:
        value = lower_scheme(m.scheme) + "://" + normalized_authority(m) + std::string(path_of(m));
        if (m.query) {
          value += '?';
          value += *m.query;
        }
        break;
      case derived::authority:
        value = normalized_authority(m);
        break;
      case derived::scheme:
        value = lower_scheme(m.scheme);
        break;
      case derived::request_target:
        value = path_of(m);
        if (m.query) {
          value += '?';
          value += *m.query;
        }
        break;
      case derived::path:
        value = path_of(m);
        break;
      case derived::query:
        value = "?";
        value += m.query.value_or("");
        break;
      case derived::query_param: {
        const sf::bare_item* name = sf::find(c.params, "name");
        if (name == nullptr) {
          return base_error::unknown_parameter;
        }
        auto v = query_param(m.query.value_or(""), std::get<std::string>(*name));
        if (!v) {
          return base_error::query_param_missing;
        }
        value = std::move(*v);
        break;
      }
      case derived::status:
        if (m.status < 100 || m.status > 999) {
          return base_error::invalid_value;
        }
        value = std::to_string(m.status);
        break;
    }
    if (!valid_derived_value(value)) {
      return base_error::invalid_value;
    }
    out += value;
    return base_error::none;
  }

  base_error append_field(const component& c, const message_view& m, std::string& out) {
    if (!is_field_name(c.name)) {
      return base_error::bad_component;
    }
    if (const base_error e = check_params(c, {"sf", "bs", "req"}, {"key"}); e != base_error::none) {
      return e;
    }
    const bool bs = c.has_flag("bs");
    const sf::bare_item* key = sf::find(c.params, "key");
    if (bs && (key != nullptr || c.has_flag("sf"))) {
      return base_error::incompatible_parameters;
    }
    if (bs) {
      bool any = false;
      for (const auto& f : m.fields) {
        if (iequals(f.name, c.name)) {
          const std::string_view v = trim_ows(f.value);
          out += any ? ", " : "";
          (void)sf::append_bare_item(out, sf::byte_sequence(v.begin(), v.end()));
          any = true;
        }
      }
      return any ? base_error::none : base_error::field_missing;
    }
    if (key == nullptr && !c.has_flag("sf")) {
      return append_combined(m.fields, c.name, out) ? base_error::none : base_error::field_missing;
    }
    auto combined = combined_field(m.fields, c.name);
    if (!combined) {
      return base_error::field_missing;
    }
    if (key != nullptr) {
      auto dict = sf::parse_dictionary(*combined);
      if (!dict.ok()) {
        return base_error::field_not_structured;
      }
      const sf::member* member = sf::find(dict.value(), std::get<std::string>(*key));
      if (member == nullptr) {
        return base_error::dictionary_key_missing;
      }
      return sf::append_member(out, *member) == sf::error::none ? base_error::none
                                                                : base_error::field_not_structured;
    }
    return append_structured(c.name, *combined, out);
  }

  // Section 2.1: the field lines' values, trimmed, joined with ", ", written straight into `out`.
  static bool append_combined(std::span<const field_line> fields, std::string_view name, std::string& out) {
    bool any = false;
    for (const auto& f : fields) {
      if (iequals(f.name, name)) {
        if (any) {
          out += ", ";
        }
        out += trim_ows(f.value);
        any = true;
      }
    }
    return any;
  }

  base_error append_structured(std::string_view name, std::string_view value, std::string& out) {
    const auto type = type_of(name, context_);
    if (!type) {
      return base_error::field_not_structured;
    }
    sf::result<std::string> text = sf::failure{};
    if (*type == sf_type::item) {
      auto v = sf::parse_item(value);
      text = v.ok() ? sf::serialize(v.value()) : sf::result<std::string>(v.why());
    } else if (*type == sf_type::list) {
      auto v = sf::parse_list(value);
      text = v.ok() ? sf::serialize(v.value()) : sf::result<std::string>(v.why());
    } else {
      auto v = sf::parse_dictionary(value);
      text = v.ok() ? sf::serialize(v.value()) : sf::result<std::string>(v.why());
    }
    if (!text.ok()) {
      return base_error::field_not_structured;
    }
    out += text.value();
    return base_error::none;
  }

  const message_view& target_;
  const base_context& context_;
};

// The index of the first byte above 0x7F, or npos. Eight bytes at a time: the check runs over
// every signature base (~1 KB per forwarded request) and was a quarter of building it.
std::size_t first_non_ascii(std::string_view s) {
  constexpr std::uint64_t high_bits = 0x8080808080808080ULL;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, s.data() + i, 8);
    if ((word & high_bits) != 0) {
      break;
    }
  }
  for (; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) > 0x7F) {
      return i;
    }
  }
  return std::string_view::npos;
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::array<std::uint8_t, crypto_auth_hmacsha256_BYTES> compute_hmac(const secret_bytes& key,
                                                                    std::string_view text) {
  ensure_sodium();
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data(), key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::array<std::uint8_t, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_final(&state, mac.data());
  sodium_memzero(&state, sizeof state);
  return mac;
}

// The typed view of a received Signature-Input member; false when a known parameter has the wrong
// type or a covered component is not a String.
bool read_params(const sf::inner_list& input, signature_params& out, std::string& detail) {
  for (const auto& i : input.items) {
    const auto* name = std::get_if<std::string>(&i.value);
    if (name == nullptr) {
      detail = "covered component that is not a String";
      return false;
    }
    out.covered.push_back({*name, i.params});
  }
  for (const auto& p : input.params) {
    const auto* integer = std::get_if<std::int64_t>(&p.value);
    const auto* text = std::get_if<std::string>(&p.value);
    bool ok = true;
    if (p.key == "created" || p.key == "expires") {
      ok = integer != nullptr;
      if (ok) {
        (p.key == "created" ? out.created : out.expires) = *integer;
      }
    } else if (p.key == "keyid" || p.key == "alg" || p.key == "nonce" || p.key == "tag") {
      ok = text != nullptr;
      if (ok) {
        (p.key == "keyid"   ? out.keyid
         : p.key == "alg"   ? out.alg
         : p.key == "nonce" ? out.nonce
                            : out.tag) = *text;
      }
    }
    if (!ok) {
      detail = p.key;
      return false;
    }
  }
  return true;
}

verify_result failed(verify_failure f, std::string detail) {
  verify_result r;
  r.failure = f;
  r.detail = std::move(detail);
  return r;
}

bool has_tag(const sf::dictionary_member& m, std::string_view wanted) {
  const auto* l = std::get_if<sf::inner_list>(&m.value);
  const sf::bare_item* tag = l != nullptr ? sf::find(l->params, "tag") : nullptr;
  const auto* text = tag != nullptr ? std::get_if<std::string>(tag) : nullptr;
  return text != nullptr && *text == wanted;
}

// Section 3.2 step 1: choose the signature to verify.
const sf::dictionary_member* choose(const sf::dictionary& inputs, const verify_options& options) {
  for (const auto& m : inputs) {
    if (!options.label.empty()) {
      if (m.key == options.label) {
        return &m;
      }
      continue;
    }
    if (options.tag.empty() || has_tag(m, options.tag)) {
      return &m;
    }
  }
  return nullptr;
}

// Whether another signature could be the one meant: `label` repeated in either field, or, when
// the signature was chosen by its tag, a second one with that tag.
bool ambiguous(const sf::dictionary& inputs, const std::vector<std::string>& repeated_inputs,
               const std::vector<std::string>& repeated_signatures, std::string_view label,
               const verify_options& options) {
  const auto repeats = [&](const std::vector<std::string>& keys) {
    return std::find(keys.begin(), keys.end(), label) != keys.end();
  };
  if (repeats(repeated_inputs) || repeats(repeated_signatures)) {
    return true;
  }
  return options.label.empty() && !options.tag.empty() &&
         std::count_if(inputs.begin(), inputs.end(),
                       [&](const sf::dictionary_member& m) { return has_tag(m, options.tag); }) > 1;
}

std::optional<verify_result> check_time(const signature_params& p, const verify_options& o) {
  if (!p.created && o.require_created) {
    return failed(verify_failure::missing_created, "created");
  }
  if (!o.now || (!o.max_age && !p.expires && !p.created)) {
    return std::nullopt;
  }
  const std::int64_t now = o.now();
  if (p.created && *p.created > now + o.max_skew) {
    return failed(verify_failure::created_in_future, std::to_string(*p.created));
  }
  if (p.created && o.max_age && now - *p.created > *o.max_age) {
    return failed(verify_failure::too_old, std::to_string(*p.created));
  }
  if (p.expires && now > *p.expires + o.max_skew) {
    return failed(verify_failure::expired, std::to_string(*p.expires));
  }
  return std::nullopt;
}

}  // namespace

void message_view::set_target(std::string_view target) {
  const std::size_t q = target.find('?');
  path = target.substr(0, q);
  query = q == std::string_view::npos ? std::nullopt : std::optional(target.substr(q + 1));
}

component component::field(std::string_view name) {
  component c{std::string(name), {}};
  std::transform(c.name.begin(), c.name.end(), c.name.begin(), lower);
  return c;
}

component component::derived(std::string_view name) { return {std::string(name), {}}; }

component& component::req() {
  sf::set(params, "req", true);
  return *this;
}
component& component::sf() {
  sf::set(params, "sf", true);
  return *this;
}
component& component::bs() {
  sf::set(params, "bs", true);
  return *this;
}
component& component::key(std::string member_key) {
  sf::set(params, "key", std::move(member_key));
  return *this;
}
component& component::query_name(std::string query_name) {
  sf::set(params, "name", std::move(query_name));
  return *this;
}

bool component::has_flag(std::string_view flag) const {
  const sf::bare_item* v = sf::find(params, flag);
  const bool* b = v != nullptr ? std::get_if<bool>(v) : nullptr;
  return b != nullptr && *b;
}

bool component::same_as(const component& other) const {
  if (name != other.name || params.size() != other.params.size()) {
    return false;
  }
  return std::all_of(params.begin(), params.end(), [&](const sf::parameter& p) {
    const sf::bare_item* v = sf::find(other.params, p.key);
    return v != nullptr && *v == p.value;
  });
}

std::string component::identifier() const {
  std::string out;
  (void)sf::append_string(out, name);
  (void)sf::append_parameters(out, params);
  return out;
}

const char* to_string(base_error e) {
  switch (e) {
    case base_error::none:
      return "none";
    case base_error::duplicate_component:
      return "duplicate_component";
    case base_error::bad_component:
      return "bad_component";
    case base_error::unknown_derived_component:
      return "unknown_derived_component";
    case base_error::unknown_parameter:
      return "unknown_parameter";
    case base_error::incompatible_parameters:
      return "incompatible_parameters";
    case base_error::req_in_request:
      return "req_in_request";
    case base_error::no_request:
      return "no_request";
    case base_error::not_for_this_message:
      return "not_for_this_message";
    case base_error::field_missing:
      return "field_missing";
    case base_error::field_not_structured:
      return "field_not_structured";
    case base_error::dictionary_key_missing:
      return "dictionary_key_missing";
    case base_error::query_param_missing:
      return "query_param_missing";
    case base_error::invalid_value:
      return "invalid_value";
    case base_error::not_ascii:
      return "not_ascii";
    case base_error::unserializable_params:
      return "unserializable_params";
  }
  return "unknown";
}

std::optional<std::string> combined_field(std::span<const field_line> fields, std::string_view name) {
  std::optional<std::string> out;
  for (const auto& f : fields) {
    if (iequals(f.name, name)) {
      if (out) {
        *out += ", ";
      } else {
        out.emplace();
      }
      *out += trim_ows(f.value);
    }
  }
  return out;
}

base_result signature_base(const message_view& message, std::span<const component> covered,
                           std::string_view signature_params_value, const base_context& context) {
  base_result r;
  base_builder builder(message, context);
  r.base.reserve(64 * (covered.size() + 1) + signature_params_value.size());
  for (std::size_t i = 0; i < covered.size(); ++i) {
    const component& c = covered[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (covered[j].same_as(c)) {
        r.error = base_error::duplicate_component;
      }
    }
    if (r.error == base_error::none) {
      r.error = builder.append(c, r.base);
    }
    if (r.error != base_error::none) {
      r.component = c.identifier();
      r.base.clear();
      return r;
    }
  }
  r.base += signature_params_line;
  r.base += signature_params_value;
  const std::size_t i = first_non_ascii(r.base);
  if (i != std::string::npos) {
    r.error = base_error::not_ascii;
    const std::size_t line = r.base.rfind('\n', i);
    const std::size_t start = line == std::string::npos ? 0 : line + 1;
    r.component = r.base.substr(start, r.base.find(':', start) - start);
    r.base.clear();
  }
  return r;
}

sf::result<std::string> serialize_params(const signature_params& params) {
  // The Inner List of section 2.3, written directly (no intermediate sf::inner_list copy).
  std::string out;
  out.reserve(32 * params.covered.size() + 160);
  out += '(';
  sf::error e = sf::error::none;
  for (std::size_t i = 0; i < params.covered.size() && e == sf::error::none; ++i) {
    if (i > 0) {
      out += ' ';
    }
    e = sf::append_string(out, params.covered[i].name);
    if (e == sf::error::none) {
      e = sf::append_parameters(out, params.covered[i].params);
    }
  }
  out += ')';
  const auto integer = [&](const char* key, const std::optional<std::int64_t>& v) {
    if (v && e == sf::error::none) {
      out += ';';
      out += key;
      out += '=';
      e = sf::append_bare_item(out, *v);
    }
  };
  const auto string = [&](const char* key, const std::optional<std::string>& v) {
    if (v && e == sf::error::none) {
      out += ';';
      out += key;
      out += '=';
      e = sf::append_string(out, *v);
    }
  };
  integer("created", params.created);
  integer("expires", params.expires);
  string("keyid", params.keyid);
  string("alg", params.alg);
  string("nonce", params.nonce);
  string("tag", params.tag);
  if (e != sf::error::none) {
    return sf::failure{e, 0};
  }
  return out;
}

std::string_view to_string(algorithm alg) { return alg == algorithm::ed25519 ? "ed25519" : "hmac-sha256"; }

std::optional<algorithm> algorithm_from_string(std::string_view name) {
  if (name == "ed25519") {
    return algorithm::ed25519;
  }
  if (name == "hmac-sha256") {
    return algorithm::hmac_sha256;
  }
  return std::nullopt;
}

signing_key signing_key::ed25519(std::string keyid, secret_bytes secret_key) {
  if (secret_key.size() != ed25519_secret_key_size) {
    throw std::invalid_argument("an Ed25519 signing key must be 64 bytes");
  }
  return {algorithm::ed25519, std::move(keyid), std::move(secret_key)};
}

signing_key signing_key::hmac_sha256(std::string keyid, secret_bytes secret) {
  if (secret.size() < hmac_min_secret_size) {
    throw std::invalid_argument("an hmac-sha256 secret must be at least 32 bytes");
  }
  return {algorithm::hmac_sha256, std::move(keyid), std::move(secret)};
}

std::vector<std::uint8_t> signing_key::sign(std::string_view base) const {
  if (alg_ == algorithm::ed25519) {
    const ed25519_signature sig = ed25519_sign(secret_, bytes_of(base));
    return {sig.begin(), sig.end()};
  }
  const auto mac = compute_hmac(secret_, base);
  return {mac.begin(), mac.end()};
}

verification_key verification_key::ed25519(std::string keyid, const ed25519_public_key& public_key) {
  verification_key k(algorithm::ed25519, std::move(keyid));
  k.public_key_ = public_key;
  return k;
}

verification_key verification_key::hmac_sha256(std::string keyid, secret_bytes secret) {
  if (secret.size() < hmac_min_secret_size) {
    throw std::invalid_argument("an hmac-sha256 secret must be at least 32 bytes");
  }
  verification_key k(algorithm::hmac_sha256, std::move(keyid));
  k.secret_ = std::move(secret);
  return k;
}

bool verification_key::verify(std::string_view base, std::span<const std::uint8_t> signature) const {
  if (alg_ == algorithm::ed25519) {
    return ed25519_verify(public_key_, bytes_of(base), signature);
  }
  const auto mac = compute_hmac(secret_, base);
  return signature.size() == mac.size() && sodium_memcmp(signature.data(), mac.data(), mac.size()) == 0;
}

sign_result sign(const message_view& message, std::string_view label, const signature_params& params,
                 const signing_key& key, const base_context& context) {
  if (!sf::is_valid_key(label)) {
    throw std::invalid_argument("a signature label must be a structured field key");
  }
  if (params.alg && algorithm_from_string(*params.alg) != key.alg()) {
    throw std::invalid_argument("the alg parameter does not name the signing key's algorithm");
  }
  sign_result r;
  auto value = serialize_params(params);
  if (!value.ok()) {
    r.error = base_error::unserializable_params;
    r.component = sf::describe(value.why().code);
    return r;
  }
  base_result base = signature_base(message, params.covered, value.value(), context);
  if (!base.ok()) {
    r.error = base.error;
    r.component = std::move(base.component);
    return r;
  }
  const std::vector<std::uint8_t> sig = key.sign(base.base);
  r.fields.signature_input.reserve(label.size() + 1 + value.value().size());
  r.fields.signature_input += label;
  r.fields.signature_input += '=';
  r.fields.signature_input += value.value();
  r.fields.signature += label;
  r.fields.signature += '=';
  (void)sf::append_bare_item(r.fields.signature, sf::byte_sequence(sig.begin(), sig.end()));
  return r;
}

const char* to_string(verify_failure f) {
  switch (f) {
    case verify_failure::none:
      return "ok";
    case verify_failure::missing_signature:
      return "missing_signature";
    case verify_failure::malformed_signature_input:
      return "malformed_signature_input";
    case verify_failure::malformed_signature:
      return "malformed_signature";
    case verify_failure::missing_signature_value:
      return "missing_signature_value";
    case verify_failure::ambiguous_signature:
      return "ambiguous_signature";
    case verify_failure::unknown_key:
      return "unknown_key";
    case verify_failure::algorithm_mismatch:
      return "algorithm_mismatch";
    case verify_failure::missing_created:
      return "missing_created";
    case verify_failure::created_in_future:
      return "created_in_future";
    case verify_failure::too_old:
      return "too_old";
    case verify_failure::expired:
      return "expired";
    case verify_failure::missing_nonce:
      return "missing_nonce";
    case verify_failure::tag_mismatch:
      return "tag_mismatch";
    case verify_failure::missing_required_component:
      return "missing_required_component";
    case verify_failure::component_unavailable:
      return "component_unavailable";
    case verify_failure::bad_signature:
      return "bad_signature";
    case verify_failure::replayed_nonce:
      return "replayed_nonce";
    case verify_failure::nonce_unverifiable:
      return "nonce_unverifiable";
    case verify_failure::uncovered_field:
      return "uncovered_field";
    case verify_failure::repeated_field:
      return "repeated_field";
    case verify_failure::content_digest_missing:
      return "content_digest_missing";
    case verify_failure::content_digest_mismatch:
      return "content_digest_mismatch";
    case verify_failure::content_digest_malformed:
      return "content_digest_malformed";
    case verify_failure::wrong_cluster:
      return "wrong_cluster";
  }
  return "unknown";
}

verify_result verify(const message_view& message, const verify_options& options) {
  const auto input_text = combined_field(message.fields, "signature-input");
  const auto signature_text = combined_field(message.fields, "signature");
  if (!input_text || !signature_text) {
    return failed(verify_failure::missing_signature, !input_text ? "Signature-Input" : "Signature");
  }
  std::vector<std::string> repeated_inputs;
  const auto inputs = sf::parse_dictionary(*input_text, repeated_inputs);
  if (!inputs.ok()) {
    return failed(verify_failure::malformed_signature_input, sf::describe(inputs.why().code));
  }
  std::vector<std::string> repeated_signatures;
  const auto signatures = sf::parse_dictionary(*signature_text, repeated_signatures);
  if (!signatures.ok()) {
    return failed(verify_failure::malformed_signature, sf::describe(signatures.why().code));
  }
  const sf::dictionary_member* chosen = choose(inputs.value(), options);
  if (chosen == nullptr) {
    return failed(verify_failure::missing_signature, !options.label.empty() ? options.label : options.tag);
  }
  if (ambiguous(inputs.value(), repeated_inputs, repeated_signatures, chosen->key, options)) {
    return failed(verify_failure::ambiguous_signature, chosen->key);
  }
  const auto* input = std::get_if<sf::inner_list>(&chosen->value);
  verify_result r;
  r.label = chosen->key;
  std::string detail;
  if (input == nullptr || !read_params(*input, r.params, detail)) {
    return failed(verify_failure::malformed_signature_input, input == nullptr ? chosen->key : detail);
  }
  const sf::member* sig_member = sf::find(signatures.value(), chosen->key);
  if (sig_member == nullptr) {
    return failed(verify_failure::missing_signature_value, chosen->key);
  }
  const auto* sig_item = std::get_if<sf::item>(sig_member);
  const auto* sig = sig_item != nullptr ? std::get_if<sf::byte_sequence>(&sig_item->value) : nullptr;
  if (sig == nullptr) {
    return failed(verify_failure::malformed_signature, chosen->key);
  }
  if (!options.tag.empty() && r.params.tag != options.tag) {
    return failed(verify_failure::tag_mismatch, r.params.tag.value_or(""));
  }
  const verification_key* key = r.params.keyid ? options.resolve_key(*r.params.keyid) : nullptr;
  if (key == nullptr) {
    return failed(verify_failure::unknown_key, r.params.keyid.value_or("no keyid"));
  }
  if (r.params.alg && algorithm_from_string(*r.params.alg) != key->alg()) {
    return failed(verify_failure::algorithm_mismatch, *r.params.alg);
  }
  if (sig->size() !=
      (key->alg() == algorithm::ed25519 ? ed25519_signature_size : crypto_auth_hmacsha256_BYTES)) {
    return failed(verify_failure::malformed_signature, chosen->key);  // no key could sign that
  }
  if (auto t = check_time(r.params, options)) {
    return *t;
  }
  if (options.require_nonce && !r.params.nonce) {
    return failed(verify_failure::missing_nonce, "nonce");
  }
  for (const auto& need : options.required) {
    if (std::none_of(r.params.covered.begin(), r.params.covered.end(),
                     [&](const component& c) { return c.same_as(need); })) {
      return failed(verify_failure::missing_required_component, need.identifier());
    }
  }
  // Section 3.2 step 7: @signature-params is the received member, strictly re-serialized.
  const auto params_value = sf::serialize(*input);
  if (!params_value.ok()) {
    return failed(verify_failure::malformed_signature_input, sf::describe(params_value.why().code));
  }
  const base_result base = signature_base(message, r.params.covered, params_value.value(), options.context);
  if (!base.ok()) {
    verify_result f = failed(verify_failure::component_unavailable, base.component);
    f.base = base.error;
    f.params = std::move(r.params);  // what the signature covers: says which part is missing
    return f;
  }
  if (!key->verify(base.base, *sig)) {
    r.failure = verify_failure::bad_signature;  // keeps the params: what the signature covers
    r.detail = chosen->key;
    return r;
  }
  if (r.params.nonce && options.check_nonce) {
    const nonce_check n = options.check_nonce(key->keyid(), *r.params.nonce, r.params.created.value_or(0));
    if (n != nonce_check::fresh) {
      return failed(
          n == nonce_check::replayed ? verify_failure::replayed_nonce : verify_failure::nonce_unverifiable,
          *r.params.nonce);
    }
  }
  return r;
}

}  // namespace sovgw::crypto::httpsig
