#pragma once

// relay: the cluster's answer back to the client, one chunk in flight. A slow client makes the
// write wait, and nothing more is read from the cluster until it completes (backpressure). Each
// wait has the per-chunk timeouts.stream_idle only; a healthy stream has no overall deadline.
// The last bytes of the answer go out only once the request's audit record is durable
// (request_recorder::make_durable); if it cannot be, the answer is cut short (fail closed).

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "gateway/connection.hpp"
#include "gateway/forward.hpp"
#include "gateway/request_context.hpp"
#include "gateway/request_recorder.hpp"

namespace sovgw::gateway {

struct relay_result {
  next_step step = next_step::close;
  bool upstream_reusable = false;  // the cluster's connection ended cleanly at a message boundary
  // The cluster's answer failed before any byte of it reached the client: the client gets the
  // gateway's own error for `unanswered_message` (ctx.result says which), not a closed connection.
  std::string unanswered_message;
};

// Writes the client's response head and streams the body, by the cluster's framing. `keep_alive`:
// whether the client connection may serve another request afterwards.
[[nodiscard]] boost::asio::awaitable<relay_result> relay(request_context& ctx, upstream_exchange& exchange,
                                                         connection& client, const request_recorder& recorder,
                                                         milliseconds idle, bool keep_alive);

}  // namespace sovgw::gateway
