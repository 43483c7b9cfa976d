#pragma once

// OpenSSL contexts for both sides. Control plane only: these throw std::runtime_error with the file
// and the OpenSSL reason when a certificate or key cannot be used.

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "gateway/config.hpp"

namespace sovgw::gateway {

using ssl_ctx_ptr = std::shared_ptr<SSL_CTX>;

// Downstream: TLS 1.2 and 1.3 with the Mozilla "intermediate" profile, ALPN http/1.1, optional
// client-certificate verification. Private keys readable by group or others are refused.
// A certificate outside its validity period (expired, or not yet valid) is refused.
[[nodiscard]] ssl_ctx_ptr make_server_context(const downstream_tls_config& tls);
// The server certificate's notAfter, in seconds since the epoch (0 when unknown).
[[nodiscard]] std::int64_t certificate_not_after(const ssl_ctx_ptr& ctx);

// Upstream, one per cluster: verification always on (CA file or the system store), TLS 1.2+,
// optional client certificate (mTLS). Returns null for an insecure_loopback_plaintext cluster.
[[nodiscard]] ssl_ctx_ptr make_client_context(const cluster_config& cluster);

// Refuses a private key file that group or others can read (throws std::runtime_error).
void check_private_key_permissions(const std::string& path);

}  // namespace sovgw::gateway
