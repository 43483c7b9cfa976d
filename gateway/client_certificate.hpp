#pragma once

// What a verified client certificate says about who the client is, read strictly: the subject's
// single CN (any ASN.1 string type, converted to UTF-8) and the DNS, email and URI subject
// alternative names. A certificate whose identity could be read two ways is refused as a whole:
// more than one CN, a NUL in a CN or SAN, text that is not valid UTF-8 (or, for SANs, not ASCII).
// A C string copy of the first CN would turn `acme\0x` into `acme`; this never truncates.
// The subject's country (C) is read too, for `client_country.from_certificate`: only one C that is
// an assigned ISO 3166-1 alpha-2 code in upper case counts; anything else is no country (the
// certificate is not refused for it: the client country then comes from the address).
//
// Read once per connection, after the handshake. Pure OpenSSL, no sockets.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tenants/tenants.hpp"

namespace sovgw::gateway {

struct client_certificate {
  enum class state : std::uint8_t { none, verified, refused };
  state status = state::none;
  std::string common_name;                             // the one CN, UTF-8 (may be empty)
  std::vector<tenants::certificate_subject> subjects;  // the CN and the SANs, as tenants match them
  std::string refusal;                                 // why a certificate is refused
  std::string country;  // the subject's one C, an assigned ISO 3166-1 code ("DE"); empty: none or invalid
};

// The identity of `cert` (which the TLS stack has verified).
[[nodiscard]] client_certificate read_client_certificate(X509* cert);
// The identity of the peer's certificate on `ssl`: state none without a verified certificate.
[[nodiscard]] client_certificate read_client_certificate(SSL* ssl);

}  // namespace sovgw::gateway
