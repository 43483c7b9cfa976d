#include "gateway/field_names.hpp"

#include <array>
#include <cstddef>

#include "common/ascii.hpp"

namespace sovgw::http {

namespace {

struct known {
  std::string_view name;  // lower case
  field_id id;
};

// Every name the gateway acts on, ordered by length (the lookup scans one length's names).
constexpr known names[] = {
    {"te", field_id::te},
    {"host", field_id::host},
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

bool has_prefix(std::string_view name, std::string_view prefix) {
  return name.size() > prefix.size() && ascii_iequals(name.substr(0, prefix.size()), prefix);
}

}  // namespace

field_id identify_field(std::string_view name) noexcept {
  if (name.empty()) {
    return field_id::other;
  }
  const char first = ascii_lower(name.front());
  if (name.size() <= longest) {
    for (std::size_t i = first_of_length[name.size()]; i < first_of_length[name.size() + 1]; ++i) {
      if (names[i].name.front() == first && ascii_iequals(name, names[i].name)) {
        return names[i].id;
      }
    }
  }
  if (first == 's' && name.size() >= 10 && ascii_iequals(name.substr(0, 10), "sovereign-")) {
    return field_id::sovereign_other;
  }
  if (first == 'p' && has_prefix(name, "proxy-")) {
    return field_id::proxy_other;
  }
  return field_id::other;
}

}  // namespace sovgw::http
