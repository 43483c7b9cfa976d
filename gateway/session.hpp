#pragma once

// One downstream connection: TLS handshake, then requests one after another (keep-alive), each
// through the named stages accept -> read -> identify -> classify -> decide -> route -> forward ->
// relay -> record (session::handle_one). Runs entirely on its worker's thread.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway/worker.hpp"

namespace sovgw::gateway {

// Handshakes a freshly accepted socket, then hands it to a session that lives (parked between
// requests, on its own shared_ptr) until the connection ends; returns after the handshake. Never
// throws for traffic errors.
asio::awaitable<void> serve_connection(worker& w, tcp::socket socket);

}  // namespace sovgw::gateway
