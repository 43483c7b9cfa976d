#pragma once

// How a request labels its body (RFC 9110 8.3 Content-Type, 8.4 Content-Encoding), read the way
// a strict cluster reads it, so that the gateway inspects a body as what it is.

#include <cstdint>
#include <optional>
#include <string_view>

namespace sovgw::classify {

// A parsed Content-Type value. Views into the value; type, subtype and parameter names are
// case-insensitive.
struct media_type {
  std::string_view type;
  std::string_view subtype;
  std::optional<std::string_view> charset;  // the charset parameter, unquoted
};

// type "/" subtype *( OWS ";" OWS [ parameter ] ), parameter = token "=" ( token / quoted-string ).
// nullopt when the value does not have that shape or names a charset twice.
[[nodiscard]] std::optional<media_type> parse_media_type(std::string_view value) noexcept;

enum class json_media : std::uint8_t {
  json,      // application/json, no charset or charset=utf-8
  not_json,  // another media type (application/jsonx, text/plain, application/x-ndjson, ...)
  not_utf8   // application/json in another charset
};
[[nodiscard]] json_media json_media_of(const media_type& m) noexcept;

// Whether a Content-Encoding value lists only `identity` (or nothing): a body the gateway reads
// as it is sent.
[[nodiscard]] bool identity_encoding(std::string_view value) noexcept;

}  // namespace sovgw::classify
