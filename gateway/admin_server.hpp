#pragma once

// The admin listener (plaintext, loopback by default): /healthz, /readyz, /metrics, and the audit
// maintenance jobs POST /admin/audit/shred and /admin/audit/retain. Runs on worker 0's thread;
// jobs that touch storage run on a thread of their own (shared_state::audit_job).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway/worker.hpp"

namespace sovgw::gateway {

// Serves one admin connection until it closes. Never throws for traffic errors.
boost::asio::awaitable<void> serve_admin_connection(worker& w, tcp::socket socket);

}  // namespace sovgw::gateway
