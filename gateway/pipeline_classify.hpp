#pragma once

// What the classify stage (gateway/pipeline_classify.cpp) also offers decide: a policy reloaded
// between the two stages may ask for detectors classify did not run, and decide scans again.

#include <cstdint>
#include <string_view>

#include "gateway/http_parser.hpp"
#include "gateway/request_context.hpp"

namespace sovgw::classify {
struct mime_reading;
}  // namespace sovgw::classify

namespace sovgw::gateway {

// The body as JSON: the fields the gateway routes on and what `detectors` find in its decoded
// strings (their places too when `locate`, for redaction); 400 for a body a cluster could read
// differently.
stage_result inspect_json(request_context& ctx, std::uint32_t detectors, bool locate);

// A body that is not JSON on a path that is not a JSON endpoint, read as text in every form a
// server may decode it, its MIME parts too (`parts`: read_mime_body's reading of it, or null to
// read it here); refused when it looks like JSON but is not strict JSON and there are detectors to
// run or, `model_decides` (a policy or tenants' model limits), a model to decide, and when its
// server's MIME reader would decode what the gateway cannot (with detectors to run).
stage_result scan_raw(request_context& ctx, std::uint32_t detectors, bool model_decides,
                      const classify::mime_reading* parts = nullptr);

// The body as its server's MIME reader decodes it, by its Content-Type (classify/multipart.hpp);
// valid until the next call on this thread.
const classify::mime_reading& read_mime_body(const request_context& ctx);

// The detectors that find something in the request target or a forwarded header field.
std::uint32_t scan_head(const http::message_head& head, std::uint32_t detectors);

// Of the `redacted` detectors, those that still find something in the redacted `body`.
std::uint32_t remaining_after_redaction(std::string_view body, std::uint32_t redacted);

}  // namespace sovgw::gateway
