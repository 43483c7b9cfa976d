#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policy/geo_db.hpp"
#include "policy/policy.hpp"

// Requests as JSON, the form `sovgw policy explain --request` and `policy diff --requests` take:
//   {"client.country":"DE", "client.ip":"192.0.2.7", "tenant":"acme", "model":"mistral-large",
//    "path":"/v1/chat/completions", "method":"POST", "data.class":["personal"]}
// Every key is optional; unknown keys and wrong types are errors. Pure functions.
namespace sovgw::policy {

[[nodiscard]] std::optional<request_values> parse_request_json(std::string_view json, std::string& error);
[[nodiscard]] std::string request_to_json(const request_values& request);
// One line, `key=value` pairs, for traces.
[[nodiscard]] std::string request_to_text(const request_values& request);

// When the request has a client IP and no client country, fills the country from `geo`.
void geolocate(request_values& request, const geo_db& geo);

}  // namespace sovgw::policy
