#pragma once

// The admin listener (plaintext, loopback by default): /healthz, /readyz, /metrics, and the audit
// maintenance jobs POST /admin/audit/shred and /admin/audit/retain, which need the bearer token of
// admin.token_file and are refused to browsers' cross-site requests. Runs on worker 0's thread;
// jobs that touch storage run on a thread of their own (shared_state::audit_job).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "gateway/worker.hpp"

namespace sovgw::gateway {

// The admin token (cfg.admin_token_file) as kept in memory: its SHA-256 digest. Throws
// config_error (files_only, at the key's position) when the file is missing, readable by other
// users, or holds no token of at least 32 characters.
[[nodiscard]] std::string load_admin_token(const config& cfg);

// Serves one admin connection until it closes, keeping `slot` up to date (the accept loop may close
// it while it waits for a request head). Never throws for traffic errors.
boost::asio::awaitable<void> serve_admin_connection(worker& w, tcp::socket socket,
                                                    std::shared_ptr<admin_slot> slot);

}  // namespace sovgw::gateway
