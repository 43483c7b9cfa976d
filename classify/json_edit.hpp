#pragma once

// Edits of JSON text that keep every other byte as its writer wrote it (a client's request body,
// a cluster's stream event). The gateway forwards what it inspected: re-serialising a document
// would rewrite numbers ("1E400" has no double; a 31-digit seed loses digits) and collapse
// repeated nested keys, so that the cluster would read something the gateway never saw.
#include <optional>
#include <string>
#include <string_view>

namespace sovgw::classify {

// `body` (an object that json_inspector accepted: strict JSON, no repeated top-level or
// stream_options key) with `stream_options.include_usage` set to true: the member is added to
// stream_options (added itself when absent or null), or its value replaced. nullopt when
// stream_options is neither an object nor null, or the body is not a JSON object.
std::optional<std::string> with_include_usage(std::string_view body);

// `body` (a JSON object's text that parses) without every top-level member named `name` (its key
// compared decoded: an escaped spelling or a repeated key too), every other byte as it was; the
// gateway takes out of a cluster's stream event the usage it asked for and the client did not.
// nullopt when it has no such member, or is not an object.
std::optional<std::string> without_member(std::string_view body, std::string_view name);

}  // namespace sovgw::classify
