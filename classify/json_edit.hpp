#pragma once

// Edits of a JSON request body that keep every other byte as the client wrote it. The gateway
// forwards what it inspected: re-serialising a document would rewrite numbers ("1E400" has no
// double; a 31-digit seed loses digits) and collapse repeated nested keys, so that the cluster
// would read something the gateway never saw.
#include <optional>
#include <string>
#include <string_view>

namespace sovgw::classify {

// `body` (an object that json_inspector accepted: strict JSON, no repeated top-level or
// stream_options key) with `stream_options.include_usage` set to true: the member is added to
// stream_options (added itself when absent or null), or its value replaced. nullopt when
// stream_options is neither an object nor null, or the body is not a JSON object.
std::optional<std::string> with_include_usage(std::string_view body);

}  // namespace sovgw::classify
