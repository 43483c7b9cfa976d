#pragma once

// One downstream connection: TLS handshake, then requests one after another (keep-alive), each
// through the named stages accept -> read -> identify -> classify -> decide -> route -> forward ->
// relay -> record. Runs entirely on its worker's thread.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway/worker.hpp"

namespace sovgw::gateway {

// Serves a freshly accepted socket until the connection ends. Never throws for traffic errors.
asio::awaitable<void> serve_connection(worker& w, tcp::socket socket);

// The admin listener's connections (plaintext, loopback by default): /healthz, /readyz, /metrics.
asio::awaitable<void> serve_admin_connection(worker& w, tcp::socket socket);

}  // namespace sovgw::gateway
