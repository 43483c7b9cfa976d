#pragma once

// OpenSSL's record buffers, recycled per thread. With SSL_MODE_RELEASE_BUFFERS (which keeps an idle
// TLS connection small, gateway/connection.hpp) OpenSSL frees a connection's ~16.5 KiB read and
// write buffers whenever they are empty and allocates them again for the next record: about four
// such pairs per proxied request (both legs), each through malloc's slow path (past its per-thread
// cache) and into memory that is no longer in the CPU cache. The allocator installed here keeps
// up to 16 freed blocks of that size range per thread and hands the most recent back first; every
// other allocation goes to malloc unchanged. Idle connections still hold no buffers.

namespace sovgw::gateway {

// Installs the allocator through CRYPTO_set_mem_functions, which OpenSSL accepts only before its
// first allocation: call it first thing in `serve`. False if OpenSSL had already allocated (the
// default allocator then stays; nothing else changes).
bool install_tls_buffer_cache();

}  // namespace sovgw::gateway
