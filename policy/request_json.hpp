#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/geo_db.hpp"
#include "policy/policy.hpp"

// Requests as JSON, the form `sovgw policy explain --request` and `policy diff --requests` take:
//   {"client.country":"DE", "client.ip":"192.0.2.7", "tenant":"acme", "model":"mistral-large",
//    "path":"/v1/chat/completions", "method":"POST",
//    "data.class.detected":["personal"], "data.class.declared":["public"]}
// Every key is optional; unknown keys and wrong types are errors. `data.class` is read as
// `data.class.detected` (what the gateway found; request_to_json writes the two explicit keys).
// Pure functions.
namespace sovgw::policy {

// The list a request key names: data.class.detected (or data.class), data.class.declared; null for
// any other key. Shared with the policy test files.
[[nodiscard]] std::vector<std::string>* data_class_list(std::string_view key, request_values& request);

[[nodiscard]] std::optional<request_values> parse_request_json(std::string_view json, std::string& error);
// Sets the scalar attribute `key` (client.country, client.ip, tenant, model, path, method) of a
// request to `text`, and says what is wrong with it ("" when nothing), without naming the key:
// the one reading of request values that the JSON requests and the policy test files share.
[[nodiscard]] std::string set_request_value(request_values& request, std::string_view key,
                                            const std::string& text);
// Why `path` is not a path the policy could be asked about ("" when it is one): the gateway decides
// the canonical path, without the query, and refuses a target that is not canonical (docs/http.md)
// before the policy sees it. With `glob`, `*` and `?` are pattern characters (a rule's path).
[[nodiscard]] std::string request_path_problem(std::string_view path, bool glob = false);
// Why `method` is not one a policy matches ("" when it is one of http_methods, upper case as on
// the wire): a request with another would be evaluated, and silently denied.
[[nodiscard]] std::string request_method_problem(std::string_view method);
// What a request names that the gateway could never see with this policy: a data class the policy
// does not define, or one detected that no detector finds (it can only be declared). One message
// each; empty when the request is possible. `policy test`, `explain` and `diff` refuse such requests.
[[nodiscard]] std::vector<std::string> request_class_problems(const snapshot& policy,
                                                              const request_values& request);
// Why the request's client.country contradicts its client.ip ("" when it does not, or when either is
// left out): the gateway derives the country from the address, and a special-purpose address
// (special_purpose.hpp) is always `private`, any other never is. No geo data is needed to tell.
// `policy test`, `explain` and `diff` refuse such requests: the gateway never sees them.
[[nodiscard]] std::string request_origin_problem(const request_values& request);
// What a request leaves out that every request the gateway decides has, where the policy decides on
// it: a method or a path that some rule tests. Without one every such rule fails to match, and the
// decision is one no real request gets (probe round 41: a deny test passed for want of a method,
// the gateway permitted). One message each, naming the rules; empty when nothing is missing or no
// rule tests it. `policy test`, `explain` and `diff` refuse such requests.
[[nodiscard]] std::vector<std::string> request_missing_problems(const snapshot& policy,
                                                                const request_values& request);
[[nodiscard]] std::string request_to_json(const request_values& request);
// One line, `key=value` pairs, for traces.
[[nodiscard]] std::string request_to_text(const request_values& request);

// When the request has a client IP and no client country, fills the country from `geo`.
void geolocate(request_values& request, const geo_db& geo);

}  // namespace sovgw::policy
