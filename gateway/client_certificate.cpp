#include "gateway/client_certificate.hpp"

#include <fmt/format.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "classify/fold.hpp"
#include "common/printable.hpp"
#include "policy/countries.hpp"

namespace sovgw::gateway {

namespace {

client_certificate refuse(std::string why) {
  client_certificate c;
  c.status = client_certificate::state::refused;
  c.refusal = std::move(why);
  return c;
}

// An ASN.1 string as UTF-8, whatever its type (UTF8String, BMPString, PrintableString, ...); false
// when it cannot be converted or holds a NUL or invalid UTF-8.
bool utf8_text(const ASN1_STRING* s, std::string& out) {
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) {
    return false;
  }
  out.assign(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out.find('\0') == std::string::npos && tenants::valid_utf8(out);
}

// Whether `text` (valid UTF-8) holds what a reader of a log line or a report cannot see as it
// is: controls (C0, C1, DEL), line and paragraph separators, bidirectional controls, and zero-width
// or other format characters (a name "ac\u200bme" that shows as "acme").
bool hidden_characters(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t n = utf8_sequence_at(text, i, cp);
    if (n == 0 || hidden_from_terminals(cp) || cp == 0x00ad || (cp >= 0x200b && cp <= 0x200f) ||
        (cp >= 0x2060 && cp <= 0x2064) || cp == 0xfeff || cp == 0x180e || (cp >= 0xfff9 && cp <= 0xfffb)) {
      return true;
    }
    i += n;
  }
  return false;
}

// The first character of `text` (valid UTF-8) that a reader sees as another one, as a blank or as
// nothing (a no-break or wide space, a Hangul filler, a combining mark, a fullwidth letter, the
// dotted and dotless i): what the detectors' fold() reads as something else. A CN "acme\u00a0"
// is a tenant that shows as acme in every log line, metric and report (probe round 38).
std::optional<char32_t> shown_as_another(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t n = utf8_sequence_at(text, i, cp);
    if (cp >= 0x80 &&
        (cp == 0x130 || cp == 0x131 || classify::fold_class(cp) != classify::folds_to::itself)) {
      return cp;
    }
    i += n;
  }
  return std::nullopt;
}

// A SAN of IA5String type: printable ASCII, no NUL.
bool ascii_text(const ASN1_IA5STRING* s, std::string& out) {
  const auto* data = ASN1_STRING_get0_data(s);
  const int n = ASN1_STRING_length(s);
  out.assign(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  for (const char c : out) {
    if (c < 0x21 || c > 0x7e) {
      return false;
    }
  }
  return !out.empty();
}

// The subject's country: exactly one C, an assigned ISO 3166-1 alpha-2 code in upper case; else "".
std::string subject_country(const X509_NAME* name) {
  const int at = X509_NAME_get_index_by_NID(name, NID_countryName, -1);
  if (at < 0 || X509_NAME_get_index_by_NID(name, NID_countryName, at) >= 0) {
    return {};
  }
  std::string text;
  if (!utf8_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at)), text) || text.size() != 2 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return {};
  }
  const std::optional<policy::country_id> id = policy::pack_country(text);
  return id && policy::is_assigned_country(*id) ? text : std::string();
}

}  // namespace

client_certificate read_client_certificate(X509* cert) {
  client_certificate c;
  const X509_NAME* name = X509_get_subject_name(cert);
  int at = -1;
  int cns = 0;
  while ((at = X509_NAME_get_index_by_NID(name, NID_commonName, at)) >= 0) {
    if (++cns > 1) {
      return refuse("its subject has more than one CN");
    }
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
    if (!utf8_text(value, c.common_name) || c.common_name.empty()) {
      return refuse("its subject CN is empty, holds a NUL or is not valid text");
    }
    if (hidden_characters(c.common_name)) {
      // The CN names the tenant in log lines, metrics and the report: a line break, a terminal
      // control or a bidi override there would forge what a reader sees (probe round 29).
      return refuse("its subject CN holds a control, invisible or bidirectional character");
    }
    if (c.common_name.front() == ' ' || c.common_name.back() == ' ') {
      return refuse("its subject CN begins or ends with a space, which no log line or report shows");
    }
    if (const std::optional<char32_t> cp = shown_as_another(c.common_name)) {
      return refuse(
          fmt::format("its subject CN holds U+{:04X}, which reads as another character, a blank or "
                      "nothing: the tenant it names would look like another",
                      static_cast<std::uint32_t>(*cp)));
    }
    c.subjects.push_back({tenants::subject_kind::cn, c.common_name, {}});
  }
  using names_ptr = std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)>;
  const names_ptr sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)),
      &GENERAL_NAMES_free);
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    tenants::certificate_subject s;
    const ASN1_IA5STRING* text = nullptr;
    if (gn->type == GEN_DNS) {
      s.kind = tenants::subject_kind::dns;
      text = gn->d.dNSName;
    } else if (gn->type == GEN_EMAIL) {
      s.kind = tenants::subject_kind::email;
      text = gn->d.rfc822Name;
    } else if (gn->type == GEN_URI) {
      s.kind = tenants::subject_kind::uri;
      text = gn->d.uniformResourceIdentifier;
    } else {
      continue;  // IP addresses and other names identify no tenant
    }
    if (!ascii_text(text, s.value)) {
      return refuse("a subject alternative name is empty or holds a NUL, a space or a non-ASCII byte");
    }
    c.subjects.push_back(std::move(s));
  }
  c.country = subject_country(name);
  c.status = client_certificate::state::verified;
  return c;
}

client_certificate read_client_certificate(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) {
    return {};
  }
  return read_client_certificate(cert);
}

}  // namespace sovgw::gateway
